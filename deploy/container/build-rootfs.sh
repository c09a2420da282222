#!/usr/bin/env bash
# Assembles the image's whole root filesystem from a built payfac binary:
#
#   deploy/container/build-rootfs.sh PATH/TO/payfac ROOTFS
#
# ROOTFS gets the binary (usr/local/bin/payfac), the shared libraries
# `ldd` lists for it and the dynamic loader at their own paths, an
# /etc/passwd and /etc/group naming the unprivileged user payfac
# (65532:65532), the state directory /var/lib/payfac (0700, owned by that
# user) and /tmp. Nothing else: no shell, no package manager. The
# Containerfile's final stage is `FROM scratch` with this tree;
# check-rootfs.sh runs it under chroot. Needs root (the chown).
set -euo pipefail
binary=${1:?usage: build-rootfs.sh PATH/TO/payfac ROOTFS}
out=${2:?usage: build-rootfs.sh PATH/TO/payfac ROOTFS}
uid=65532
[ -x "$binary" ] || { echo "build-rootfs.sh: $binary is not executable" >&2; exit 1; }
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
  echo "build-rootfs.sh: $out is not empty" >&2
  exit 1
fi
mkdir -p "$out/usr/local/bin" "$out/etc" "$out/var/lib/payfac" "$out/tmp"
install -m 0755 "$binary" "$out/usr/local/bin/payfac"

# `ldd` prints "name => /path (address)" per library and "/path (address)"
# for the loader; linux-vdso is the kernel's and has no file.
libraries=$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
[ -n "$libraries" ] || { echo "build-rootfs.sh: ldd lists no libraries for $binary" >&2; exit 1; }
for library in $libraries; do
  mkdir -p "$out$(dirname "$library")"
  cp -L "$library" "$out$library"
done

printf 'root:x:0:0:root:/:/nonexistent\npayfac:x:%s:%s:payfac:/var/lib/payfac:/nonexistent\n' "$uid" "$uid" >"$out/etc/passwd"
printf 'root:x:0:\npayfac:x:%s:\n' "$uid" >"$out/etc/group"
# Host names (a PostgreSQL host) resolve through /etc/hosts, then DNS;
# the container runtime provides both files.
printf 'hosts: files dns\n' >"$out/etc/nsswitch.conf"
chown "$uid:$uid" "$out/var/lib/payfac"
chmod 0700 "$out/var/lib/payfac"
chmod 1777 "$out/tmp"
