-- The nearest-first walk's cost in Redis alone, for choosing its first radius and growth
-- (docs/PERFORMANCE.md, "Session 4"). Runs N walks from pseudo-random points within ±0.3° of
-- downtown Los Angeles (50 mi, limit 10, the benchmark's uncached search) inside one EVAL,
-- so the wall time of the call divided by N is Redis's cost per walk, with no network.
-- Against the index of a running `scripts/bench-peer --hold` (its Redis port is printed):
--
--   K='rc:{vendors:default}:1:g'   # <prefix>:{vendors:<region>}:<generation>:g
--   redis-cli -p PORT EVAL "$(cat scripts/bench-peer.d/walk-variants.lua)" 0 5000 "$K:any:any" 2 x2
--   ARGV: N, geo keys (csv: several are walked in step, as the index once did), first
--   radius (mi), growth (x2 or x4). Returns the number of GEOSEARCH steps taken in all.
local n = tonumber(ARGV[1])
local keys = {}
for w in string.gmatch(ARGV[2], '[^,]+') do keys[#keys + 1] = w end
local first, factor = tonumber(ARGV[3]), (ARGV[4] == 'x4') and 4 or 2
local limit, radius, steps = 10, 50, 0
local seed = 12345
local function rnd()
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
end
for _ = 1, n do
  local lat = 34.05 + (rnd() * 0.6 - 0.3)
  local lon = -118.24 + (rnd() * 0.6 - 0.3)
  local r = math.min(radius, first)
  while true do
    local rows = 0
    for _, key in ipairs(keys) do
      local found = redis.call('GEOSEARCH', key, 'FROMLONLAT', lon, lat, 'BYRADIUS', r, 'mi',
        'ASC', 'COUNT', limit + 1, 'WITHDIST')
      rows = rows + math.min(#found, limit)
    end
    steps = steps + 1
    if rows >= limit or r >= radius then break end
    r = math.min(radius, r * factor)
  end
end
return steps
