#!/usr/bin/env bash
# Stop everything up.sh started, by the PIDs it recorded (Airflow services first, then the infrastructure).
#   down.sh [--wipe]      --wipe also deletes the deployment's state ($DEPLOY), logs included.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=scripts/deployment/common.sh
source "$REPO/scripts/deployment/common.sh"

# Workers first (their tasks' containers keep running on the engine), the api-server last of Airflow.
for s in "${WORKERS[@]}" triggerer scheduler dag-processor api-server tls-relay tls-relay-b moto redis; do
    stop_service "$s"
done
stop_service postgres INT
if [ "${1:-}" = "--wipe" ]; then
    rm -rf "$DEPLOY"
    log "wiped $DEPLOY"
fi
exit 0
