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
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)")
dofile(here .. "report.lua")
dofile(here .. "replay.lua")

local codes = nil
function init(args)
   load_share(args, function(line)
      local path, timestamp, nonce, signature, body =
         line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      return wrk.format("POST", path, {
         ["Content-Type"] = "application/json",
         ["timestamp"] = timestamp,
         ["nonce"] = nonce,
         ["signature"] = signature,
      }, body)
   end)
   local codes_dir = os.getenv("PAYFAC_WRK_CODES_DIR")
   if codes_dir then
      codes = assert(io.open(codes_dir .. "/codes." .. id, "w"))
      codes:setvbuf("line")
   end
end

if os.getenv("PAYFAC_WRK_CODES_DIR") then
   function response(status, headers, body)
      if codes and status == 200 then
         local code = body:match('"authorizationCode"%s*:%s*"([^"]+)"')
         if code then codes:write(code, "\n") end
      end
   end
end

function report_exhausted() report_exhausted_of("requests") end
