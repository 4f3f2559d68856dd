#!/usr/bin/env bash
# Run an `airflow` CLI command against the deployment (its database, its configuration) from an admin home of
# its own, e.g. `scripts/deployment/admin.sh dags list` or `admin.sh connections get dsjobs_default`.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=scripts/deployment/common.sh
source "$REPO/scripts/deployment/common.sh"
load_state
use_venv
airflow_common_env
service_home admin
exec airflow "$@"
