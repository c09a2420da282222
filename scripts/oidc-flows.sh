#!/usr/bin/env bash
# The OIDC code flow of a signed-in buyer (authorize + token + userinfo)
# per second, measured from outside: a release `payfac serve --public-url`
# and node's oidc-provider (tests/oidc/reference-provider.mjs) as separate
# processes on this machine, one after the other under the same node load
# generator (tests/oidc/flow-load.mjs). payfac-bench --oidc measures the
# same in one process; this is its reproduction with another client.
#
#   scripts/oidc-flows.sh                                  # 16 connections, 10 s each
#   CONNECTIONS=64 DURATION=20 scripts/oidc-flows.sh
#
# Settings (environment): CONNECTIONS (16), DURATION seconds (10),
# PAYFAC_BIN another `payfac` binary to measure. payfac gets a fresh SQLite
# database on disk, one merchant, one confidential client and CONNECTIONS
# buyers signed in through their code links; the reference provider signs
# in as many sessions through its own login. Prints each side's JSON line
# and the ratio. Everything it starts or writes is gone when it exits.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/processes.sh
source "$repo/scripts/lib/processes.sh"
CONNECTIONS=${CONNECTIONS:-16}
DURATION=${DURATION:-10}
callback=http://127.0.0.1:9/callback

target=${CARGO_TARGET_DIR:-$repo/target}
if [ -z "${PAYFAC_BIN:-}" ]; then
  (cd "$repo" && cargo build -q --release -p payfac-cli)
  PAYFAC_BIN=$target/release/payfac
fi
(cd "$repo/tests/oidc" && npm ci --no-audit --no-fund --loglevel=error)

export PAYFAC_DATABASE_URL="sqlite://$scratch/flows.db"
"$PAYFAC_BIN" keygen --out "$scratch/merchant" >/dev/null
"$PAYFAC_BIN" merchant add FLOWS --public-key "$scratch/merchant.pub.pem" >/dev/null
client=$("$PAYFAC_BIN" oidc-client add flows --redirect-uri "$callback")
port=$(free_port)
issuer="http://127.0.0.1:$port"
NO_COLOR=1 "$PAYFAC_BIN" serve --listen "127.0.0.1:$port" --insecure-cookies --rate-limits off \
  --public-url "$issuer" >/dev/null 2>&1 &
pids+=($!)
wait_for "$issuer/readyz" || { echo "payfac did not start" >&2; exit 1; }
unset PAYFAC_DATABASE_URL

# One buyer per connection, signed in through a merchant's code link.
for i in $(seq 1 "$CONNECTIONS"); do
  code=$("$PAYFAC_BIN" user-sync --url "$issuer" --merchant FLOWS --key "$scratch/merchant.key.pem" \
    --merchant-user-no "F$i" --email "f$i@example.com" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["authorizationCode"])')
  curl -sS -o /dev/null -D - "$issuer/?authorizationCode=$code" \
    | sed -n 's/^[Ss]et-[Cc]ookie: \(payfac_session=[^;]*\).*/\1/p'
done | python3 -c 'import json, sys; print(json.dumps([l.strip() for l in sys.stdin if l.strip()]))' \
  >"$scratch/payfac-cookies.json"

# The reference provider serves until its standard input closes: a fifo
# held open by this shell.
mkfifo "$scratch/hold"
node "$repo/tests/oidc/reference-provider.mjs" --sessions "$CONNECTIONS" \
  <"$scratch/hold" >"$scratch/reference.json" 2>/dev/null &
pids+=($!)
exec 3>"$scratch/hold"
for _ in $(seq 1 600); do [ -s "$scratch/reference.json" ] && break; sleep 0.1; done
field() { python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])' "$scratch/reference.json" "$1"; }
python3 -c 'import json, sys; print(json.dumps(json.loads(open(sys.argv[1]).readline())["cookies"]))' \
  "$scratch/reference.json" >"$scratch/reference-cookies.json"

load() { # issuer client_id secret redirect cookies
  node "$repo/tests/oidc/flow-load.mjs" --issuer "$1" --client-id "$2" --client-secret "$3" \
    --redirect-uri "$4" --cookies "$5" --connections "$CONNECTIONS" --duration "$DURATION"
}
get() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
payfac=$(load "$issuer" "$(get "$client" clientId)" "$(get "$client" clientSecret)" "$callback" \
  "$scratch/payfac-cookies.json")
echo "payfac:        $payfac"
reference=$(load "$(field issuer)" "$(field clientId)" "$(field clientSecret)" "$(field redirectUri)" \
  "$scratch/reference-cookies.json")
echo "oidc-provider: $reference"
exec 3>&-
python3 - "$payfac" "$reference" <<'PY'
import json, sys
payfac, reference = (json.loads(arg) for arg in sys.argv[1:3])
print(f"payfac {payfac['flowsPerSecond']:.0f} flows/s, oidc-provider {reference['flowsPerSecond']:.0f} flows/s, "
      f"payfac ÷ oidc-provider = {payfac['flowsPerSecond'] / reference['flowsPerSecond']:.2f} "
      f"(errors {payfac['errors']} and {reference['errors']})")
PY
