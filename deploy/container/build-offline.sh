#!/usr/bin/env bash
# Builds the Containerfile's final stage with podman, offline:
#
#   deploy/container/build-offline.sh PATH/TO/payfac
#
# The build stage needs rust:1-bookworm from a registry, so here it is
# replaced by a `FROM scratch` stage holding the tree build-rootfs.sh
# assembles from the given binary (what the real build stage ends with);
# every line from the final stage on is the Containerfile's own. Then the
# image's config must carry the non-root user, the environment, the state
# volume, the stop signal and the HEALTHCHECK. Running the image needs a
# container runtime with cgroups and rlimits (check-rootfs.sh runs its
# tree under chroot instead). Images go to a scratch storage root, removed
# on exit. Needs root (unshare, mount).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:?usage: build-offline.sh PATH/TO/payfac}
command -v podman >/dev/null || { echo "build-offline.sh: podman is missing (apt-get install podman)" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "build-offline.sh: $*" >&2; exit 1; }

context=$scratch/context
mkdir -p "$context"
"$here/build-rootfs.sh" "$binary" "$context/rootfs"
awk '
  /^FROM / && !seen { print "FROM scratch AS build"; print "COPY rootfs/ /rootfs/"; seen = 1; skip = 1; next }
  skip && /^FROM scratch$/ { skip = 0 }
  !skip
' "$here/Containerfile" >"$context/Containerfile"
grep -qx 'FROM scratch' "$context/Containerfile" || fail "the Containerfile's final stage is not FROM scratch"

# podman also writes outside its storage root: a blob cache in
# /var/lib/containers and its state in /run/libpod. In a mount namespace
# of its own both are scratch tmpfs mounts, gone when it exits; a mount
# point this script had to make is removed on exit too.
made=()
for dir in /var/lib/containers /run/libpod; do
  [ -d "$dir" ] || { mkdir -p "$dir"; made+=("$dir"); }
done
trap 'rm -rf "$scratch"; for dir in "${made[@]}"; do rmdir "$dir"; done' EXIT
podman=(unshare --mount --propagation private sh -c
  'mount -t tmpfs payfac-build /var/lib/containers && mount -t tmpfs payfac-build /run/libpod && exec "$@"' podman
  podman --root "$scratch/storage" --runroot "$scratch/run" --tmpdir "$scratch/tmp"
  --storage-driver vfs --events-backend none)
"${podman[@]}" build -q --format docker -f "$context/Containerfile" -t payfac-offline "$context" >/dev/null
config=$("${podman[@]}" image inspect payfac-offline --format \
  '{{.Config.User}}|{{json .Config.Volumes}}|{{.Config.StopSignal}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}|{{json .Config.Env}}|{{json .HealthCheck}}')
for want in '65532:65532|{"/var/lib/payfac":{}}|SIGTERM|["payfac"]|["serve"]|' \
  '"PAYFAC_DATABASE_URL=sqlite:///var/lib/payfac/payfac.db"' \
  '"Test":["CMD","payfac","healthcheck"]'; do
  [[ "$config" == *"$want"* ]] || fail "the image config lacks $want: $config"
done
"${podman[@]}" rmi -f payfac-offline >/dev/null
echo "deploy/container: the final stage builds offline; user, volume, stop signal and HEALTHCHECK are in its config"
