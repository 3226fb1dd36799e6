-- Shared by the wrk scripts of scripts/bench.sh and scripts/bench-serve.sh: numbers the
-- threads, seeds each one apart, and prints the one summary line the scripts parse.
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
local function seed()
  math.randomseed(os.time() * 1000 + tid * 7919)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH rps=%.1f p50_us=%d p99_us=%d requests=%d non2xx=%d sockerr=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
