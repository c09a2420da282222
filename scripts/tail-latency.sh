#!/usr/bin/env bash
# Throughput and tail latency of user-sync and sign-in measured by an
# outside load generator (wrk), next to GET /healthz of the same server in
# the same run (issue 31; docs/PERFORMANCE.md, "Tail latency").
#
#   scripts/tail-latency.sh                      # SQLite, 3 runs of 10 s
#   BACKEND=postgres PHASES=sync scripts/tail-latency.sh
#   RUNS=1 DURATION=2 SYNC_REQUESTS=60000 CODES=20000 scripts/tail-latency.sh   # smoke
#
# Settings (environment): BACKEND sqlite|postgres, RUNS (3), DURATION
# seconds per phase (10), CONNECTIONS (64), THREADS of wrk (2), PHASES
# "sync signin" (both), SYNC_REQUESTS signed for the user-sync phase
# (300000, must exceed rate × DURATION), CODES fresh codes for the sign-in
# phase (300000, the same; fewer codes stop wrk's threads early, which
# the output says with EXHAUSTED), POSTGRES_URL (postgres://postgres@127.0.0.1:5432/postgres,
# a throwaway database is created on it and dropped), SERVER_LOG where the
# server's log goes (/dev/null), SERVER_FLAGS extra `payfac serve` flags,
# PAYFAC_BIN another `payfac` binary to measure (to compare two builds).
#
# Once: builds the release binaries, makes a merchant key pair and signs
# SYNC_REQUESTS + CODES user-sync requests for new buyers (payfac-bench
# --write-sync-requests, on every core, before any clock starts). Each run:
# a fresh database on disk (not tmpfs: the fsyncs are part of the cost) with
# the merchant registered, a release `payfac serve --rate-limits off`, then
#   healthz  wrk GET /healthz
#   sync     wrk replaying SYNC_REQUESTS signed requests, each once
#   (codes)  wrk replaying CODES more, keeping each answer's code (untimed)
#   healthz  wrk GET /healthz again
#   signin   wrk GET /catalog/page?authorizationCode=… for each code once
# and the server is stopped. Prints each phase's rate, p50, p99 (wrk's
# RESULT and HISTOGRAM lines, scripts/wrk/report.lua), the ratio to the
# /healthz run before it, the load average, and at the end the median of
# the runs. Everything it starts or writes is gone when it exits.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/processes.sh
source "$repo/scripts/lib/processes.sh"

BACKEND=${BACKEND:-sqlite}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PHASES=${PHASES:-sync signin}
SYNC_REQUESTS=${SYNC_REQUESTS:-300000}
CODES=${CODES:-300000}
POSTGRES_URL=${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SERVER_LOG=${SERVER_LOG:-/dev/null}
SERVER_FLAGS=${SERVER_FLAGS:-}
MERCHANT=TAIL

if ! command -v wrk >/dev/null 2>&1; then
  echo "tail-latency: installing wrk (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi

target=${CARGO_TARGET_DIR:-$repo/target}
(cd "$repo" && cargo build -q --release -p payfac-cli -p payfac-bench)
payfac=${PAYFAC_BIN:-$target/release/payfac}
bench=$target/release/payfac-bench

"$payfac" keygen --out "$scratch/merchant" >/dev/null
echo "tail-latency: signing $((SYNC_REQUESTS + CODES)) requests" >&2
"$bench" --write-sync-requests "$scratch/signed.tsv" --count $((SYNC_REQUESTS + CODES)) \
  --merchant "$MERCHANT" --merchant-key "$scratch/merchant.key.pem"
head -n "$SYNC_REQUESTS" "$scratch/signed.tsv" >"$scratch/sync.tsv"
tail -n +"$((SYNC_REQUESTS + 1))" "$scratch/signed.tsv" >"$scratch/codes.tsv"
rm "$scratch/signed.tsv"

pg_database=
drop_database() {
  if [ -n "$pg_database" ]; then
    psql "$POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $pg_database WITH (FORCE)" >/dev/null 2>&1 || true
    pg_database=
  fi
}
server=
stop_server() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=
  fi
}
trap 'stop_server; drop_database; cleanup' EXIT

