#!/usr/bin/env bash
# Run the four merchant samples (java, python, node, go).
#   examples/run.sh vectors [VECTORS_JSON]           check the signature test vectors
#   examples/run.sh call BASE_URL MERCHANT_ID KEY_PEM  make one signed user-sync call each
# Prints "N passed, M failed" and exits non-zero on any failure.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
langs=(java python node go)

# Run sample $1 with the remaining arguments.
sample() {
  local lang=$1; shift
  case $lang in
    java)   java "$here/java/PayfacSign.java" "$@" ;;
    python) python3 "$here/python/payfac_sign.py" "$@" ;;
    node)   node "$here/node/payfac_sign.mjs" "$@" ;;
    go)     (cd "$here/go" && go run . "$@") ;;
  esac
}

abspath() { (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); }
rand() { od -An -tx1 -N4 /dev/urandom | tr -d ' \n'; }

mode=${1:-}
case $mode in
  vectors)
    [ $# -le 2 ] || { echo "usage: $0 vectors [VECTORS_JSON]" >&2; exit 2; }
    vectors="$(abspath "${2:-$root/tests/vectors/signature-vectors.json}")"
    ;;
  call)
    [ $# -eq 4 ] || { echo "usage: $0 call BASE_URL MERCHANT_ID KEY_PEM" >&2; exit 2; }
    base_url=$2 merchant=$3 key="$(abspath "$4")"
    ;;
  *)
    echo "usage: $0 vectors [VECTORS_JSON] | $0 call BASE_URL MERCHANT_ID KEY_PEM" >&2
    exit 2
    ;;
esac

passed=0 failed=0
for lang in "${langs[@]}"; do
  echo "== $lang"
  if [ "$mode" = vectors ]; then
    sample "$lang" vectors "$vectors"
  else
    user="sample-$lang-$(rand)"
    sample "$lang" call "$base_url" "$merchant" "$key" "$user" "$user@example.com"
  fi
  rc=$?
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "FAILED: $lang $mode (exit $rc)"
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
