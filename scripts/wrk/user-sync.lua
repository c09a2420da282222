-- Replays pre-signed user-sync requests, each exactly once:
--   wrk -t2 -c64 -d10s -s scripts/wrk/user-sync.lua http://127.0.0.1:PORT -- FILE THREADS
-- FILE is written by `payfac-bench --write-sync-requests FILE` (one request
-- a line: path, timestamp, nonce, signature, body, tab-separated);
-- THREADS must equal wrk's -t: thread i sends lines i, i+THREADS, ...
-- With PAYFAC_WRK_CODES_DIR set, each thread writes the authorizationCode
-- of every answer to $PAYFAC_WRK_CODES_DIR/codes.<i> (for
-- scripts/wrk/sign-in.lua); without it no answer is read by Lua, so a timed
-- run pays nothing for it. A thread that runs
-- out of requests stops and the summary says so: sign more.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")

local threads = {}
local next_id = 0
function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

local requests, count, sent, codes = nil, 0, 0, nil
function init(args)
   local file, total = args[1], tonumber(args[2])
   requests = {}
   local line_no = 0
   for line in io.lines(file) do
      if line_no % total == id then
         local path, timestamp, nonce, signature, body =
            line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
         requests[#requests + 1] = wrk.format("POST", path, {
            ["Content-Type"] = "application/json",
            ["timestamp"] = timestamp,
            ["nonce"] = nonce,
            ["signature"] = signature,
         }, body)
      end
      line_no = line_no + 1
   end
   count = #requests
   local codes_dir = os.getenv("PAYFAC_WRK_CODES_DIR")
   if codes_dir then
      codes = assert(io.open(codes_dir .. "/codes." .. id, "w"))
      codes:setvbuf("line")
   end
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

if os.getenv("PAYFAC_WRK_CODES_DIR") then
   function response(status, headers, body)
      if codes and status == 200 then
         local code = body:match('"authorizationCode"%s*:%s*"([^"]+)"')
         if code then codes:write(code, "\n") end
      end
   end
end

function report_exhausted()
   for _, thread in ipairs(threads) do
      if thread:get("exhausted") then
         io.write("EXHAUSTED thread " .. thread:get("id") .. " ran out of requests\n")
      end
   end
end
