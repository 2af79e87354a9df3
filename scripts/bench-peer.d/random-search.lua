-- wrk script: every request searches from a new random point within ±0.3° of downtown
-- Los Angeles (34.05, -118.24), 50 miles, limit 10, so no result cache can answer it.
-- Extra query parameters come as the script's argument: wrk ... -s random-search.lua URL -- '&capability=tow'
local extra = ""

function init(args)
  extra = args[1] or ""
  -- A different sequence per thread and per run.
  math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1e6))
end

function request()
  local lat = 34.05 + (math.random() * 0.6 - 0.3)
  local lon = -118.24 + (math.random() * 0.6 - 0.3)
  return wrk.format("GET", string.format(
    "/vendors/search?lat=%.5f&lon=%.5f&radius=50&limit=10%s", lat, lon, extra))
end
