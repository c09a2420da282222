#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (default 60) and exits
# non-zero when any target crashes or its oracle fails. CI runs it for a
# few seconds a target (scripts/test.sh); the long run is `scripts/fuzz.sh
# 600`. See docs/RELIABILITY.md, "Fuzzing".
#
# Toolchain: stable Rust is enough. cargo-fuzz asks for nightly only for
# the sanitizers (`-Zsanitizer`) and `-Zbuild-std`; with `--sanitizer
# none` it passes rustc nothing but stable flags (`-Cpasses=sancov-module`,
# `-Cllvm-args=-sanitizer-coverage-*`, `--cfg fuzzing`), and libfuzzer-sys
# builds libFuzzer from source with the system's C++ compiler. An
# AddressSanitizer run by hand needs RUSTC_BOOTSTRAP=1 on stable (and a
# separate build: cargo rebuilds everything when that variable changes).
#
# Environment: FUZZ_TARGETS="a b" runs only those; FUZZ_ARGS adds libFuzzer
# options. Crash inputs land in fuzz/artifacts/<target>/; the corpus grows
# in fuzz/corpus/<target>/ (both ignored by git); one log per target in
# fuzz/logs/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
export CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

# One build of every target in one target dir: the dev profile of
# fuzz/Cargo.toml (opt-level 1, debug assertions), no sanitizer.
build=(--dev --sanitizer none)
started=$(date +%s)
cargo fuzz build "${build[@]}"
echo "fuzz: built every target in $(( $(date +%s) - started )) s"

./seeds.py corpus
mkdir -p logs
targets=${FUZZ_TARGETS:-$(cargo fuzz list)}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export PAYFAC_FUZZ_TMP=$scratch

failed=()
for target in $targets; do
  log=logs/$target.log
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
  if cargo fuzz run "${build[@]}" "$target" "corpus/$target" -- \
      -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
      -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1; then
    outcome=ok
  else
    outcome=FAILED
    failed+=("$target")
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 || true)
  printf 'fuzz: %-18s %s  %ss  %s execs  %s\n' "$target" "$outcome" "$seconds" "${runs:-?}" "${cov:-}"
  if [ "$outcome" = FAILED ]; then
    tail -40 "$log" >&2
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in fuzz/artifacts/, logs in fuzz/logs/)" >&2
  exit 1
fi
echo "fuzz: every target ran ${seconds}s without a crash"
