#!/usr/bin/env bash
# Build a small Debian image with Python, without any registry: debootstrap a minbase root file system and
# `docker import` it.  Usage: scripts/build-test-image.sh [SUITE] [TAG]
#   SUITE  bookworm (Python 3.11, default) | bullseye (3.9) | trixie (3.13)
#   TAG    default dsjobs-test/python:<version>. The image is also tagged dsjobs-local/python:<version> (the
#          main job's offline default), unless a custom TAG is given and that tag exists already.
# Cached twice: an existing image is not rebuilt, and the root file system tarball is kept in
# $DSJOBS_WORK/cache/ so that a rebuild (say, after `docker image prune`) is a few-second import.
# DSJOBS_DEBIAN_MIRROR overrides the Debian mirror (default http://deb.debian.org/debian).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

suite="${1:-bookworm}"
case "$suite" in
bookworm) version=3.11 ;;
bullseye) version=3.9 ;;
trixie) version=3.13 ;;
*) die "unknown suite '$suite': use bookworm (Python 3.11), bullseye (3.9) or trixie (3.13)" ;;
esac
default_tag="dsjobs-test/python:$version"
tag="${2:-$default_tag}"
local_tag="dsjobs-local/python:$version"
mirror="${DSJOBS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

"$REPO/scripts/ensure-docker.sh"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

cache="$WORK/cache"
mkdir -p "$cache" "$WORK/logs"
# One build per suite at a time (two scripts of the same checkout may run concurrently).
exec 9>"$cache/build-$suite.lock"
flock 9

if have_image "$tag"; then
    have_image "$local_tag" || docker tag "$tag" "$local_tag"
    exit 0
fi

tarball="$cache/rootfs-$suite-python.tar"
if [ ! -f "$tarball" ]; then
    missing=()
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    # Ubuntu hosts lack the Debian archive key that debootstrap checks the Release file with.
    [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
    [ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"
    rootfs="$cache/rootfs-$suite.d"
    build_log="$WORK/logs/debootstrap-$suite.log"
    # Never follow a mount left behind by an interrupted debootstrap (its /proc, /sys) while deleting.
    remove_rootfs() {
        if [ -d "$rootfs" ]; then
            findmnt -rn -o TARGET | grep -F "$rootfs/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
            as_root rm -rf --one-file-system "$rootfs"
        fi
    }
    remove_rootfs
    log "debootstrap $suite (Python $version) from $mirror; about a minute (log: $build_log)"
    start=$(now)
    as_root debootstrap --variant=minbase --include=python3,python3-venv,python3-pip \
        "$suite" "$rootfs" "$mirror" >"$build_log" 2>&1 \
        || { tail -n 5 "$build_log" >&2; die "debootstrap $suite failed; see $build_log"; }
    as_root ln -sf python3 "$rootfs/usr/bin/python"
    # Downloaded packages and package lists are not needed inside the image.
    as_root find "$rootfs/var/cache/apt/archives" "$rootfs/var/lib/apt/lists" -type f -delete
    as_root tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    remove_rootfs
    log "root file system built in $(($(now) - start)) s: $tarball"
fi

log "importing $tarball as $tag"
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --change "LABEL org.dsjobs.built-by=scripts/build-test-image.sh org.dsjobs.suite=$suite" \
    --message "debootstrap $suite minbase + python3 $version" \
    - "$tag" <"$tarball" >/dev/null
# The main-job image follows the default test image; a custom TAG only claims it when it is free.
if [ "$tag" = "$default_tag" ] || ! have_image "$local_tag"; then
    docker tag "$tag" "$local_tag"
fi
docker run --rm "$tag" python -c 'import sys, venv; print("python", sys.version.split()[0], "ok")' >&2 \
    || die "the image $tag does not run python"
