-- wrk script: what-if coverage questions of every kind, each with a random radius (1,000–3,000 m) and now and then
-- cross coverage (min_sites 2), so that nearly every answer is computed afresh and kept: a county's coverage, its
-- gaps, the city table, and the map's what-if tiles around Binzhou. The soak watches that memory stays bounded.
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local counties = {"371602", "371603", "371621", "371622", "371623", "371625", "371681"}
local tiles = {{8, 211, 99}, {9, 423, 198}, {10, 847, 397}}

local function what_if()
  local query = string.format("radius_m=%d", math.random(1000, 3000))
  if math.random() < 0.25 then
    query = query .. "&min_sites=2"
  end
  return query
end

request = function()
  local county = counties[math.random(#counties)]
  local pick = math.random(5)
  local path
  if pick == 1 then
    path = string.format("/v1/coverage/regions/%s?kind=legal_aid&%s", county, what_if())
  elseif pick == 2 then
    path = string.format("/v1/coverage/regions/%s/gaps?kind=legal_aid&%s", county, what_if())
  elseif pick == 3 then
    path = string.format("/v1/coverage/regions/371600/children?kind=outdoor_station&%s", what_if())
  else
    local tile = tiles[math.random(#tiles)]
    local layer = ({"regions", "catchments", "gaps"})[math.random(3)]
    path = string.format("/v1/tiles/%s/%d/%d/%d.mvt?kind=legal_aid&%s", layer, tile[1], tile[2], tile[3], what_if())
  end
  return wrk.format("GET", path)
end
