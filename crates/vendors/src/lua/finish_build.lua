-- Verifies a built generation and makes it live. ARGV: T, token, generation, vendors read
-- from the database, build milliseconds.
-- Returns {-1} when the lease is no longer this builder's, {0, indexed, placed} when the
-- generation does not hold what was loaded (evicted or lost meanwhile), else
-- {1, previous generation or ''}.
local lease = T .. ':lease'
if redis.call('GET', lease) ~= ARGV[2] then return {-1} end
local g = ARGV[3]
local indexed = redis.call('HLEN', gen_key(g, 'st')) - 1
local documents = redis.call('HLEN', gen_key(g, 'doc')) - 1
local placed = redis.call('SCARD', gen_key(g, 'polar'))
-- The cell counters must have survived too (their sentinel makes a loss visible).
if redis.call('HEXISTS', CELLS, SENTINEL) == 0 then return {0, indexed, -1} end
-- Every placed vendor is in the 'any' scope's set; the available set must exist too.
if redis.call('ZCARD', gset(g, AVAILABLE, ANY)) == 0 then return {0, indexed, -1} end
local everyone = redis.call('ZCARD', gset(g, ANY, ANY))
if everyone == 0 then return {0, indexed, -1} end
placed = placed + everyone - 1
if indexed < tonumber(ARGV[4]) or documents ~= indexed or placed ~= indexed then
  return {0, indexed, placed}
end
local previous = redis.call('HGET', META, 'cur') or ''
local now = redis.call('TIME')
redis.call('HSET', META, 'cur', g, 'complete', '1', 'count', indexed,
  'built_at', now[1] * 1000 + math.floor(now[2] / 1000), 'build_ms', ARGV[5])
redis.call('HDEL', META, 'building')
redis.call('DEL', lease)
return {1, previous}
