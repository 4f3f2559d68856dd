#!/usr/bin/env bash
# The main job: set everything up, then run the example end to end on embedded defaults (local Docker engine,
# local-directory store under $DSJOBS_HOME, default ~/.dsjobs). Safe to run again; a second run skips set-up.
#   1. the project virtualenv (scripts/bootstrap.sh) and a Docker engine (scripts/ensure-docker.sh);
#   2. the default job image: `docker pull python:3.11-slim`, or, when no registry answers, a locally built
#      image (scripts/build-test-image.sh) exported as DSJOBS_DEFAULT_IMAGE / DSJOBS_PYTHON_IMAGE;
#   3. a project-local Airflow home ($DSJOBS_WORK/airflow) with its database migrated;
#   4. `airflow dags test dsjobs_quickstart` when dags_examples/quickstart.py exists, else `dsjobs validate`
#      on every dags_examples/jobs/*/config.yaml.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"

"$REPO/scripts/bootstrap.sh"
use_venv
"$REPO/scripts/ensure-docker.sh"

# A default image the job can run in. Explicit settings win; otherwise the public image, pulled when missing;
# offline, a local build of the same Python.
if [ -z "${DSJOBS_DEFAULT_IMAGE:-}" ]; then
    public_image="python:3.11-slim"
    have_public=""
    if docker image inspect "$public_image" >/dev/null 2>&1; then
        have_public=1
    else
        log "pulling $public_image (at most ${DSJOBS_PULL_TIMEOUT:-60} s)"
        timeout "${DSJOBS_PULL_TIMEOUT:-60}" docker pull -q "$public_image" >/dev/null 2>&1 && have_public=1
    fi
    if [ -z "$have_public" ]; then
        log "cannot pull $public_image (no registry reachable?); using a locally built image instead"
        "$REPO/scripts/build-test-image.sh" bookworm
        export DSJOBS_DEFAULT_IMAGE="dsjobs-local/python:3.11"
        export DSJOBS_PYTHON_IMAGE="${DSJOBS_PYTHON_IMAGE:-dsjobs-local/python:{version}}"
    fi
fi
log "default job image: ${DSJOBS_DEFAULT_IMAGE:-python:3.11-slim}"

airflow_env

store="${DSJOBS_STORE:-${DSJOBS_HOME:-$HOME/.dsjobs}/store}"
if [ -f "$REPO/dags_examples/quickstart.py" ]; then
    log "airflow dags test dsjobs_quickstart"
    airflow dags test dsjobs_quickstart
    echo "Done. Job records, logs and outputs are in the store: $store"
    echo "List the jobs with: .venv/bin/dsjobs ls"
else
    shopt -s nullglob
    configs=("$REPO"/dags_examples/jobs/*/config.yaml)
    [ "${#configs[@]}" -gt 0 ] || die "no example configs under dags_examples/jobs/"
    for config in "${configs[@]}"; do
        log "dsjobs validate ${config#"$REPO"/}"
        (cd "$(dirname "$config")" && dsjobs validate config.yaml)
    done
    echo "Done: the example configs are valid. Jobs you run store their results in: $store"
fi
