-- wrk script: every request is a visit at a random station's door (TOKENS_FILE: one door token a line), from a new
-- random client (X-Client-Id), with a random worker group; it counts the answers that say the visit was counted (201).
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local groups = {"sanitation", "courier", "delivery_rider", "taxi_driver", "truck_driver", "traffic_auxiliary",
                "construction", "other"}
local threads = {}
counted = 0

function setup(thread)
  table.insert(threads, thread)
end

request = function()
  local body = string.format('{"token":"%s","worker_group":"%s"}', tokens[math.random(#tokens)],
                             groups[math.random(#groups)])
  local client = string.format("%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
  return wrk.format("POST", "/v1/visits", {["Content-Type"] = "application/json", ["X-Client-Id"] = client}, body)
end

response = function(status, headers, body)
  if status == 201 then counted = counted + 1 end
end

done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("counted") end
  io.write(string.format("counted: %d\n", total))
end
