# Helpers for scripts that start local servers, sourced by
# examples/gateway/run.sh and tests/proxies/run.sh.
#
#   scratch               a temporary directory, removed on exit
#   pids+=("$pid")        processes killed (and waited for) on exit
#   free_port             prints a free TCP port on 127.0.0.1
#   wait_for URL          waits up to 10 s for an HTTP 2xx at URL
#   wait_for_any URL      the same, for any HTTP answer (a 404 counts)

scratch=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_for() {
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

wait_for_any() {
  for _ in $(seq 1 100); do curl -sS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
