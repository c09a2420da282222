#!/usr/bin/env bash
# The project's test command: every Rust test against SQLite and a real
# PostgreSQL, the merchant samples against the vectors and a running payfac,
# the API Playground in headless Chromium, and a short run of every fuzz
# target.
set -euo pipefail
cd "$(dirname "$0")/.."

# A PostgreSQL server for the tests: the one at PAYFAC_TEST_POSTGRES_URL
# (default 127.0.0.1:5432) when it answers, else a throwaway cluster.
# PostgreSQL tests fail instead of skipping when it is missing.
source scripts/test-postgres.sh
scratch=
server_pid=
# Tests leave nothing behind: a payfac, nginx, Caddy or Apache process
# that one of them started and that is still running when they are done
# fails the run (and is stopped). Ours are this checkout's payfac binary
# and the proxies and Apache the tests run from temporary directories;
# others on the machine, and those running before the tests started, are
# not looked at.
own_binaries="${CARGO_TARGET_DIR:-$PWD/target}"
servers() {
  for pid in $(pgrep -x payfac || true); do
    case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in "$own_binaries"/*) echo "$pid" ;; esac
  done
  for pid in $(pgrep -x nginx || true) $(pgrep -x caddy || true) $(pgrep -x apache2 || true); do
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "${TMPDIR:-/tmp}/" && echo "$pid"
  done
  true
}
servers_sorted() { servers | sort; }
running_before=$(servers_sorted)
outlived() { comm -13 <(echo "$running_before") <(servers_sorted) | grep . || true; }
cleanup() {
  local status=$?
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  [ -z "$scratch" ] || rm -rf "$scratch"
  stop_test_postgres
  local left
  left=$(outlived)
  if [ -n "$left" ]; then
    echo "test.sh: these processes outlived the tests that started them:" >&2
    # shellcheck disable=SC2086
    ps -o pid=,args= -p $left >&2 || true
    # shellcheck disable=SC2086
    kill $left 2>/dev/null || true
    [ "$status" -ne 0 ] || exit 1
  fi
}
trap cleanup EXIT
start_test_postgres

# faketime runs an instance with its clock ahead (crates/cli/tests/multi_instance.rs).
if ! command -v faketime >/dev/null 2>&1; then
  echo "test.sh: installing faketime (apt-get)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null
fi

# openssl makes the CA and server certificates of the PostgreSQL TLS test
# (crates/store/tests/postgres_tls.rs), whose throwaway cluster uses the
# PostgreSQL binaries installed above; the vectors below need it too.
if ! command -v openssl >/dev/null 2>&1; then
  echo "test.sh: installing openssl (apt-get)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi

# The vectors are what an implementation independent of the Rust signer
# (Python's urllib and the openssl command line) makes of their cases.
scripts/gen-vectors.py --check

# PostgreSQL tests are #[ignore]d for a plain `cargo test` (reported as
# ignored, not passed); here a server is up, so they run. They get a
# temporary directory of their own, which must be empty when they are
# done: a test leaves no file behind (its databases, served instances'
# logs, clusters). Nor a libfaketime shared-memory segment: the test that
# runs an instance with its clock ahead deletes that instance's segment.
# (Built first, so that what the compilers leave is not counted.)
cargo test --workspace --all-targets --no-run
shm_before=$(ls /dev/shm 2>/dev/null | grep -i faketime || true)
rust_tmp=$(mktemp -d)
# As /tmp is: the throwaway PostgreSQL clusters run as the postgres user.
chmod 1777 "$rust_tmp"
TMPDIR="$rust_tmp" cargo test --workspace --all-targets -- --include-ignored
# What the Rust tests leave in their own temporary directory is named
# here, not failed: a SQLite store's writer and checkpointer threads close
# (and may reopen) their files a moment after the store is dropped, which
# can be after the test's TempDir was removed (seen with
# `sqlite::connect::tests::database_files_are_readable_by_their_owner_only`).
# Processes left behind still fail the run (above).
left=$(find "$rust_tmp" -mindepth 1)
[ -z "$left" ] || echo "test.sh: note: files the Rust tests' stores left behind: $left" >&2
rm -rf "$rust_tmp"
shm_left=$(comm -13 <(echo "$shm_before") <(ls /dev/shm 2>/dev/null | grep -i faketime || true) | grep . || true)
if [ -n "$shm_left" ]; then
  echo "test.sh: libfaketime left shared memory behind: $shm_left" >&2
  exit 1
fi

# Every fuzz target for a few seconds, so a target that no longer builds,
# or crashes on its seeds, fails here (installs cargo-fuzz when missing).
# The long run is `scripts/fuzz.sh 600`; see docs/RELIABILITY.md.
scripts/fuzz.sh 3

examples/ensure-toolchains.sh
examples/run.sh vectors

# The samples against the real service: the dev build of the binary that
# `cargo test` made for the CLI's tests (building it again with
# `-p payfac-cli` alone would resolve other features and rebuild it) serves
# a temp SQLite database on a free port, the CLI registers the vectors'
# public key as merchant SAMPLES, and every sample makes one signed
# user-sync call that must answer 0000.
target_dir=$(cargo metadata -q --no-deps --format-version 1 \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
payfac="${target_dir:-target}/debug/payfac"
[ -x "$payfac" ] || { echo "test.sh: $payfac is missing (cargo test builds it)" >&2; exit 1; }
vectors=tests/vectors
scratch=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PAYFAC_DATABASE_URL="sqlite://$scratch/samples.db"
"$payfac" merchant add SAMPLES --public-key "$vectors/merchant-test.pub.pem" >/dev/null
NO_COLOR=1 "$payfac" serve --listen "127.0.0.1:$port" >"$scratch/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.2
done
if ! curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"; then
  echo "payfac serve did not become ready on port $port:" >&2
  cat "$scratch/serve.log" >&2
  exit 1
fi
unset PAYFAC_DATABASE_URL
if ! examples/run.sh call "http://127.0.0.1:$port" SAMPLES "$vectors/merchant-test.key.pem"; then
  kill -0 "$server_pid" 2>/dev/null || echo "payfac serve is no longer running" >&2
  echo "service log:" >&2
  cat "$scratch/serve.log" >&2
  exit 1
fi

# The gateway samples (docs/GATEWAY.md): a Python (PyJWT) and a Node (jose)
# storefront app behind `payfac serve --upstream`, each verifying the
# X-Payfac-Identity it receives against payfac's JWKS.
examples/gateway/run.sh "$payfac"

# ---- Forward auth behind the platform's own proxy (docs/GATEWAY.md,
# "Behind your own proxy"): the shipped deploy/nginx/payfac.conf and
# deploy/caddy/Caddyfile, run by the real nginx and Caddy (installed with
# apt-get when missing) as child processes on free ports, each in front of
# an echo app, through the whole flow.
tests/proxies/run.sh "$payfac"

# The API Playground in headless Chromium: the page's signer against the
# vectors, and the whole flow against a running payfac.
PAYFAC_BIN="$payfac" tests/browser/run.sh

# payfac as an OpenID Provider (docs/OIDC.md) under relying parties nobody
# here wrote: node's openid-client, Python's authlib, and Apache
# mod_auth_openidc in front of a CGI app driven by headless Chromium
# (apache2, the module, authlib and openid-client installed when missing).
# The same run has a one-second payfac-bench --oidc, whose binary cargo
# test does not link; the same targets and features as cargo test above,
# so nothing is compiled again.
cargo build -q --workspace --all-targets
tests/oidc/run.sh "$payfac"

# ---- The operator's production kit (docs/DEPLOY.md, docs/OPERATIONS.md):
# the systemd unit under systemd-analyze (verify and the offline security
# score, with no systemd running), the Prometheus alerts under promtool
# (syntax and unit tests), the Containerfile's final stage built offline
# by podman (its config), and the image's root filesystem run under
# chroot (serves, passes its HEALTHCHECK, stops on SIGTERM). The
# dashboard's and the alerts' metric names are checked against a live
# /metrics by crates/cli/tests/deploy.rs above.
for need in systemd-analyze:systemd promtool:prometheus podman:podman; do
  if ! command -v "${need%%:*}" >/dev/null 2>&1; then
    echo "test.sh: installing ${need#*:} (apt-get)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need#*:}" >/dev/null
  fi
done
deploy/systemd/verify.sh "$payfac"
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/alerts.test.yml
deploy/container/check-rootfs.sh "$payfac"
deploy/container/build-offline.sh "$payfac"
