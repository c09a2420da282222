-- A buyer's first visit with a fresh code, each code exactly once:
--   wrk -t2 -c64 -d10s -s scripts/wrk/sign-in.lua http://127.0.0.1:PORT -- FILE THREADS
-- FILE holds one authorizationCode a line (made by scripts/wrk/user-sync.lua
-- with PAYFAC_WRK_CODES_DIR); THREADS must equal wrk's -t. Each request is
-- GET /catalog/page?authorizationCode=… without a cookie, answered 303 with
-- a session cookie. A thread that runs out of codes stops and says so.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)")
dofile(here .. "report.lua")
dofile(here .. "replay.lua")

function init(args)
   load_share(args, function(code)
      return wrk.format("GET", "/catalog/page?authorizationCode=" .. code)
   end)
end

function report_exhausted() report_exhausted_of("codes") end