# wrk PHASE SCRIPT URL [ARGS...]: one timed phase; appends its RESULT line,
# tagged with the run and phase, to $scratch/results.
wrk_phase() {
  local run=$1 phase=$2 script=$3 url=$4
  shift 4
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s \
    -s "$repo/scripts/wrk/$script" "$url" -- "$@")
  local load
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  grep -E '^(EXHAUSTED|Non-2xx)' <<<"$out" >&2 || true
  local result
  result=$(grep '^RESULT' <<<"$out" | sed 's/^RESULT //')
  echo "run=$run phase=$phase $result load=${load// /,}" >>"$scratch/results"
  printf 'run %s %-8s %s load %s\n' "$run" "$phase" "$result" "$load"
  grep '^HISTOGRAM' <<<"$out" | sed 's/^/         /'
}

for run in $(seq 1 "$RUNS"); do
  port=$(free_port)
  base=http://127.0.0.1:$port
  case $BACKEND in
    sqlite)
      rm -f "$scratch"/payfac.db*
      database_url=sqlite://$scratch/payfac.db
      ;;
    postgres)
      pg_database=payfac_tail_$$_$run
      psql "$POSTGRES_URL" -qc "CREATE DATABASE $pg_database" >/dev/null
      database_url=${POSTGRES_URL%/*}/$pg_database
      ;;
    *) echo "tail-latency: BACKEND must be sqlite or postgres" >&2; exit 2 ;;
  esac
  "$payfac" merchant add "$MERCHANT" --public-key "$scratch/merchant.pub.pem" \
    --database-url "$database_url" >/dev/null
  # shellcheck disable=SC2086
  "$payfac" serve --database-url "$database_url" --listen "127.0.0.1:$port" \
    --rate-limits off --timestamp-window-secs 3600 --code-ttl-secs 3600 \
    $SERVER_FLAGS 2>"$SERVER_LOG" &
  server=$!
  wait_for "$base/healthz" || { echo "tail-latency: the server did not start" >&2; exit 1; }

  case " $PHASES " in *" sync "*)
    wrk_phase "$run" healthz healthz.lua "$base/healthz"
    wrk_phase "$run" sync user-sync.lua "$base" "$scratch/sync.tsv" "$THREADS"
    ;;
  esac
  case " $PHASES " in *" signin "*)
    rm -rf "$scratch/codes" && mkdir "$scratch/codes"
    # Untimed: the codes' user-syncs, at the same concurrency.
    PAYFAC_WRK_CODES_DIR=$scratch/codes wrk -t"$THREADS" -c"$CONNECTIONS" \
      -d"$((CODES / 12000 + 2))s" --timeout 10s -s "$repo/scripts/wrk/user-sync.lua" "$base" \
      -- "$scratch/codes.tsv" "$THREADS" >/dev/null
    cat "$scratch"/codes/codes.* | shuf >"$scratch/codes.txt"
    echo "         ($(wc -l <"$scratch/codes.txt") fresh codes)"
    wrk_phase "$run" healthz healthz.lua "$base/healthz"
    wrk_phase "$run" signin sign-in.lua "$base" "$scratch/codes.txt" "$THREADS"
    ;;
  esac
  kill -0 "$server" 2>/dev/null || { echo "tail-latency: the server exited during run $run" >&2; exit 1; }
  stop_server
  drop_database
done

# The median of the runs, per phase: rate, p50, p99, and the median of the
# ratios to the /healthz run before each.
echo
echo "median of $RUNS run(s), $BACKEND, $CONNECTIONS connections, ${DURATION}s per phase:"
awk '
  { for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
  f["phase"] == "healthz" { last[f["run"]] = f["rate"]; next }
  { n[f["phase"]]++; k = f["phase"] SUBSEP n[f["phase"]]
    rate[k] = f["rate"]; p50[k] = f["p50_ms"]; p99[k] = f["p99_ms"]
    ratio[k] = f["rate"] / last[f["run"]]; hz[k] = last[f["run"]] }
  function median(a, p, m,   v, i, j, t, c) {
    c = 0; for (i = 1; i <= m; i++) v[++c] = a[p, i] + 0
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
  }
  END { for (p in n) printf "  %-7s %6.0f req/s  p50 %5.2f ms  p99 %6.2f ms  ratio %.3f (healthz %.0f req/s)\n",
          p, median(rate, p, n[p]), median(p50, p, n[p]), median(p99, p, n[p]), median(ratio, p, n[p]), median(hz, p, n[p]) }
' "$scratch/results"
