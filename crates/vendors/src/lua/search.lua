-- Nearest vendors, walked outwards: GEOSEARCH in a small circle first and wider ones only
-- while fewer than `limit` were found, so a dense city costs tens of members read, not
-- every vendor within the radius. ARGV: T, lon, lat, radius (mi), limit, statuses csv,
-- capability or 'any', first radius (mi), with documents (1/0), cells csv.
-- Returns {0} when the index cannot answer (not built, incomplete, or a key lost), else
-- {1, generation, built_at, ids, distances, documents, cell counters}.
local m = redis.call('HMGET', META, 'cur', 'complete', 'built_at')
if m[2] ~= '1' or not m[1] then return {0} end
local g = m[1]
local statuses, cap = split(ARGV[6]), ARGV[7]
local want_docs = ARGV[9] == '1'
for _, st in ipairs(statuses) do
  if redis.call('EXISTS', gset(g, st, cap)) == 0 then return {0} end
end
if want_docs and redis.call('EXISTS', gen_key(g, 'doc')) == 0 then return {0} end
local lon, lat = ARGV[2], ARGV[3]
local radius, limit, first = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[8])
-- Every status set is walked at the same radius, and the walk stops as soon as all of them
-- together hold `limit` members inside it: the nearest `limit` overall are then inside it
-- too. (Walking each set on its own would widen a sparse set's circle, busy or offline, to
-- the whole radius and read every such member in it.)
local keys = {}
for i, st in ipairs(statuses) do keys[i] = gset(g, st, cap) end
local rows
local r = math.min(radius, first)
while true do
  rows = {}
  for _, key in ipairs(keys) do
    local found = redis.call('GEOSEARCH', key, 'FROMLONLAT', lon, lat, 'BYRADIUS', r, 'mi',
      'ASC', 'COUNT', limit + 1, 'WITHDIST')
    local kept = 0
    for _, row in ipairs(found) do
      if row[1] ~= SENTINEL and kept < limit then
        rows[#rows + 1] = row
        kept = kept + 1
      end
    end
  end
  if #rows >= limit or r >= radius then break end
  r = math.min(radius, r * 4)
end
if #keys > 1 then
  table.sort(rows, function(a, b) return tonumber(a[2]) < tonumber(b[2]) end)
end
local ids, dists = {}, {}
for i = 1, math.min(limit, #rows) do
  ids[i] = rows[i][1]
  dists[i] = rows[i][2]
end
local docs = {}
if want_docs and #ids > 0 then docs = redis.call('HMGET', gen_key(g, 'doc'), unpack(ids)) end
local gens = {}
local cells = split(ARGV[10])
if #cells > 0 then
  local fields = {}
  for i, c in ipairs(cells) do fields[i] = 'c:' .. c end
  gens = redis.call('HMGET', META, unpack(fields))
  for i = 1, #cells do gens[i] = gens[i] or '0' end
end
return {1, g, m[3] or '0', ids, dists, docs, gens}
