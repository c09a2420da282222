#!/usr/bin/env bash
# The gateway samples end to end: for each app (app.py with PyJWT, app.mjs
# with jose), payfac serves in front of it, a merchant call issues a code,
# the code signs the buyer in on a storefront page, and the app must verify
# the X-Payfac-Identity it receives against payfac's JWKS and see the
# buyer; a forged header from the client must never reach it.
#
#   examples/gateway/run.sh PAYFAC_BIN
#
# Installs PyJWT (pip) and jose (npm, pinned in package-lock.json) when
# missing. Prints "N passed, M failed"; exits non-zero on any failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
payfac="$(cd "$(dirname "${1:?usage: $0 PAYFAC_BIN}")" && pwd)/$(basename "$1")"

if ! python3 -c 'import jwt, cryptography' 2>/dev/null; then
  echo "gateway samples: pip install pyjwt[crypto]" >&2
  python3 -m pip install -q "pyjwt[crypto]" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "pyjwt[crypto]"
fi
if [ ! -d "$here/node_modules/jose" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

# shellcheck source=../../scripts/lib/processes.sh
source "$here/../../scripts/lib/processes.sh"
json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

export PAYFAC_DATABASE_URL="sqlite://$scratch/gateway.db"
"$payfac" keygen --out "$scratch/merchant" >/dev/null
"$payfac" merchant add GATEWAY --public-key "$scratch/merchant.pub.pem" >/dev/null

passed=0 failed=0
for app in python node; do
  app_port=$(free_port) port=$(free_port)
  base="http://127.0.0.1:$port"
  case $app in
    python) python3 "$here/app.py" "$app_port" "$base/.well-known/jwks.json" & ;;
    node) node "$here/app.mjs" "$app_port" "$base/.well-known/jwks.json" & ;;
  esac
  app_pid=$!
  pids+=("$app_pid")
  NO_COLOR=1 "$payfac" serve --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$app_port" \
    --insecure-cookies >"$scratch/serve-$app.log" 2>&1 &
  payfac_pid=$!
  pids+=("$payfac_pid")
  if ! wait_for "$base/readyz" || ! wait_for "http://127.0.0.1:$app_port/"; then
    echo "FAIL $app: payfac or the app did not start" >&2
    cat "$scratch/serve-$app.log" >&2
    failed=$((failed + 1))
    continue
  fi
  (
    set -e
    envelope=$("$payfac" user-sync --url "$base" --merchant GATEWAY --key "$scratch/merchant.key.pem" \
      --merchant-user-no "U-$app" --email "$app@example.com" --first-name Zoë --last-name Doe)
    code=$(json '["data"]["authorizationCode"]' <<<"$envelope")
    user_id=$(json '["data"]["userId"]' <<<"$envelope")
    jar="$scratch/$app.cookies"
    status=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" "$base/welcome?authorizationCode=$code")
    [ "$status" = 303 ] || { echo "sign-in answered $status" >&2; exit 1; }
    answer=$(curl -fsS -b "$jar" "$base/welcome")
    [ "$(json '["buyer"]["sub"]' <<<"$answer")" = "$user_id" ] || { echo "app saw: $answer" >&2; exit 1; }
    [ "$(json '["buyer"]["given_name"]' <<<"$answer")" = "Zoë" ] || { echo "app saw: $answer" >&2; exit 1; }
    forged=$(curl -fsS -H 'X-Payfac-Identity: forged' "$base/welcome")
    [ "$(json '["buyer"]' <<<"$forged")" = None ] || { echo "forged header reached the app: $forged" >&2; exit 1; }
  ) && { echo "ok   $app: the app verified X-Payfac-Identity against the JWKS"; passed=$((passed + 1)); } \
    || { echo "FAIL $app" >&2; cat "$scratch/serve-$app.log" >&2; failed=$((failed + 1)); }
  kill "$payfac_pid" "$app_pid" 2>/dev/null || true
  wait "$payfac_pid" "$app_pid" 2>/dev/null || true
done

echo "gateway: $passed passed, $failed failed"
[ "$failed" = 0 ]
