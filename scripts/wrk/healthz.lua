-- GET /healthz with the same summary as the other scripts:
--   wrk -t2 -c64 -d10s -s scripts/wrk/healthz.lua http://127.0.0.1:PORT/healthz
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")
