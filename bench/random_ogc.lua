-- wrk script for bench/ogc.py: OGC requests over eastern China, the same for every server.
-- PATH_TEMPLATE has {minlon},{minlat},{maxlon},{maxlat} (MODE=bbox, a BOX_DEGREES square), {id} (MODE=item, ids one a
-- line in IDS_FILE) or {z},{x},{y} (MODE=tile, zoom ZOOM_MIN..ZOOM_MAX).
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local template = os.getenv("PATH_TEMPLATE")
local mode = os.getenv("MODE")
local box = tonumber(os.getenv("BOX_DEGREES") or "0.1")
local zoom_min = tonumber(os.getenv("ZOOM_MIN") or "10")
local zoom_max = tonumber(os.getenv("ZOOM_MAX") or "14")
local ids = {}
if mode == "item" then
  for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
end

local function east()
  return 110 + math.random() * 12, 22 + math.random() * 18
end

local function fill(values)
  return (template:gsub("{(%w+)}", function(key) return tostring(values[key]) end))
end

request = function()
  local path
  if mode == "bbox" then
    local lon, lat = east()
    path = fill({minlon = lon, minlat = lat, maxlon = lon + box, maxlat = lat + box})
  elseif mode == "item" then
    path = fill({id = ids[math.random(#ids)]})
  else
    local lon, lat = east()
    local z = math.random(zoom_min, zoom_max)
    local n = 2 ^ z
    local x = math.floor((lon + 180) / 360 * n)
    local rad = math.rad(lat)
    local y = math.floor((1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n)
    path = fill({z = z, x = x, y = y})
  end
  return wrk.format("GET", path)
end
