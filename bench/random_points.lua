-- wrk script: every request asks for the nearest sites from a random point, 80 % in eastern China.
-- PATH_TEMPLATE is set by bench/nearest.py, e.g. "/v1/sites/nearest?lat=%f&lon=%f".
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local template = os.getenv("PATH_TEMPLATE")

request = function()
  local lon, lat
  if math.random() < 0.8 then
    lon, lat = 110 + math.random() * 12, 22 + math.random() * 18
  else
    lon, lat = 90 + math.random() * 30, 25 + math.random() * 20
  end
  return wrk.format("GET", string.format(template, lat, lon))
end
