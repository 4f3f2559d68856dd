#!/usr/bin/env bash
# Run the example DAGs under `airflow dags test` with the real Docker engine, offline, on a private Airflow home.
#   scripts/run-example-dags.sh [--venv DIR] [DAG_ID ...]      (default: every id in scripts/example-dags.txt)
# --venv DIR runs them with the Airflow of that virtualenv (e.g. _work/venv-airflow-3.0.6 from
# scripts/ensure-airflow-venv.sh), on an Airflow home, a job store and a log directory of its own
# ($DSJOBS_WORK/airflow-<venv>, $DSJOBS_WORK/example-dags-home-<venv>, $DSJOBS_WORK/logs/<venv>).
# Each DAG runs with zero configuration (no connection): the embedded local-directory store under
# $DSJOBS_WORK/example-dags-home and the locally built image. The DAGs named in DSJOBS_EXAMPLE_S3_DAGS (default
# dsjobs_pipeline) run against S3 instead: a moto server started here on 127.0.0.1, a fresh bucket, DSJOBS_STORE.
# Uses the project venv ($DSJOBS_VENV, default .venv) when it exists, else `airflow`/`python` from PATH.
# Logs: $DSJOBS_WORK/logs/dag-<id>.log. Exit 0 only when every DAG run succeeded.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
say() { log "$@"; }
logs="$WORK/logs"
if [ "${1:-}" = "--venv" ]; then
    [ "$#" -ge 2 ] || die "--venv needs a virtualenv directory"
    [ -x "$2/bin/airflow" ] || die "no airflow in the virtualenv $2 (create it with scripts/ensure-airflow-venv.sh)"
    VENV="$(cd "$2" && pwd)"
    export DSJOBS_AIRFLOW_HOME="$WORK/airflow-$(basename "$VENV")"
    export DSJOBS_HOME="${DSJOBS_HOME:-$WORK/example-dags-home-$(basename "$VENV")}"
    logs="$WORK/logs/$(basename "$VENV")"
    shift 2
fi
if [ -x "$VENV/bin/airflow" ]; then
    use_venv
fi
mkdir -p "$logs"
command -v airflow >/dev/null 2>&1 || die "airflow not found: run scripts/bootstrap.sh (or activate a venv with apache-airflow)"

if [ "$#" -gt 0 ]; then
    dag_ids=("$@")
else
    mapfile -t dag_ids < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$REPO/scripts/example-dags.txt" | grep -v '^$' || true)
fi
[ "${#dag_ids[@]}" -gt 0 ] || die "no DAG ids given and none in scripts/example-dags.txt"
s3_dags=" ${DSJOBS_EXAMPLE_S3_DAGS-dsjobs_pipeline} "

# A private Airflow home in the checkout, migrated once per Airflow version.
airflow_env

# Hermetic jobs: the locally built image (never pulled), a store inside _work.
export DSJOBS_HOME="${DSJOBS_HOME:-$WORK/example-dags-home}"
export DSJOBS_DEFAULT_IMAGE="${DSJOBS_DEFAULT_IMAGE:-${DSJOBS_TEST_IMAGE:-dsjobs-test/python:3.11}}"
export DSJOBS_PYTHON_IMAGE="${DSJOBS_PYTHON_IMAGE:-dsjobs-test/python:{version}}"
unset DSJOBS_STORE

moto_pid=""
s3_store=""
s3_endpoint=""
cleanup() { [ -z "$moto_pid" ] || kill "$moto_pid" 2>/dev/null || true; }
trap cleanup EXIT

start_s3() {
    [ -z "$s3_store" ] || return 0
    local exe port
    exe="$(command -v moto_server || true)"
    [ -n "$exe" ] || die "moto_server not found (pip install 'moto[server]'): needed for the S3 example DAGs"
    port="$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    "$exe" -H 127.0.0.1 -p "$port" >"$WORK/logs/moto-example-dags.log" 2>&1 &
    moto_pid=$!
    s3_endpoint="http://127.0.0.1:$port"
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
    local bucket="dsjobs-examples-$$"
    python - "$s3_endpoint" "$bucket" <<'PY' || die "moto server did not start; see $WORK/logs/moto-example-dags.log"
import sys, time
import boto3
endpoint, bucket = sys.argv[1], sys.argv[2]
client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
for _ in range(100):
    try:
        client.create_bucket(Bucket=bucket)
        break
    except Exception:
        time.sleep(0.2)
else:
    sys.exit(1)
PY
    s3_store="s3://$bucket/examples"
    say "moto S3 server on $s3_endpoint, store $s3_store"
}

passed=()
failed=()
for dag_id in "${dag_ids[@]}"; do
    log_file="$logs/dag-$dag_id.log"
    env_args=()
    where="local store $DSJOBS_HOME"
    if [[ "$s3_dags" == *" $dag_id "* ]]; then
        start_s3
        env_args=(DSJOBS_STORE="$s3_store" DSJOBS_S3_ENDPOINT_URL="$s3_endpoint")
        where="S3 store $s3_store"
    fi
    say "airflow dags test $dag_id ($where; log: $log_file)"
    t0=$(date +%s)
    if env "${env_args[@]}" airflow dags test "$dag_id" >"$log_file" 2>&1; then
        passed+=("$dag_id")
        say "$dag_id passed in $(($(date +%s) - t0)) s"
    else
        failed+=("$dag_id")
        tail -n 40 "$log_file" >&2
        say "$dag_id FAILED in $(($(date +%s) - t0)) s (full log: $log_file)"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    say "FAILED: ${failed[*]} (passed: ${passed[*]:-none})"
    exit 1
fi
say "PASSED: ${passed[*]}"
