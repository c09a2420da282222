#!/usr/bin/env bash
# The project's test command: every Rust test against SQLite and a real
# PostgreSQL, then the merchant samples against the signature vectors.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-postgres.sh
export PAYFAC_TEST_POSTGRES_URL=${PAYFAC_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}

cargo test --workspace --all-targets

examples/ensure-toolchains.sh
examples/run.sh vectors
