-- wrk script for bench/http.py: POST each JSON body of a file (one a line) in turn, then print a JSON summary.
-- Usage: wrk -t1 -c8 -d30s --latency -s bench/wrk_ask.lua http://127.0.0.1:PORT/v1/ask -- bodies.jsonl

local threads = {}
local bodies = {}
local counter = 0

function setup(thread)
   thread:set("start", #threads * 7919)
   table.insert(threads, thread)
end

function init(args)
   for line in io.lines(args[1]) do
      if #line > 0 then
         table.insert(bodies, line)
      end
   end
   counter = start or 0
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   counter = counter + 1
   return wrk.format(nil, nil, nil, bodies[(counter % #bodies) + 1])
end

function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      'WRK_SUMMARY {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, '
         .. '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
      summary.requests, summary.duration, summary.bytes, errors.connect, errors.read, errors.write, errors.status,
      errors.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
