# A PostgreSQL server for the tests, sourced by scripts/test.sh.
#
#   start_test_postgres   exports PAYFAC_TEST_POSTGRES_URL
#   stop_test_postgres    stops the throwaway cluster, if one was started
#
# The server at PAYFAC_TEST_POSTGRES_URL (default: 127.0.0.1:5432, user
# postgres) is used when it answers. Otherwise a throwaway cluster of the
# tests' own is started: initdb in a temporary directory, its own port and
# Unix socket directory, trust authentication inside that cluster only.
# The system cluster's configuration is never read or changed; the
# PostgreSQL packages are installed with apt-get only when missing.

test_postgres_dir=

start_test_postgres() {
  local url=${PAYFAC_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  if ! command -v psql >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "test-postgres: installing PostgreSQL (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
  if psql "$url" -Atqc 'SELECT 1' >/dev/null 2>&1; then
    export PAYFAC_TEST_POSTGRES_URL=$url
    echo "test-postgres: using the server at ${url%%\?*}" >&2
    return 0
  fi

  local bin port
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  test_postgres_dir=$(mktemp -d /tmp/payfac-test-postgres.XXXXXX)
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # initdb refuses to run as root: the cluster belongs to the postgres user
  # the package created (or to the caller when not root).
  local as=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$test_postgres_dir"
    as=(runuser -u postgres --)
  fi
  echo "test-postgres: nothing answers at ${url%%\?*}; starting a throwaway cluster on 127.0.0.1:$port" >&2
  "${as[@]}" "$bin/initdb" -D "$test_postgres_dir/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
  "${as[@]}" "$bin/pg_ctl" -D "$test_postgres_dir/data" -l "$test_postgres_dir/server.log" -w -t 60 \
    -o "-p $port -k $test_postgres_dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null \
    || { cat "$test_postgres_dir/server.log" >&2; return 1; }
  export PAYFAC_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

stop_test_postgres() {
  [ -n "$test_postgres_dir" ] || return 0
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$test_postgres_dir/data" -m immediate stop >/dev/null 2>&1 || true
  else
    "$bin/pg_ctl" -D "$test_postgres_dir/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$test_postgres_dir"
  test_postgres_dir=
}
