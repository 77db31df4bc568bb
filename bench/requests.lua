-- Replays pre-built requests from the file named by the environment variable BENCH_REQUESTS.
-- One request per line, tab-separated: METHOD, PATH, BODY ("-" for none), then NAME=VALUE headers.
-- Each line is sent once per cycle, in order, so unique request ids stay unique for a run.
local requests = {}
local index = 0

local function split(line)
  local fields = {}
  for field in string.gmatch(line, "[^\t]+") do
    table.insert(fields, field)
  end
  return fields
end

function init(args)
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local f = split(line)
    local headers = {}
    for i = 4, #f do
      local name, value = string.match(f[i], "^([^=]+)=(.*)$")
      headers[name] = value
    end
    local body = nil
    if f[3] ~= "-" then body = f[3] end
    table.insert(requests, wrk.format(f[1], f[2], headers, body))
  end
end

function request()
  index = index % #requests + 1
  return requests[index]
end
