-- Nearest vendors, walked outwards: GEOSEARCH in a small circle first and, while fewer
-- than `limit` were found, in circles twice as wide, so a dense city costs tens of members
-- read, not every vendor within the radius. (Doubling beats quadrupling: GEOSEARCH reads
-- every member of the geohash boxes around its circle before COUNT applies, so
-- overshooting the needed radius costs more than one more small step.)
-- ARGV: T, lon, lat, radius (mi), limit, scope ('available' or 'any'), capability or
-- 'any', first radius (mi), with documents (1/0), cells csv.
-- Returns {0} when the index cannot answer (not built, incomplete, or a key lost), else
-- {1, generation, built_at, ids, distances, documents, cell counters}.
local m = redis.call('HMGET', META, 'cur', 'complete', 'built_at')
if m[2] ~= '1' or not m[1] then return {0} end
local g = m[1]
local key = gset(g, ARGV[6], ARGV[7])
local want_docs = ARGV[9] == '1'
if redis.call('EXISTS', key) == 0 then return {0} end
if want_docs and redis.call('EXISTS', gen_key(g, 'doc')) == 0 then return {0} end
local lon, lat = ARGV[2], ARGV[3]
local radius, limit, first = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[8])
local ids, dists = {}, {}
local r = math.min(radius, first)
while true do
  -- One more than `limit`: the sentinel may be among them (it sits at -85.05°, so only
  -- a circle reaching it can see it).
  local found = redis.call('GEOSEARCH', key, 'FROMLONLAT', lon, lat, 'BYRADIUS', r, 'mi',
    'ASC', 'COUNT', limit + 1, 'WITHDIST')
  ids, dists = {}, {}
  for _, row in ipairs(found) do
    if row[1] ~= SENTINEL and #ids < limit then
      ids[#ids + 1] = row[1]
      dists[#dists + 1] = row[2]
    end
  end
  if #ids >= limit or r >= radius then break end
  r = math.min(radius, r * 2)
end
local docs = {}
if want_docs and #ids > 0 then docs = redis.call('HMGET', gen_key(g, 'doc'), unpack(ids)) end
local gens = {}
local cells = split(ARGV[10])
if #cells > 0 then
  -- Counters read from a lost hash would restart at 0 and could equal a kept answer's
  -- again: without the sentinel the index cannot vouch for them.
  local read = redis.call('HMGET', CELLS, SENTINEL, unpack(cells))
  if not read[1] then return {0} end
  for i = 1, #cells do gens[i] = read[i + 1] or '0' end
end
return {1, g, m[3] or '0', ids, dists, docs, gens}
