#!/usr/bin/env bash
# payfac's OpenID Provider (docs/OIDC.md) under relying parties nobody here
# wrote, against one real `payfac serve --public-url`:
#
#   openid-client.test.mjs   node's openid-client (OpenID-certified RP)
#   authlib_flow.py          Python's authlib (OAuth2Session, authlib.jose)
#   apache.e2e.test.mjs      Apache mod_auth_openidc in front of claims.cgi,
#                            driven by headless Chromium from a merchant's
#                            code link
#
# and a one-second payfac-bench --oidc (payfac-bench beside PAYFAC_BIN)
# against payfac and node's oidc-provider.
#
#   tests/oidc/run.sh PAYFAC_BIN
#
# Installs what is missing: apache2 and libapache2-mod-auth-openidc,
# chromium, nodejs/npm (apt-get), authlib (pip), openid-client (npm, pinned
# in package-lock.json) and tests/browser's playwright-core (its own lock).
# Apache runs as a child process from a temp directory on a free port, as
# www-data, with its own config, pid and log files; the system's Apache
# config and service are never touched. Prints "N passed, M failed"; exits
# non-zero on any failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
payfac="$(cd "$(dirname "${1:?usage: $0 PAYFAC_BIN}")" && pwd)/$(basename "$1")"

apache_bin=/usr/sbin/apache2
apache_modules=/usr/lib/apache2/modules
missing=()
[ -x "$apache_bin" ] || missing+=(apache2)
[ -f "$apache_modules/mod_auth_openidc.so" ] || missing+=(libapache2-mod-auth-openidc)
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "oidc: installing ${missing[*]} (apt-get)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # Installing apache2 never starts the system's service here: the tests
  # run their own instance below.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! python3 -c 'import authlib, requests, cryptography' 2>/dev/null; then
  echo "oidc: pip install authlib requests cryptography" >&2
  python3 -m pip install -q authlib requests cryptography 2>/dev/null \
    || python3 -m pip install -q --break-system-packages authlib requests cryptography
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
# The Chromium launcher is tests/browser's (lib.mjs), with its playwright-core.
[ -d "$root/tests/browser/node_modules/playwright-core" ] \
  || (cd "$root/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)

# shellcheck source=../../scripts/lib/processes.sh
source "$root/scripts/lib/processes.sh"

payfac_port=$(free_port) apache_port=$(free_port) rp_port=$(free_port)
issuer="http://127.0.0.1:$payfac_port"
apache="http://127.0.0.1:$apache_port"
# The redirect URI of the library clients: nothing listens there; the
# suites read the authorization response from the Location header, as a
# browser would before following it.
callback="http://127.0.0.1:$rp_port/callback"

export PAYFAC_DATABASE_URL="sqlite://$scratch/oidc.db"
"$payfac" keygen --out "$scratch/merchant" >/dev/null
"$payfac" merchant add OIDC --public-key "$scratch/merchant.pub.pem" >/dev/null
client() { # name args… → its JSON line
  "$payfac" oidc-client add "$@"
}
{
  echo "{"
  echo "\"confidential\": $(client rp-confidential --redirect-uri "$callback"),"
  echo "\"other\": $(client rp-other --redirect-uri "$callback"),"
  echo "\"public\": $(client rp-public --public --redirect-uri "$callback"),"
  echo "\"eddsa\": $(client rp-eddsa --id-token-alg EdDSA --redirect-uri "$callback"),"
  echo "\"apache\": $(client apache --redirect-uri "$apache/app/redirect_uri" \
    --post-logout-redirect-uri "$apache/signed-out.html")"
  echo "}"
} >"$scratch/clients.json"
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$scratch/clients.json"

NO_COLOR=1 "$payfac" serve --listen "127.0.0.1:$payfac_port" --insecure-cookies \
  --public-url "$issuer" >"$scratch/payfac.log" 2>&1 &
pids+=($!)
if ! wait_for "$issuer/readyz"; then
  echo "payfac did not start:" >&2; cat "$scratch/payfac.log" >&2; exit 1
fi
unset PAYFAC_DATABASE_URL

# Apache with mod_auth_openidc, configured by discovery against payfac, in
# front of claims.cgi. Its directory is www-data's and the whole server
# runs as that user (setpriv execs it, so the pid killed on exit is
# Apache's own): nothing of it runs as root.
adir="$scratch/apache"
mkdir -p "$adir/htdocs"
chmod 711 "$scratch"
cp "$here/claims.cgi" "$adir/claims.cgi"
echo '<!doctype html><title>signed out</title><p>signed out of the app' >"$adir/htdocs/signed-out.html"
apache_secret=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["apache"]["clientSecret"])' "$scratch/clients.json")
apache_client=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["apache"]["clientId"])' "$scratch/clients.json")
sed -e "s|@DIR@|$adir|g" -e "s|@MODULES@|$apache_modules|g" -e "s|@PORT@|$apache_port|g" \
  -e "s|@APP@|$apache|g" -e "s|@ISSUER@|$issuer|g" -e "s|@CLIENT_ID@|$apache_client|g" \
  -e "s|@CLIENT_SECRET@|$apache_secret|g" \
  -e "s|@PASSPHRASE@|$(python3 -c 'import secrets; print(secrets.token_hex(16))')|g" \
  "$here/httpd.conf" >"$adir/httpd.conf"
