-- wrk script: signed-in GETs, spread over many sessions and paths, counted by status.
--
--   wrk ... -s bench/lib/signed-in.lua <url> -- <cookies file> <targets file>
--
-- <cookies file>: one Cookie header value a line (bench/lib/sign-in.sh). <targets file>: one target a line,
-- "console <path>" (sent with the next session's cookie) or "api <path>" (sent with the bearer token in
-- $BENCH_API_TOKEN). Requests go round the targets and the sessions. Anything but a 200 is counted as an
-- error (a 303 to the sign-in page would otherwise pass for a fast page). done() prints one JSON line.
local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

function init(args)
  cookies = lines(args[1])
  targets = {}
  for _, line in ipairs(lines(args[2])) do
    local kind, path = line:match("^(%S+)%s+(%S+)$")
    targets[#targets + 1] = { kind = kind, path = path }
  end
  token = os.getenv("BENCH_API_TOKEN") or ""
  n = id * 7919 -- threads start at different points
  ok, bad, statuses = 0, 0, ""
end

function request()
  n = n + 1
  local t = targets[(n % #targets) + 1]
  local headers
  if t.kind == "api" then
    headers = { ["Authorization"] = "Bearer " .. token }
  else
    headers = { ["Cookie"] = cookies[(n % #cookies) + 1] }
  end
  return wrk.format("GET", t.path, headers)
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  else
    bad = bad + 1
    if #statuses < 200 then statuses = statuses .. status .. " " end
  end
end

function done(summary, latency, requests)
  local good, non200, seen = 0, 0, ""
  for _, thread in ipairs(threads) do
    good = good + thread:get("ok")
    non200 = non200 + thread:get("bad")
    seen = seen .. thread:get("statuses")
  end
  local e = summary.errors
  io.write(string.format(
    '{"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"rps":%.1f,"requests":%d,"ok":%d,"non_2xx":%d,"errors":%d,"statuses":"%s"}\n',
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.requests / (summary.duration / 1e6), summary.requests, good, non200,
    e.connect + e.read + e.write + e.timeout, seen))
end
