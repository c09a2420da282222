#!/usr/bin/env bash
# Checks deploy/systemd/payfac.service without a running systemd (CI and
# containers have none as PID 1):
#
#   deploy/systemd/verify.sh PATH/TO/payfac
#
# - `systemd-analyze verify --root=ROOT`: ROOT is a scratch tree holding
#   the distribution's unit directory, the unit in etc/systemd/system, its
#   environment file and the given binary as usr/local/bin/payfac (verify
#   checks that ExecStart is executable). Any warning (an unknown key, a
#   value that does not parse) fails the check, not only errors.
# - `systemd-analyze security --offline=yes`: the exposure score stays at
#   or below 2.0 ("OK"), so hardening does not silently regress.
# - payfac's own contract: TimeoutStopSec exceeds the shutdown grace, and
#   there is no ExecReload (payfac has no reload signal).
# - The check itself: a unit with a misspelt key must be refused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:?usage: verify.sh PATH/TO/payfac}
[ -x "$binary" ] || { echo "verify.sh: $binary is not executable" >&2; exit 1; }
command -v systemd-analyze >/dev/null || { echo "verify.sh: systemd-analyze is missing (apt-get install systemd)" >&2; exit 1; }
units=/usr/lib/systemd/system
[ -d "$units" ] || units=/lib/systemd/system

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/lib/systemd" "$root/usr/local/bin" "$root/etc/systemd/system" "$root/etc/payfac"
cp -a "$units" "$root/usr/lib/systemd/"
cp "$binary" "$root/usr/local/bin/payfac"
cp "$here/payfac.env" "$root/etc/payfac/payfac.env"

# Verifies the unit as installed in ROOT; fails on any output.
verify() {
  cp "$1" "$root/etc/systemd/system/payfac.service"
  local out
  out=$(systemd-analyze verify --root="$root" payfac.service 2>&1) || { echo "$out"; return 1; }
  [ -z "$out" ] || { echo "$out"; return 1; }
}

verify "$here/payfac.service" || { echo "verify.sh: systemd-analyze verify refused payfac.service" >&2; exit 1; }
systemd-analyze security --offline=yes --root="$root" --threshold=20 --no-pager payfac.service >"$root/security.txt" 2>&1 || {
  cat "$root/security.txt" >&2
  echo "verify.sh: payfac.service is exposed more than 2.0" >&2
  exit 1
}
grep 'Overall exposure' "$root/security.txt"

value() { sed -n "s/^$1=//p" "$here/payfac.service" | tail -1; }
grace=$(value 'Environment=PAYFAC_SHUTDOWN_GRACE_SECS')
stop=$(value TimeoutStopSec)
[ -n "$grace" ] && [ -n "$stop" ] && [ "$stop" -gt "$((grace + 5))" ] || {
  echo "verify.sh: TimeoutStopSec ($stop) must exceed the shutdown grace ($grace) plus the flush" >&2
  exit 1
}
if grep -q '^ExecReload=' "$here/payfac.service"; then
  echo "verify.sh: payfac has no reload signal; remove ExecReload" >&2
  exit 1
fi

sed 's/^ProtectSystem=/ProtectSytem=/' "$here/payfac.service" >"$root/typo.service"
if verify "$root/typo.service" >/dev/null; then
  echo "verify.sh: a misspelt key went unnoticed; the check is broken" >&2
  exit 1
fi
echo "deploy/systemd/payfac.service: verified (systemd $(systemd-analyze --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p'))"
