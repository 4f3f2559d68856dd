#!/usr/bin/env bash
# Make sure a Docker engine answers. Idempotent: when `docker info` works, this does nothing.
# Otherwise (local engine only) it installs docker.io via apt when dockerd is missing, starts dockerd in the
# background (no systemd needed; log in $DSJOBS_WORK/dockerd.log) and waits up to DSJOBS_DOCKER_WAIT (60) seconds.
# DSJOBS_DOCKERD_ARGS adds arguments to dockerd. A remote engine (DOCKER_HOST / DSJOBS_DOCKER_URL = tcp://...)
# is only checked, never started.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The CLI and the tests read DSJOBS_DOCKER_URL before DOCKER_HOST; so does this script.
if [ -n "${DSJOBS_DOCKER_URL:-}" ]; then
    export DOCKER_HOST="$DSJOBS_DOCKER_URL"
fi
wait_seconds="${DSJOBS_DOCKER_WAIT:-60}"

engine_up() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_up; then
    exit 0
fi

case "${DOCKER_HOST:-unix:///var/run/docker.sock}" in
unix://*) socket="${DOCKER_HOST:-unix:///var/run/docker.sock}" ;;
*) die "the Docker engine at $DOCKER_HOST does not answer (docker info failed); start it or fix DOCKER_HOST" ;;
esac

if [ "$(id -u)" -ne 0 ]; then
    command -v docker >/dev/null 2>&1 || die "Docker is not installed: install it, or run this script as root to install docker.io"
    die "the Docker engine at $socket does not answer; start it (e.g. 'sudo systemctl start docker') or run this script as root"
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    # The package's postinst starts the service and fails the install when that fails (no init system, say).
    # A policy-rc.d that denies service starts keeps apt out of it; dockerd is started below, our way.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        trap 'rm -f "$policy"' EXIT
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
    fi
    apt_install docker.io
fi

mkdir -p "$WORK"
dockerd_log="$WORK/dockerd.log"
socket_path="${socket#unix://}"
dockerd_pid=""
# The default pid files of a dockerd started without --pidfile/--exec-root (ours below, or a service: any dockerd).
drop_stale_pidfile /var/run/docker.pid dockerd ""
drop_stale_pidfile /var/run/docker/containerd/containerd.pid containerd /var/run/docker/containerd/containerd.toml
if [ -S "$socket_path" ] && [ -f /var/run/docker.pid ]; then
    # An engine that is still starting (a service, or ours from an earlier run) gets time; no second one.
    log "dockerd is running but does not answer yet; waiting up to ${wait_seconds} s"
else
    log "starting dockerd (log: $dockerd_log)"
    # setsid + redirected stdio: the daemon outlives this script and holds none of the caller's pipes.
    # shellcheck disable=SC2086  # DSJOBS_DOCKERD_ARGS is a list of arguments
    setsid dockerd -H "$socket" ${DSJOBS_DOCKERD_ARGS:-} </dev/null >>"$dockerd_log" 2>&1 &
    dockerd_pid=$!
fi

for _ in $(seq 1 "$wait_seconds"); do
    if DOCKER_HOST="$socket" docker info >/dev/null 2>&1; then
        log "Docker engine is up ($socket)"
        exit 0
    fi
    if [ -n "$dockerd_pid" ] && ! kill -0 "$dockerd_pid" 2>/dev/null; then
        tail -n 5 "$dockerd_log" >&2 || true
        die "dockerd exited during start-up; see $dockerd_log"
    fi
    sleep 1
done
tail -n 5 "$dockerd_log" >&2 2>/dev/null || true
die "the Docker engine did not answer within ${wait_seconds} s; see $dockerd_log"
