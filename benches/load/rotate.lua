-- wrk script: GET the paths listed in $PATHS_FILE (one a line) in turn, each thread
-- starting at a different place, with the mock's default API key.
local f = assert(io.open(os.getenv("PATHS_FILE")), "PATHS_FILE: a file of paths, one a line")
paths = {}
for line in f:lines() do paths[#paths + 1] = line end
f:close()
assert(#paths > 0, "PATHS_FILE lists no path")
i = 0
wrk.headers["x-api-key"] = os.getenv("API_KEY") or "sendmock-key"
function init(args) i = math.random(#paths) end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
