-- A buyer's first visit with a fresh code, each code exactly once:
--   wrk -t2 -c64 -d10s -s scripts/wrk/sign-in.lua http://127.0.0.1:PORT -- FILE THREADS
-- FILE holds one authorizationCode a line (made by scripts/wrk/user-sync.lua
-- with PAYFAC_WRK_CODES_DIR); THREADS must equal wrk's -t. Each request is
-- GET /catalog/page?authorizationCode=… without a cookie, answered 303 with
-- a session cookie. A thread that runs out of codes stops and says so.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")

local threads = {}
local next_id = 0
function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

local requests, count, sent = nil, 0, 0
function init(args)
   local file, total = args[1], tonumber(args[2])
   requests = {}
   local line_no = 0
   for code in io.lines(file) do
      if line_no % total == id then
         requests[#requests + 1] = wrk.format("GET", "/catalog/page?authorizationCode=" .. code)
      end
      line_no = line_no + 1
   end
   count = #requests
end

function request()
   if requests == nil then
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

function report_exhausted()
   for _, thread in ipairs(threads) do
      if thread:get("exhausted") then
         io.write("EXHAUSTED thread " .. thread:get("id") .. " ran out of codes\n")
      end
   end
end
