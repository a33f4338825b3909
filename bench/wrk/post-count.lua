-- Like post.lua, but stops after LIMIT responses (use one thread): wrk -t1 ... -s post-count.lua URL -- LIMIT BODY [header]...
-- A stopped thread does not end wrk (its main thread sleeps out -d), so the thread also sends wrk the SIGINT that
-- makes it report at once: from a background shell (`$PPID` is wrk), because wrk ignores SIGINT while os.execute runs.
local limit, seen = 0, 0

function init(args)
  limit = tonumber(args[1])
  local f = assert(io.open(args[2], "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
  for i = 3, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
end

function response(status, headers, body)
  seen = seen + 1
  if seen == limit then
    wrk.thread:stop()
    os.execute("(sleep 0.02; kill -INT $PPID) &")
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
