-- Gives up a rebuild: forgets the generation and frees the lease if they are still this
-- builder's. ARGV: T, token, generation. Returns 1 when the lease was held.
local lease = T .. ':lease'
if redis.call('GET', lease) ~= ARGV[2] then return 0 end
if redis.call('HGET', META, 'building') == ARGV[3] then redis.call('HDEL', META, 'building') end
redis.call('DEL', lease)
return 1
