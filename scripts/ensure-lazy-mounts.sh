#!/usr/bin/env bash
# What lazy (FUSE) S3 mounts need on this machine's Docker engine (docs/howto/data-caching.md): an image with
# s3fs, built from the test image, and a mount root on the engine host that is a *shared* mount, so a mount made
# inside the helper container reaches the job's container. Idempotent: an existing image is not rebuilt, a root
# that is already a shared mount is left alone. Prints "IMAGE ROOT" on stdout.
#   DSJOBS_S3FS_IMAGE        tag to build (default dsjobs-test/s3fs:1.90)
#   DSJOBS_LAZY_MOUNT_ROOT   the mount root (default /var/lib/dsjobs/lazy-mounts)
#   DSJOBS_TEST_IMAGE        the base image (default dsjobs-test/python:3.11, scripts/build-test-image.sh)
# On a systemd host / is already shared; here (no systemd) the root is bind-mounted onto itself first.
# Needs root (or sudo) for the mount, and /dev/fuse on the engine host.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

image="${DSJOBS_S3FS_IMAGE:-dsjobs-test/s3fs:1.90}"
root="${DSJOBS_LAZY_MOUNT_ROOT:-/var/lib/dsjobs/lazy-mounts}"
base="${DSJOBS_TEST_IMAGE:-dsjobs-test/python:3.11}"

[ -e /dev/fuse ] || die "/dev/fuse does not exist: this machine cannot serve lazy S3 mounts (load the fuse module)"
case "$root" in
/*) ;;
*) die "DSJOBS_LAZY_MOUNT_ROOT must be an absolute path, got '$root'" ;;
esac

"$REPO/scripts/ensure-docker.sh" >&2

mkdir -p "$WORK/cache" "$WORK/logs"
exec 9>"$WORK/cache/build-s3fs.lock"
flock 9
if ! docker image inspect "$image" >/dev/null 2>&1; then
    docker image inspect "$base" >/dev/null 2>&1 || "$REPO/scripts/build-test-image.sh" bookworm >&2
    context="$(mktemp -d)"
    trap 'rm -rf "$context"' EXIT
    cat >"$context/Dockerfile" <<DOCKERFILE
FROM $base
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends s3fs \
    && rm -rf /var/lib/apt/lists/*
DOCKERFILE
    build_log="$WORK/logs/s3fs-image.log"
    log "building $image (log: $build_log)"
    # --network host: RUN reaches the Debian mirror the way this machine does
    docker build --network host -q -t "$image" "$context" >"$build_log" 2>&1 \
        || die "building $image failed; see $build_log"
fi

as_root mkdir -p "$root"
if ! mountpoint -q "$root"; then
    as_root mount --bind "$root" "$root"
fi
as_root mount --make-rshared "$root"
findmnt -n -o PROPAGATION --target "$root" | grep -q shared || die "$root is not a shared mount after --make-rshared"
printf '%s %s\n' "$image" "$root"
