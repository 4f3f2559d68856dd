#!/usr/bin/env bash
# A second Docker engine on this machine, so tests can run a job on one engine and read it from another
# (tests/engines, tests/deployment). Idempotent: an engine that answers is left alone. Prints its URL
# (unix:///run/dsjobs-engine-b.sock) on stdout; `ensure-second-engine.sh stop` stops it again.
#
# It gets everything of its own: socket, data root, exec root, pid file, trust key (its engine ID) and a bridge
# NAME with its own subnet. Never `dockerd --bridge none`: that deletes the first engine's docker0.
# The test image (DSJOBS_TEST_IMAGE) is copied into it from the first engine (docker save | docker load).
# Needs root (or sudo) and the first engine (scripts/ensure-docker.sh, which installs docker.io when missing).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name="${DSJOBS_SECOND_ENGINE_NAME:-dsjobs-engine-b}"
socket="/run/$name.sock"
url="unix://$socket"
root="${DSJOBS_SECOND_ENGINE_ROOT:-/var/lib/$name}"
exec_root="/run/$name"
pidfile="/run/$name.pid"
bridge="${DSJOBS_SECOND_ENGINE_BRIDGE:-dsjobsb0}"
bridge_ip="${DSJOBS_SECOND_ENGINE_BRIDGE_IP:-172.31.250.1/24}"
image="${DSJOBS_TEST_IMAGE:-dsjobs-test/python:3.11}"
wait_seconds="${DSJOBS_DOCKER_WAIT:-60}"
mkdir -p "$WORK/logs"
engine_log="$WORK/logs/$name.log"

engine_up() { docker -H "$url" info >/dev/null 2>&1; }

stop_engine() {
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        as_root kill "$(cat "$pidfile")"
        for _ in $(seq 1 30); do
            kill -0 "$(cat "$pidfile" 2>/dev/null || echo 0)" 2>/dev/null || break
            sleep 1
        done
    fi
    if ip link show "$bridge" >/dev/null 2>&1; then
        as_root ip link delete "$bridge" type bridge
    fi
    log "second engine $name stopped"
}

if [ "${1:-}" = "stop" ]; then
    stop_engine
    exit 0
fi

"$REPO/scripts/ensure-docker.sh" >&2

if ! engine_up; then
    if ! ip link show "$bridge" >/dev/null 2>&1; then
        as_root ip link add "$bridge" type bridge
    fi
    if ! ip -4 addr show dev "$bridge" | grep -q "inet ${bridge_ip%/*}/"; then
        as_root ip addr add "$bridge_ip" dev "$bridge"
    fi
    as_root ip link set "$bridge" up
    as_root mkdir -p "$root/data" "$exec_root"
    # Before 23.0 the engine ID comes from a trust key that every dockerd of the host shares (/etc/docker/key.json):
    # this engine gets its own. Newer engines keep their ID in the data root.
    config='{}'
    major="$(dockerd --version | sed -E 's/^Docker version ([0-9]+).*/\1/')"
    if [ "$major" -lt 23 ] 2>/dev/null; then
        config="{\"deprecated-key-path\": \"$root/key.json\"}"
    fi
    echo "$config" | as_root tee "$root/daemon.json" >/dev/null
    args=(
        --host "$url" --data-root "$root/data" --exec-root "$exec_root" --pidfile "$pidfile"
        --config-file "$root/daemon.json" --bridge "$bridge" --iptables=false --ip6tables=false
    )
    # Left by an engine that is gone (an earlier session, a killed run): dockerd would trust them.
    drop_stale_pidfile "$pidfile" dockerd "$url"
    drop_stale_pidfile "$exec_root/containerd/containerd.pid" containerd "$exec_root/containerd/containerd.toml"
    log "starting $name (log: $engine_log)"
    # setsid + redirected stdio: the daemon outlives this script and holds none of the caller's pipes.
    as_root setsid dockerd "${args[@]}" </dev/null >>"$engine_log" 2>&1 &
    started_pid=$!
    for _ in $(seq 1 "$wait_seconds"); do
        engine_up && break
        if ! kill -0 "$started_pid" 2>/dev/null && ! engine_up; then
            tail -n 5 "$engine_log" >&2 || true
            die "$name exited during start-up; see $engine_log"
        fi
        sleep 1
    done
    engine_up || die "$name did not answer within ${wait_seconds} s; see $engine_log"
    log "second engine is up ($url)"
fi

if ! docker -H "$url" image inspect "$image" >/dev/null 2>&1; then
    docker image inspect "$image" >/dev/null 2>&1 || die "image $image is not on the first engine (scripts/build-test-image.sh)"
    log "loading $image into $name"
    docker save "$image" | docker -H "$url" load >/dev/null
fi
echo "$url"
