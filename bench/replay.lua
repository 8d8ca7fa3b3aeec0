-- wrk script: replays a prepared file of requests, one per line: METHOD \t PATH \t TOKEN \t BODY
-- (TOKEN "-" = anonymous). Thread t of n takes lines t, t+n, t+2n… in order, so every request of
-- one object (e.g. the rounds of one case) stays in one thread, in order. Prints one JSON line.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  lines = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == tid then
      local m, p, t, b = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = {["Content-Type"] = "application/json"}
      if t ~= "-" then headers["Authorization"] = "Token " .. t end
      table.insert(lines, wrk.format(m, p, headers, b))
    end
    i = i + 1
  end
  -- wrk calls request() once on thread 0 before the run, to count pipelined requests, and
  -- sends nothing of it: without this copy the file's first request was never sent (seen as
  -- one 409 in the transitions' second round: the first case never got its offer).
  if tid == 0 and #lines > 0 then table.insert(lines, 1, lines[1]) end
  pos = 0
  wrapped = 0
end

function request()
  pos = pos + 1
  if pos > #lines then pos = 1; wrapped = wrapped + 1 end
  return lines[pos]
end

function done(summary, latency, requests)
  local wraps = 0
  for _, t in ipairs(threads) do wraps = wraps + (t:get("wrapped") or 0) end
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect_err":%d,"read_err":%d,' ..
    '"write_err":%d,"timeouts":%d,"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,' ..
    '"wrapped":%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, wraps))
end
