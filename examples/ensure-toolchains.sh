#!/usr/bin/env bash
# Make sure the four sample toolchains are present: java (17+), python3 with
# `cryptography`, node (20+), go. Installs what it can (Debian, as root):
# Go and Java via apt-get, `cryptography` via pip. Idempotent; silent when
# everything is already there.
set -euo pipefail

apt_updated=
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "ensure-toolchains: please install $* (needs root + apt-get)" >&2
    return 1
  fi
  echo "ensure-toolchains: apt-get install $*" >&2
  if [ -z "$apt_updated" ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v java >/dev/null || apt_install openjdk-17-jdk-headless
command -v go >/dev/null || apt_install golang-go

command -v python3 >/dev/null || { echo "ensure-toolchains: python3 (3.11+) is missing" >&2; exit 1; }
if ! python3 -c 'import cryptography' 2>/dev/null; then
  echo "ensure-toolchains: pip install cryptography" >&2
  python3 -m pip install -q cryptography 2>/dev/null \
    || python3 -m pip install -q --break-system-packages cryptography
fi

if ! command -v node >/dev/null; then
  echo "ensure-toolchains: node 20+ is missing (see https://nodejs.org)" >&2
  exit 1
fi
