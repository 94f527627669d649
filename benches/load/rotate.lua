-- wrk script: GET the paths listed in $PATHS_FILE (one a line) in turn, with the mock's
-- default API key. Each thread starts at its own place, far from the others': wrk's
-- threads each seed Lua's generator alike, so a random start would be the same start,
-- and the threads would read each path within moments of one another.
local f = assert(io.open(os.getenv("PATHS_FILE")), "PATHS_FILE: a file of paths, one a line")
paths = {}
for line in f:lines() do paths[#paths + 1] = line end
f:close()
assert(#paths > 0, "PATHS_FILE lists no path")
local threads = 0
function setup(thread)
  thread:set("place", threads)
  threads = threads + 1
end
i = 0
wrk.headers["x-api-key"] = os.getenv("API_KEY") or "sendmock-key"
-- What follows the path in every request (" HTTP/1.1", then the headers), made once:
-- wrk.format builds a table and three strings a call, and the client shares the
-- server's cores.
local tail
function init(args)
  -- Thread k starts k golden-ratio turns along the list: evenly spread for any number.
  i = math.floor(#paths * ((place or 0) * 0.6180339887 % 1))
  tail = wrk.format("GET", "/"):sub(6)
end
function request()
  i = i % #paths + 1
  return "GET " .. paths[i] .. tail
end
