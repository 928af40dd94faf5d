-- wrk script: nearest from a random point of the 黄浦区 road extract (121.462–121.486 E, 31.220–31.241 N).
-- PATH_TEMPLATE is set by bench/roads.py, e.g. "/v1/sites/nearest?lat=%f&lon=%f&mode=walk".
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local template = os.getenv("PATH_TEMPLATE")

request = function()
  local lon, lat = 121.462 + math.random() * 0.024, 31.220 + math.random() * 0.021
  return wrk.format("GET", string.format(template, lat, lon))
end
