#!/usr/bin/env bash
# Start, stop or SIGKILL one service of a deployment that up.sh created (the harness uses it for the workers).
#   service.sh start|stop|kill NAME       NAME: postgres redis moto tls-relay tls-relay-b api-server scheduler
#                                         dag-processor triggerer worker-a worker-b
# Every Airflow service gets its own AIRFLOW_HOME, DSJOBS_HOME and working directory under
# $DEPLOY/homes/NAME; they share only the metadata database, the broker and the S3 store; worker-b has an engine
# of its own, every other service the first one.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=scripts/deployment/common.sh
source "$REPO/scripts/deployment/common.sh"

action="${1:-}"
name="${2:-}"
[ -n "$name" ] || { echo "usage: service.sh start|stop|kill NAME" >&2; exit 2; }

start_airflow() {
    local name="$1"
    use_venv
    airflow_common_env
    service_home "$name"
    case "$name" in
    api-server) start_bg "$name" airflow api-server --host 127.0.0.1 --port "$API_PORT" --workers 1 ;;
    scheduler) start_bg "$name" airflow scheduler ;;
    dag-processor) start_bg "$name" airflow dag-processor ;;
    triggerer) start_bg "$name" airflow triggerer --skip-serve-logs ;;
    worker-*)
        # Its own engine: the connection in its environment names it and maps the other one (worker_connection.py).
        AIRFLOW_CONN_DSJOBS_DEFAULT="$(python "$DEPLOY_SCRIPTS/worker_connection.py" "$STATE" "$name")"
        export AIRFLOW_CONN_DSJOBS_DEFAULT
        # Its own queue (scenarios pin tasks with queue="worker-a") besides the default one.
        start_bg "$name" airflow celery worker --queues "default,$name" --celery-hostname "$name@%h" \
            --skip-serve-logs
        ;;
    *) die "unknown service $name" ;;
    esac
    [ "$name" != api-server ] || wait_port "$name" "$API_PORT" 180
}

start_infra() {
    local name="$1"
    case "$name" in
    postgres)
        # postgres refuses to run as root: its own user, exec'd by setpriv so the recorded PID is the postmaster.
        start_bg postgres setpriv --reuid=postgres --regid=postgres --init-groups \
            "$PG_BIN/postgres" -D "$DEPLOY/pg/data" -h 127.0.0.1 -p "$PG_PORT" -k "$DEPLOY/pg/run"
        wait_port postgres "$PG_PORT"
        ;;
    redis)
        mkdir -p "$DEPLOY/redis"
        start_bg redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
            --dir "$DEPLOY/redis"
        wait_port redis "$REDIS_PORT"
        ;;
    moto)
        use_venv
        start_bg moto moto_server -H 127.0.0.1 -p "$MOTO_PORT"
        wait_port moto "$MOTO_PORT"
        ;;
    tls-relay)
        start_bg tls-relay python3 "$DEPLOY_SCRIPTS/tls_relay.py" --listen "127.0.0.1:$DOCKER_TLS_PORT" \
            --socket "$DOCKER_SOCKET" --ca "$TLS_DIR/ca.pem" --cert "$TLS_DIR/server-cert.pem" \
            --key "$TLS_DIR/server-key.pem"
        wait_port tls-relay "$DOCKER_TLS_PORT"
        ;;
    tls-relay-b)
        start_bg tls-relay-b python3 "$DEPLOY_SCRIPTS/tls_relay.py" --listen "127.0.0.1:$DOCKER_B_TLS_PORT" \
            --socket "$DOCKER_B_SOCKET" --ca "$TLS_DIR/ca.pem" --cert "$TLS_DIR/server-cert.pem" \
            --key "$TLS_DIR/server-key.pem"
        wait_port tls-relay-b "$DOCKER_B_TLS_PORT"
        ;;
    esac
}

load_state
case "$action" in
start)
    if [[ " ${INFRA_SERVICES[*]} " == *" $name "* ]]; then start_infra "$name"; else start_airflow "$name"; fi
    ;;
stop) if [ "$name" = postgres ]; then stop_service "$name" INT; else stop_service "$name"; fi ;;
kill)
    pid="$(pid_of "$name")"
    [ -n "$pid" ] || die "$name is not running"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
    rm -f "$PIDS/$name.pid"
    log "SIGKILLed $name (process group $pid)"
    ;;
*)
    echo "usage: service.sh start|stop|kill NAME" >&2
    exit 2
    ;;
esac
