#!/usr/bin/env bash
# Start a distributed Airflow deployment on 127.0.0.1, every process by PID, on free ports:
#   PostgreSQL (metadata database, own data dir), Redis (Celery broker), a moto S3 server (the job store),
#   a TLS listener for the Docker engine (tcp://127.0.0.1:2376, client certificates required; a relay in front
#   of the engine's unix socket, see tls_relay.py), one for a second engine (scripts/ensure-second-engine.sh),
#   and Airflow 3.3 as separate services: api-server, scheduler, dag-processor, triggerer and two Celery workers
#   (worker-a on engine-a, the first engine; worker-b on engine-b, the second), each with its own
#   AIRFLOW_HOME, DSJOBS_HOME and working directory.
# The `dsjobs_default` Airflow connection points at the S3 store and engine-a over TLS, with engine-b in its engine
# map; each worker's environment holds its own (worker_connection.py). The DAG folder serves
# dags_examples/ (as examples/) and tests/deployment/dags/ (as scenarios/).
# State (ports, URLs, paths) goes to $DEPLOY/state.env, logs to $DEPLOY/logs/. Stop it with down.sh.
# A deployment that is already up is left alone; anything else found in $DEPLOY is stopped and wiped first.
# Environment: DSJOBS_DEPLOY_DIR (default _work/deployment), DSJOBS_DEPLOY_CONCURRENCY (slots per worker, 4),
# DSJOBS_DEPLOY_DOCKER_PORT (2376; a free port when 2376 is taken), DSJOBS_TEST_IMAGE (job image).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=scripts/deployment/common.sh
source "$REPO/scripts/deployment/common.sh"
started=$(now)

all_running() {
    local s
    for s in "${INFRA_SERVICES[@]}" "${AIRFLOW_SERVICES[@]}"; do running "$s" || return 1; done
}
if [ -f "$STATE" ] && all_running; then
    log "deployment already up (state: $STATE)"
    exit 0
fi
[ ! -d "$DEPLOY" ] || "$DEPLOY_SCRIPTS/down.sh" --wipe

"$DEPLOY_SCRIPTS/install.sh"
"$REPO/scripts/ensure-docker.sh"
image="${DSJOBS_TEST_IMAGE:-dsjobs-test/python:3.11}"
"$REPO/scripts/build-test-image.sh" bookworm >/dev/null
second_socket="$(DSJOBS_TEST_IMAGE="$image" "$REPO/scripts/ensure-second-engine.sh")"
use_venv

mkdir -p "$DEPLOY" "$PIDS" "$LOGS"
port_free() { python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', $1))" 2>/dev/null; }
docker_port="${DSJOBS_DEPLOY_DOCKER_PORT:-2376}"
if ! port_free "$docker_port"; then
    log "127.0.0.1:$docker_port is taken (another deployment?): the engine's TLS listener gets a free port"
    docker_port="$(free_port)"
fi
docker_b_port="$(free_port)"
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
api_port="$(free_port)"
moto_port="$(free_port)"
bucket="dsjobs-deploy-$(date +%s)"
cat >"$STATE" <<STATE_EOF
# Written by scripts/deployment/up.sh; read by service.sh, down.sh and tests/deployment/harness.py.
DEPLOY='$DEPLOY'
PG_BIN='$pg_bin'
PG_PORT='$(free_port)'
REDIS_PORT='$(free_port)'
MOTO_PORT='$moto_port'
API_PORT='$api_port'
API_URL='http://127.0.0.1:$api_port'
DOCKER_TLS_PORT='$docker_port'
DOCKER_URL='tcp://127.0.0.1:$docker_port'
DOCKER_SOCKET='/var/run/docker.sock'
DOCKER_B_TLS_PORT='$docker_b_port'
DOCKER_B_URL='tcp://127.0.0.1:$docker_b_port'
DOCKER_B_SOCKET='${second_socket#unix://}'
TLS_DIR='$DEPLOY/tls'
S3_ENDPOINT='http://127.0.0.1:$moto_port'
S3_ACCESS_KEY='dsjobs-deploy-key'
S3_SECRET_KEY='$(python3 -c 'import secrets; print(secrets.token_hex(16))')'
BUCKET='$bucket'
STORE_URL='s3://$bucket/store'
JOB_IMAGE='$image'
JOB_PYTHON_IMAGE='${image%:*}:{version}'
CONN_ID='dsjobs_default'
FERNET_KEY='$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')'
JWT_SECRET='$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')'
WORKERS='${WORKERS[*]}'
STATE_EOF
load_state
SQL_ALCHEMY_CONN="postgresql+psycopg://airflow@127.0.0.1:$PG_PORT/airflow"
BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
printf "SQL_ALCHEMY_CONN='%s'\nBROKER_URL='%s'\n" "$SQL_ALCHEMY_CONN" "$BROKER_URL" >>"$STATE"

