//! Lua scripts of the vendor geo index. Every key a script touches shares the region's
//! hash tag, so each script runs on one node, atomically, in cluster mode too.
//!
//! Layout under `T = <prefix>:{geo:<region>}` (passed as ARGV[1]):
//! `T:p:<id>` profile bytes; `T:s:<id>` live state hash (`a` status, `i` incident,
//! `c` capabilities csv, `lon`, `lat`, `cell`), with the profile's TTL;
//! `T:g:<status>:<capability|any>` geo sets; `T:cells` hash of per-cell generations;
//! `T:q:<params>` cached search results.

const COMMON: &str = r#"
local T = ARGV[1]
local STATUSES = {'available', 'busy', 'offline'}
local CAPS = {'tire', 'engine', 'tow', 'fuel', 'lockout', 'jumpstart', 'any'}
local function skey(id) return T .. ':s:' .. id end
local function pkey(id) return T .. ':p:' .. id end
local function gkey(st, cap) return T .. ':g:' .. st .. ':' .. cap end
local function caps_of(csv)
  local t = {}
  for c in string.gmatch(csv or '', '[^,]+') do t[#t + 1] = c end
  t[#t + 1] = 'any'
  return t
end
local function split(s)
  local t = {}
  for w in string.gmatch(s or '', '[^,]+') do t[#t + 1] = w end
  return t
end
local function unindex(id, st, csv)
  for _, c in ipairs(caps_of(csv)) do redis.call('ZREM', gkey(st, c), id) end
end
local function purge(id)
  for _, st in ipairs(STATUSES) do
    for _, c in ipairs(CAPS) do redis.call('ZREM', gkey(st, c), id) end
  end
end
local function index(id, st, csv, lon, lat)
  for _, c in ipairs(caps_of(csv)) do redis.call('GEOADD', gkey(st, c), lon, lat, id) end
end
local function bump(cell)
  if cell and cell ~= '' then redis.call('HINCRBY', T .. ':cells', cell, 1) end
end
-- A geo member is live only if its state exists, has the set's status and offers the
-- set's capability; anything else is left over from an expired or changed profile.
local function live(id, st, cap)
  local s = redis.call('HMGET', skey(id), 'a', 'c')
  if s[1] ~= st then return false end
  if cap == 'any' then return true end
  return string.find(',' .. (s[2] or '') .. ',', ',' .. cap .. ',', 1, true) ~= nil
end
-- GEOSEARCH that drops (and deletes) dead members, retrying until `count` live ones
-- are found or the area is exhausted; each retry has strictly fewer dead members.
local function live_search(st, cap, lon, lat, radius, unit, count)
  local key = gkey(st, cap)
  while true do
    local rows = redis.call('GEOSEARCH', key, 'FROMLONLAT', lon, lat, 'BYRADIUS', radius, unit,
      'ASC', 'COUNT', count, 'WITHDIST', 'WITHCOORD')
    local kept, dead = {}, 0
    for _, row in ipairs(rows) do
      if live(row[1], st, cap) then
        kept[#kept + 1] = {row[1], row[2], row[3][1], row[3][2], st}
      else
        redis.call('ZREM', key, row[1])
        dead = dead + 1
      end
    end
    if dead == 0 or #rows < count then return kept end
  end
end
"#;

/// ARGV: T, id, profile, ttl_ms, status, incident, caps_csv, lon, lat, cell.
const PUT: &str = r#"
local id = ARGV[2]
local sk = skey(id)
local old = redis.call('HMGET', sk, 'a', 'c', 'cell')
if old[1] then unindex(id, old[1], old[2]); bump(old[3]) else purge(id) end
redis.call('SET', pkey(id), ARGV[3], 'PX', ARGV[4])
redis.call('DEL', sk)
redis.call('HSET', sk, 'a', ARGV[5], 'i', ARGV[6], 'c', ARGV[7], 'lon', ARGV[8], 'lat', ARGV[9], 'cell', ARGV[10])
redis.call('PEXPIRE', sk, ARGV[4])
index(id, ARGV[5], ARGV[7], ARGV[8], ARGV[9])
bump(ARGV[10])
return 1
"#;

/// ARGV: T, id, lon, lat, cell. Returns 0 when the vendor is not cached.
const LOCATION: &str = r#"
local id = ARGV[2]
local sk = skey(id)
local s = redis.call('HMGET', sk, 'a', 'c', 'cell')
if not s[1] then return 0 end
index(id, s[1], s[2], ARGV[3], ARGV[4])
redis.call('HSET', sk, 'lon', ARGV[3], 'lat', ARGV[4], 'cell', ARGV[5])
if s[3] ~= ARGV[5] then bump(s[3]) end
bump(ARGV[5])
return 1
"#;

/// ARGV: T, id, status, incident, expected status or ''. Returns 0 when the vendor is
/// not cached, -1 when its status is not the expected one, 1 when changed.
const AVAILABILITY: &str = r#"
local id = ARGV[2]
local sk = skey(id)
local s = redis.call('HMGET', sk, 'a', 'c', 'cell', 'lon', 'lat')
if not s[1] then return 0 end
if ARGV[5] ~= '' and s[1] ~= ARGV[5] then return -1 end
if s[1] ~= ARGV[3] then
  unindex(id, s[1], s[2])
  index(id, ARGV[3], s[2], s[4], s[5])
end
redis.call('HSET', sk, 'a', ARGV[3], 'i', ARGV[4])
bump(s[3])
return 1
"#;

/// ARGV: T, id... Removes vendors from the index and deletes profile and state.
const REMOVE: &str = r#"
local n = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local s = redis.call('HMGET', skey(id), 'a', 'c', 'cell')
  if s[1] then unindex(id, s[1], s[2]); bump(s[3]); n = n + 1 else purge(id) end
  redis.call('DEL', skey(id), pkey(id))
end
return n
"#;

/// ARGV: T, lon, lat, radius, unit, limit, statuses csv, capability|any, cells csv.
/// Returns {rows, generations of the cells at the time of the search}.
const SEARCH: &str = r#"
local limit = tonumber(ARGV[6])
local all = {}
for _, st in ipairs(split(ARGV[7])) do
  for _, row in ipairs(live_search(st, ARGV[8], ARGV[2], ARGV[3], ARGV[4], ARGV[5], limit)) do
    all[#all + 1] = row
  end
end
table.sort(all, function(a, b) return tonumber(a[2]) < tonumber(b[2]) end)
local out = {}
for i = 1, math.min(limit, #all) do out[i] = all[i] end
local gens = {}
local cells = split(ARGV[9])
if #cells > 0 then
  local cur = redis.call('HMGET', T .. ':cells', unpack(cells))
  for i = 1, #cells do gens[i] = cur[i] or '0' end
end
return {out, gens}
"#;

/// KEYS[1]: cached search. ARGV: T. Returns the cached body, or false when absent or
/// outdated (a cell changed since, or a listed vendor expired); outdated entries are deleted.
const SEARCH_CACHED: &str = r#"
local e = redis.call('HMGET', KEYS[1], 'cells', 'gens', 'ids', 'body')
if not e[4] then return false end
local cells, gens = split(e[1]), split(e[2])
if #cells > 0 then
  local cur = redis.call('HMGET', T .. ':cells', unpack(cells))
  for i = 1, #cells do
    if (cur[i] or '0') ~= gens[i] then redis.call('DEL', KEYS[1]); return false end
  end
end
for _, id in ipairs(split(e[3])) do
  if redis.call('EXISTS', skey(id)) == 0 then redis.call('DEL', KEYS[1]); return false end
end
return e[4]
"#;

/// ARGV: T, lon, lat, radius, unit, capability|any, incident. Atomically takes the nearest
/// live available vendor and marks it busy with the incident; returns
/// {id, dist, lon, lat} or false.
const CLAIM: &str = r#"
local rows = live_search('available', ARGV[6], ARGV[2], ARGV[3], ARGV[4], ARGV[5], 1)
local row = rows[1]
if not row then return false end
local id = row[1]
local sk = skey(id)
local s = redis.call('HMGET', sk, 'c', 'cell')
unindex(id, 'available', s[1])
index(id, 'busy', s[1], row[3], row[4])
redis.call('HSET', sk, 'a', 'busy', 'i', ARGV[7])
bump(s[2])
return {id, row[2], row[3], row[4]}
"#;

/// A script and its source, kept to re-load it when a pipelined `EVALSHA` meets NOSCRIPT.
pub(crate) struct LuaScript {
    pub(crate) script: redis::Script,
    pub(crate) source: String,
}

pub(crate) struct Scripts {
    pub(crate) put: LuaScript,
    pub(crate) location: LuaScript,
    pub(crate) availability: LuaScript,
    pub(crate) remove: LuaScript,
    pub(crate) search: LuaScript,
    pub(crate) search_cached: LuaScript,
    pub(crate) claim: LuaScript,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        let make = |body: &str| {
            let source = format!("{COMMON}\n{body}");
            LuaScript {
                script: redis::Script::new(&source),
                source,
            }
        };
        Self {
            put: make(PUT),
            location: make(LOCATION),
            availability: make(AVAILABILITY),
            remove: make(REMOVE),
            search: make(SEARCH),
            search_cached: make(SEARCH_CACHED),
            claim: make(CLAIM),
        }
    }
}
