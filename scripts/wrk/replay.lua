-- What the replaying scripts share (loaded with dofile after report.lua):
-- each wrk thread takes every THREADS-th line of FILE (`wrk ... -- FILE
-- THREADS`, THREADS equal to wrk's -t), turns each into one request with
-- `make(line)`, and sends each exactly once. A thread that runs out stops
-- and the summary says so (`EXHAUSTED`).

local threads = {}
local next_id = 0
function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

local requests, count, sent = nil, 0, 0

-- This thread's share of FILE, as requests made by `make`.
function load_share(args, make)
   local file, total = args[1], tonumber(args[2])
   requests = {}
   local line_no = 0
   for line in io.lines(file) do
      if line_no % total == id then
         requests[#requests + 1] = make(line)
      end
      line_no = line_no + 1
   end
   count = #requests
end

function request()
   if requests == nil then
      -- wrk's own check of the script, outside any thread
      return wrk.format("GET", "/healthz")
   end
   sent = sent + 1
   if sent > count then
      exhausted = true
      wrk.thread:stop()
      sent = count
   end
   return requests[sent]
end

-- `what` names the lines in the message: "requests", "codes".
function report_exhausted_of(what)
   for _, thread in ipairs(threads) do
      if thread:get("exhausted") then
         io.write("EXHAUSTED thread " .. thread:get("id") .. " ran out of " .. what .. "\n")
      end
   end
end
