#!/usr/bin/env bash
# Stop everything up.sh started, by the PIDs it recorded (Airflow services first, then the infrastructure).
#   down.sh [--wipe]      --wipe also deletes the deployment's state ($DEPLOY), logs included.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=scripts/deployment/common.sh
source "$REPO/scripts/deployment/common.sh"

# stop_together NAME...: stop_service each at once and wait for all (each waits up to 30 s for its own process,
# so the group takes as long as its slowest member, not the sum).
stop_together() {
    local s
    for s in "$@"; do stop_service "$s" & done
    wait
}

# Airflow's services first, together (their tasks' containers keep running on the engine); then what they used;
# PostgreSQL last, with the fast-shutdown signal.
stop_together "${WORKERS[@]}" triggerer scheduler dag-processor api-server
stop_together tls-relay tls-relay-b moto redis
stop_service postgres INT
if [ "${1:-}" = "--wipe" ]; then
    rm -rf "$DEPLOY"
    log "wiped $DEPLOY"
fi
exit 0
