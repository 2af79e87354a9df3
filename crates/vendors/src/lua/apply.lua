-- Applies committed vendor rows to the index. ARGV[2]: the generation to write, or ''
-- for the live ones (cur and, while a rebuild runs, building). Then 9 values per vendor:
-- id, version, status, caps csv, lon, lat, geo flag (0 = polar), cell, document.
-- A row whose version is not newer than the indexed one is ignored, so writes may land in
-- any order and a rebuild's older reads never overwrite a newer write.
-- Returns how many (vendor, generation) pairs changed.
local gens = {}
if ARGV[2] ~= '' then
  gens[1] = ARGV[2]
else
  local m = redis.call('HMGET', META, 'cur', 'building')
  if m[1] then gens[#gens + 1] = m[1] end
  if m[2] and m[2] ~= m[1] then gens[#gens + 1] = m[2] end
end
local changed = 0
for i = 3, #ARGV, 9 do
  local id, ver, st, caps = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3]
  local lon, lat, geo, cell, doc = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8]
  for _, g in ipairs(gens) do
    local stkey = gen_key(g, 'st')
    local old = redis.call('HGET', stkey, id)
    local newer = true
    if old then
      local over, ost, ocaps, ogeo, ocell = string.match(old, '^(%d+)|(%a+)|([^|]*)|(%d)|(.*)$')
      if tonumber(over) >= ver then
        newer = false
      else
        if ogeo == '1' then
          for _, sc in ipairs(ost == AVAILABLE and SCOPES or {ANY}) do
            redis.call('ZREM', gset(g, sc, ANY), id)
            for _, c in ipairs(split(ocaps)) do redis.call('ZREM', gset(g, sc, c), id) end
          end
        else
          redis.call('SREM', gen_key(g, 'polar'), id)
        end
        if ocell ~= cell then redis.call('HINCRBY', CELLS, ocell, 1) end
      end
    end
    if newer then
      redis.call('HSET', stkey, id, ver .. '|' .. st .. '|' .. caps .. '|' .. geo .. '|' .. cell)
      redis.call('HSET', gen_key(g, 'doc'), id, doc)
      if geo == '1' then
        for _, sc in ipairs(st == AVAILABLE and SCOPES or {ANY}) do
          redis.call('GEOADD', gset(g, sc, ANY), lon, lat, id)
          for _, c in ipairs(split(caps)) do redis.call('GEOADD', gset(g, sc, c), lon, lat, id) end
        end
      else
        redis.call('SADD', gen_key(g, 'polar'), id)
      end
      redis.call('HINCRBY', CELLS, cell, 1)
      changed = changed + 1
    end
  end
end
return changed
