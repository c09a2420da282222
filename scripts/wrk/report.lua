-- The summary every script of scripts/wrk prints when wrk ends: one
-- `RESULT` line (rate, quantiles in ms, failures) for scripts/tail-latency.sh
-- to read, and a `HISTOGRAM` line: more quantiles and the share of slow
-- requests. Loaded by the other scripts with dofile.

local function ms(us) return string.format("%.2f", us / 1000) end

function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   local failed = e.connect + e.read + e.write + e.status + e.timeout
   io.write(string.format(
      "RESULT rate=%.0f requests=%d p50_ms=%s p90_ms=%s p99_ms=%s p999_ms=%s max_ms=%s failed=%d status=%d connect=%d read=%d write=%d timeout=%d\n",
      summary.requests / seconds, summary.requests,
      ms(latency:percentile(50)), ms(latency:percentile(90)),
      ms(latency:percentile(99)), ms(latency:percentile(99.9)),
      ms(latency.max), failed, e.status, e.connect, e.read, e.write, e.timeout))
   -- wrk's Lua sees quantiles only: the distribution as a ladder of them,
   -- and the share of requests slower than a few thresholds (bisection
   -- over the quantiles).
   local ladder = {}
   for _, p in ipairs({ 50, 75, 90, 95, 98, 99, 99.5, 99.9, 99.99 }) do
      table.insert(ladder, string.format("p%s=%s", p, ms(latency:percentile(p))))
   end
   local over = {}
   for _, limit in ipairs({ 5, 10, 20, 50, 100 }) do
      local low, high = 0, 100
      for _ = 1, 40 do
         local mid = (low + high) / 2
         if latency:percentile(mid) > limit * 1000 then high = mid else low = mid end
      end
      table.insert(over, string.format(">%dms=%.3f%%", limit, 100 - high))
   end
   io.write("HISTOGRAM " .. table.concat(ladder, " ") .. " | " .. table.concat(over, " ") .. "\n")
   if report_exhausted then report_exhausted() end
end