chown -R www-data:www-data "$adir"
setpriv --reuid=www-data --regid=www-data --init-groups -- "$apache_bin" -d "$adir" -f "$adir/httpd.conf" -DFOREGROUND \
  >"$adir/stdout.log" 2>&1 &
pids+=($!)
if ! wait_for "$apache/signed-out.html"; then
  echo "apache did not start:" >&2; cat "$adir"/*.log >&2 || true; exit 1
fi

export PAYFAC_BIN="$payfac" OIDC_ISSUER="$issuer" OIDC_MERCHANT=OIDC \
  OIDC_MERCHANT_KEY="$scratch/merchant.key.pem" OIDC_CLIENTS="$scratch/clients.json" \
  OIDC_CALLBACK="$callback" OIDC_APACHE="$apache" OIDC_APACHE_LOG="$adir/error.log"

passed=0 failed=0
set +e
(cd "$here" && node --test --test-reporter=spec --test-concurrency=1 \
  openid-client.test.mjs apache.e2e.test.mjs) 2>&1 | tee "$scratch/node.out"
python3 "$here/authlib_flow.py" 2>&1 | tee "$scratch/authlib.out"
set -e
count() { sed -n "s/^ℹ $1 \([0-9]*\)$/\1/p" "$scratch/node.out" | tail -n 1; }
node_passed=$(count pass) node_failed=$(count fail)
[ -n "$node_passed" ] || node_failed=1 # the runner did not report
passed=$((passed + ${node_passed:-0} + $(grep -c '^ok ' "$scratch/authlib.out" || true)))
failed=$((failed + ${node_failed:-0} + $(grep -c '^FAIL ' "$scratch/authlib.out" || true)))
if ! grep -q '^ok ' "$scratch/authlib.out" || grep -q Traceback "$scratch/authlib.out"; then
  failed=$((failed + 1))
fi
# payfac-bench --oidc, briefly (its full run is docs/OIDC.md's figure):
# both providers must complete flows, without one failed flow.
bench="$(dirname "$payfac")/payfac-bench"
if [ -x "$bench" ]; then
  if "$bench" --oidc --duration 1 --connections 2 --buyers 20 --merchants 1 --quiet-wait 0 --json \
    >"$scratch/bench.out" 2>"$scratch/bench.err" \
    && tail -n 1 "$scratch/bench.out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
sys.exit(not (r["payfac_flows_per_s"] > 0 and r["oidc_provider_flows_per_s"] > 0
              and r["payfac_errors"] == 0 and r["oidc_provider_errors"] == 0))'; then
    echo "ok   bench: payfac-bench --oidc completes flows on both providers without errors"
    passed=$((passed + 1))
  else
    echo "FAIL bench: payfac-bench --oidc" >&2
    cat "$scratch/bench.out" "$scratch/bench.err" >&2
    failed=$((failed + 1))
  fi
else
  echo "FAIL bench: $bench is missing (cargo build -p payfac-bench)" >&2
  failed=$((failed + 1))
fi
if [ "$failed" -gt 0 ]; then
  echo "--- payfac log (tail)" >&2; tail -n 40 "$scratch/payfac.log" >&2
  echo "--- apache error log (tail)" >&2; tail -n 40 "$adir/error.log" >&2 || true
fi
# Nothing secret in payfac's log: no code, token or client secret.
for secret in $(python3 -c 'import json, sys; print(" ".join(c["clientSecret"] for c in json.load(open(sys.argv[1])).values() if "clientSecret" in c))' "$scratch/clients.json"); do
  if grep -qF "$secret" "$scratch/payfac.log"; then
    echo "FAIL payfac: a client secret reached payfac's log" >&2; failed=$((failed + 1))
  fi
done
if grep -qE "authorizationCode=|[?&]code=[A-Za-z0-9_-]{8,}|access_token|id_token=" "$scratch/payfac.log"; then
  echo "FAIL payfac: a code or token reached payfac's log" >&2; failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
