#!/usr/bin/env bash
# Runs the image's root filesystem without a container runtime:
#
#   deploy/container/check-rootfs.sh PATH/TO/payfac
#
# build-rootfs.sh assembles the tree the Containerfile's final stage
# holds; payfac then runs from it under chroot, as the image's user
# (65532) with the image's environment, so only what the tree holds is
# reachable. Checked: `payfac serve` starts and answers /healthz and
# /metrics, `payfac healthcheck` (the image's HEALTHCHECK, run inside the
# tree) exits 0, the SQLite file is made in the state directory (owned by
# the user, 0600), SIGTERM (the image's STOPSIGNAL) stops it with exit 0,
# and the HEALTHCHECK then fails. Needs root (chroot); leaves nothing
# behind.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:?usage: check-rootfs.sh PATH/TO/payfac}
[ "$(id -u)" = 0 ] || { echo "check-rootfs.sh: needs root (chroot)" >&2; exit 1; }
uid=65532
chroot=$(command -v chroot) || { echo "check-rootfs.sh: chroot is missing" >&2; exit 1; }
scratch=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
fail() { echo "check-rootfs.sh: $*" >&2; [ ! -f "$scratch/serve.log" ] || cat "$scratch/serve.log" >&2; exit 1; }

# What is run below is what the Containerfile declares: its final stage
# is this tree with this user, environment, volume, signal and commands.
for line in 'FROM scratch' 'COPY --from=build /rootfs/ /' 'USER 65532:65532' \
  'VOLUME ["/var/lib/payfac"]' 'STOPSIGNAL SIGTERM' '  CMD ["payfac", "healthcheck"]' \
  'ENTRYPOINT ["payfac"]' 'CMD ["serve"]' 'ENV PATH=/usr/local/bin \' \
  '    PAYFAC_DATABASE_URL=sqlite:///var/lib/payfac/payfac.db \' \
  ' && deploy/container/build-rootfs.sh target/release/payfac /rootfs'; do
  grep -qxF -- "$line" "$here/Containerfile" || fail "the Containerfile no longer has: $line"
done

root=$scratch/rootfs
"$here/build-rootfs.sh" "$binary" "$root"
echo "rootfs: $(find "$root" -type f | wc -l) files, $(du -sh "$root" | cut -f1)"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The Containerfile's ENV, but on a free loopback port; the command runs
# in the tree as its user. `exec` so that $pid is payfac itself.
in_image() {
  exec env -i PATH=/usr/local/bin PAYFAC_LISTEN="127.0.0.1:$port" \
    PAYFAC_DATABASE_URL=sqlite:///var/lib/payfac/payfac.db PAYFAC_LOG_JSON=true \
    "$chroot" --userspec="$uid:$uid" "$root" "$@"
}

(in_image payfac serve) >"$scratch/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || fail "payfac serve ended"
  sleep 0.1
done
[ "$(curl -fsS "http://127.0.0.1:$port/healthz")" = ok ] || fail "/healthz did not answer ok"
metrics=$(curl -fsS "http://127.0.0.1:$port/metrics") || fail "/metrics did not answer"
grep -qx 'payfac_storage_up 1' <<<"$metrics" || fail "/metrics lacks payfac_storage_up 1"
(in_image payfac healthcheck) || fail "payfac healthcheck exited $? against a serving instance"

db=$root/var/lib/payfac/payfac.db
[ -f "$db" ] || fail "no SQLite file in /var/lib/payfac"
[ "$(stat -c '%u %a' "$db")" = "$uid 600" ] || fail "payfac.db is $(stat -c '%u %a' "$db"), not $uid 600"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || fail "payfac serve exited $status after SIGTERM"
if (in_image payfac healthcheck) 2>"$scratch/healthcheck.err"; then
  fail "payfac healthcheck exited 0 with nothing serving"
fi
echo "stopped; HEALTHCHECK now says: $(cat "$scratch/healthcheck.err")"
echo "deploy/container: the rootfs serves, passes its HEALTHCHECK and stops on SIGTERM"
