-- Starts a rebuild if nobody holds the lease. ARGV: T, token, lease ms.
-- Returns {0} when another builder holds it, else {1, new generation, abandoned
-- generation or ''}: the new generation exists at once with its sentinels and receives
-- every live write from now on, so the builder's reads of the database (which start after
-- this) cannot miss one.
local lease = T .. ':lease'
if not redis.call('SET', lease, ARGV[2], 'NX', 'PX', ARGV[3]) then return {0} end
local abandoned = redis.call('HGET', META, 'building') or ''
local g = tostring(redis.call('HINCRBY', META, 'next', 1))
redis.call('HSET', META, 'building', g)
for _, sc in ipairs(SCOPES) do
  for _, c in ipairs(CAPS) do redis.call('GEOADD', gset(g, sc, c), 0, -85.05, SENTINEL) end
end
redis.call('HSETNX', CELLS, SENTINEL, '0')
redis.call('HSET', gen_key(g, 'st'), SENTINEL, '0|sentinel||0|')
redis.call('HSET', gen_key(g, 'doc'), SENTINEL, '{}')
return {1, g, abandoned}
