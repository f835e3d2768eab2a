-- wrk script: send DEPTH requests back to back on each connection (HTTP/1.1 pipelining).
-- usage: wrk -s bench/pipeline.lua URL -- DEPTH
init = function(args)
  local depth = tonumber(args[1]) or 16
  local requests = {}
  for i = 1, depth do requests[i] = wrk.format() end
  pipelined = table.concat(requests)
end

request = function()
  return pipelined
end
