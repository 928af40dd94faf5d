-- wrk script: the coverage table of a city under a random radius rule (1,500–2,500 m) each time, so that almost
-- every request is evaluated afresh rather than answered from the cache kept per register state.
-- PATH_TEMPLATE is set by bench/soak.py, e.g. "/v1/coverage/regions/371600/children?radius_m=%d".
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local template = os.getenv("PATH_TEMPLATE")

request = function()
  return wrk.format("GET", string.format(template, math.random(1500, 2500)))
end
