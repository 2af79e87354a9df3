-- Shared by every vendor index script; the Rust side prepends the vocabulary
-- (T, AVAILABLE, ANY, SCOPES, CAPS, SENTINEL) generated from the vendors crate's types.
--
-- Keys under T (one hash tag, so one cluster slot and atomic scripts):
--   T:meta   hash: cur (live generation), complete (1 once verified), building (generation
--            being built), next (generation counter), built_at / build_ms / count of cur
--   T:cells  hash: <cell> -> change counter of that 1-degree cell (the search-result tier's
--            validators), apart from T:meta so that the hash every search reads stays a
--            few fields (a listpack of hundreds of cells is scanned field by field);
--            its SENTINEL field makes a lost hash visible
--   T:lease  the rebuild lease (one builder per fleet)
--   T:<g>:st     hash id -> "version|status|caps csv|geo flag|cell"
--   T:<g>:doc    hash id -> the vendor document (JSON)
--   T:<g>:polar  set of ids Redis cannot place (|lat| > 85.05112878)
--   T:<g>:g:<scope>:<capability|any>  geo sets: scope 'available' holds exactly the
--            available vendors, scope 'any' every placed vendor whatever its status (one set
--            to walk for availableOnly=false, instead of one per status merged in Lua)
-- Every generation's geo sets and hashes hold SENTINEL from birth, so an absent key means
-- Redis lost it (eviction, FLUSH), never "no vendor there".
local META = T .. ':meta'
local CELLS = T .. ':cells'
local function gen_key(g, suffix) return T .. ':' .. g .. ':' .. suffix end
local function gset(g, st, cap) return T .. ':' .. g .. ':g:' .. st .. ':' .. cap end
local function split(s)
  local t = {}
  for w in string.gmatch(s or '', '[^,]+') do t[#t + 1] = w end
  return t
end