"$DEPLOY_SCRIPTS/certs.sh" "$TLS_DIR"

# PostgreSQL: a fresh cluster owned by the postgres user, tuned for a throw-away test database.
mkdir -p "$DEPLOY/pg/data" "$DEPLOY/pg/run"
chown -R postgres:postgres "$DEPLOY/pg"
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
as_pg "$PG_BIN/initdb" -D "$DEPLOY/pg/data" -U airflow -A trust --no-sync >"$LOGS/initdb.log" 2>&1 \
    || { tail -n 20 "$LOGS/initdb.log" >&2; die "initdb failed; see $LOGS/initdb.log"; }
printf "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n" \
    >>"$DEPLOY/pg/data/postgresql.conf"

for s in "${INFRA_SERVICES[@]}"; do "$DEPLOY_SCRIPTS/service.sh" start "$s"; done
psql -q -h 127.0.0.1 -p "$PG_PORT" -U airflow -d postgres -c "CREATE DATABASE airflow" \
    || die "could not create the airflow database"
python - "$S3_ENDPOINT" "$BUCKET" "$S3_ACCESS_KEY" "$S3_SECRET_KEY" <<'PY' || die "could not create the S3 bucket"
import sys

import boto3

endpoint, bucket, key, secret = sys.argv[1:]
s3 = boto3.client(
    "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret
)
s3.create_bucket(Bucket=bucket)
# Versioned, so a scenario can tell an output written once from one written twice.
s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
PY

# One DAG folder serving the examples and the scenario DAGs.
mkdir -p "$DEPLOY/dags"
ln -sfn "$REPO/dags_examples" "$DEPLOY/dags/examples"
ln -sfn "$REPO/tests/deployment/dags" "$DEPLOY/dags/scenarios"

# Migrate the database and create the connection from an admin home of its own.
"$DEPLOY_SCRIPTS/admin.sh" db migrate >"$LOGS/db-migrate.log" 2>&1 \
    || { tail -n 20 "$LOGS/db-migrate.log" >&2; die "airflow db migrate failed; see $LOGS/db-migrate.log"; }
# The api-server's, scheduler's and triggerer's connection (engine-a's machine; engine-b in its engine map).
extra="$(python "$DEPLOY_SCRIPTS/worker_connection.py" "$STATE" api-server --extra)"
"$DEPLOY_SCRIPTS/admin.sh" connections add "$CONN_ID" --conn-type dsjobs --conn-login "$S3_ACCESS_KEY" \
    --conn-password "$S3_SECRET_KEY" --conn-extra "$extra" >>"$LOGS/db-migrate.log" 2>&1 \
    || { tail -n 20 "$LOGS/db-migrate.log" >&2; die "could not add the $CONN_ID connection"; }

for s in "${AIRFLOW_SERVICES[@]}"; do "$DEPLOY_SCRIPTS/service.sh" start "$s"; done
python "$DEPLOY_SCRIPTS/wait_ready.py" "$STATE" || die "the deployment did not become ready; logs in $LOGS"
log "deployment up in $(($(now) - started)) s: api $API_URL, engine $DOCKER_URL, store $STORE_URL (state: $STATE)"
