#!/usr/bin/env bash
# The shipped proxy configurations end to end: deploy/nginx/payfac.conf
# (nginx auth_request) and deploy/caddy/Caddyfile (Caddy forward_auth),
# used as they are with the addresses filled in, each in front of echo.py
# (a WSGI app) with payfac answering /_payfac/auth, and payfac's own
# gateway in front of the same app; tests/proxies/flow.py drives the
# whole flow through each.
#
#   tests/proxies/run.sh PAYFAC_BIN
#
# Installs nginx and caddy (apt-get) and PyJWT (pip) when missing. Each
# proxy runs as a child process on free ports with its own config, pid and
# log files in a temp directory; the system's nginx and Caddy configs and
# services are never touched. Prints "N passed, M failed"; exits non-zero
# on any failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
payfac="$(cd "$(dirname "${1:?usage: $0 PAYFAC_BIN}")" && pwd)/$(basename "$1")"

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v caddy >/dev/null 2>&1 || missing+=(caddy)
if [ ${#missing[@]} -gt 0 ]; then
  echo "proxies: installing ${missing[*]} (apt-get)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if ! python3 -c 'import jwt, cryptography' 2>/dev/null; then
  echo "proxies: pip install pyjwt[crypto]" >&2
  python3 -m pip install -q "pyjwt[crypto]" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "pyjwt[crypto]"
fi

# shellcheck source=../../scripts/lib/processes.sh
source "$root/scripts/lib/processes.sh"

export PAYFAC_DATABASE_URL="sqlite://$scratch/proxies.db"
"$payfac" keygen --out "$scratch/merchant" >/dev/null
"$payfac" merchant add PROXIES --public-key "$scratch/merchant.pub.pem" >/dev/null
payfac_port=$(free_port)
NO_COLOR=1 "$payfac" serve --listen "127.0.0.1:$payfac_port" --insecure-cookies \
  --require-session-prefix /account >"$scratch/payfac.log" 2>&1 &
pids+=($!)
if ! wait_for_any "http://127.0.0.1:$payfac_port/readyz"; then
  echo "payfac did not start:" >&2; cat "$scratch/payfac.log" >&2; exit 1
fi

start_nginx() { # dir listen_port upstream_port
  local dir=$1
  mkdir -p "$dir/tmp"
  sed -e "s/LISTEN_PORT/127.0.0.1:$2/" -e "s/PAYFAC_ADDR/127.0.0.1:$payfac_port/" \
    -e "s/UPSTREAM_ADDR/127.0.0.1:$3/" -e "s|ACCESS_LOG|$dir/access.log|" \
    "$root/deploy/nginx/payfac.conf" >"$dir/payfac.conf"
  cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 64; }
http {
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    include $dir/payfac.conf;
}
CONF
  "$nginx_bin" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 &
  pids+=($!)
}

start_caddy() { # dir listen_port upstream_port
  local dir=$1
  sed -e "s/LISTEN_ADDR/http:\/\/127.0.0.1:$2/" -e "s/PAYFAC_ADDR/127.0.0.1:$payfac_port/" \
    -e "s/UPSTREAM_ADDR/127.0.0.1:$3/" "$root/deploy/caddy/Caddyfile" >"$dir/Caddyfile"
  # Its own admin endpoint and storage, never the system's.
  sed -i "1i {\n\tadmin off\n\tstorage file_system $dir/data\n\tauto_https off\n}\n" "$dir/Caddyfile"
  HOME="$dir" XDG_DATA_HOME="$dir/data" XDG_CONFIG_HOME="$dir/config" \
    caddy run --adapter caddyfile --config "$dir/Caddyfile" >"$dir/caddy.log" 2>&1 &
  pids+=($!)
}

# payfac's own gateway in front of the app, for the same flow.
# Its own database, with the same merchant.
start_gateway() { # dir listen_port upstream_port
  local db="sqlite://$1/gateway.db"
  PAYFAC_DATABASE_URL="$db" "$payfac" merchant add PROXIES \
    --public-key "$scratch/merchant.pub.pem" >/dev/null
  PAYFAC_DATABASE_URL="$db" NO_COLOR=1 "$payfac" serve --listen "127.0.0.1:$2" \
    --insecure-cookies --upstream "http://127.0.0.1:$3" >"$1/gateway.log" 2>&1 &
  pids+=($!)
}

passed=0 failed=0
for proxy in nginx caddy gateway; do
  dir="$scratch/$proxy"
  mkdir -p "$dir"
  echo_port=$(free_port) proxy_port=$(free_port)
  : >"$dir/echo.log"
  python3 "$here/echo.py" "$echo_port" "$dir/echo.log" &
  pids+=($!)
  "start_$proxy" "$dir" "$proxy_port" "$echo_port"
  if ! wait_for_any "http://127.0.0.1:$proxy_port/" || ! wait_for_any "http://127.0.0.1:$echo_port/"; then
    echo "FAIL $proxy: the proxy or the app did not start" >&2
    cat "$dir"/*.log >&2 || true
    failed=$((failed + 1))
    continue
  fi
  : >"$dir/echo.log"
  set +e
  payfac_url="http://127.0.0.1:$payfac_port"
  [ "$proxy" != gateway ] || payfac_url="http://127.0.0.1:$proxy_port"
  python3 "$here/flow.py" "$proxy" "http://127.0.0.1:$proxy_port" "$payfac_url" \
    "$payfac" PROXIES "$scratch/merchant.key.pem" "$dir/echo.log" 2>&1 | tee "$dir/flow.out"
  set -e
  passed=$((passed + $(grep -c '^ok ' "$dir/flow.out" || true)))
  fails=$(grep -c '^FAIL ' "$dir/flow.out" || true)
  if ! grep -q '^ok ' "$dir/flow.out" || grep -q Traceback "$dir/flow.out"; then fails=$((fails + 1)); fi
  failed=$((failed + fails))
  if [ "$fails" -gt 0 ]; then
    echo "--- $proxy logs" >&2
    tail -n 30 "$dir"/*.log >&2 || true
  fi
  if [ "$proxy" = nginx ] && grep -q authorizationCode "$dir/access.log"; then
    echo "FAIL nginx: a code reached the access log" >&2; failed=$((failed + 1))
  fi
done
if grep -q "authorizationCode=" "$scratch/payfac.log"; then
  echo "FAIL payfac: a code reached payfac's log" >&2; failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
