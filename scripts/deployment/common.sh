# Shared by the deployment scripts: where the deployment's state lives and how a service is started and stopped.
# Source it after scripts/lib.sh; do not run it.
# shellcheck shell=bash

# All of the deployment's state: data dirs, homes, certificates, logs, PID files and state.env.
DEPLOY="${DSJOBS_DEPLOY_DIR:-$WORK/deployment}"
PIDS="$DEPLOY/pids"
LOGS="$DEPLOY/logs"
STATE="$DEPLOY/state.env"
DEPLOY_SCRIPTS="$REPO/scripts/deployment"
# The two Celery workers; each has its own Celery queue of the same name besides "default", and its own Docker
# engine: worker-a the first one (TLS relay tls-relay), worker-b the second one (scripts/ensure-second-engine.sh,
# TLS relay tls-relay-b); see worker_connection.py.
WORKERS=(worker-a worker-b)
# Airflow services in start order (down.sh stops them in reverse, then the infrastructure).
AIRFLOW_SERVICES=(api-server scheduler dag-processor triggerer "${WORKERS[@]}")
INFRA_SERVICES=(postgres redis moto tls-relay tls-relay-b)

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Wait until 127.0.0.1:PORT accepts connections, or fail naming the service and its log.
wait_port() {
    local name="$1" port="$2" seconds="${3:-60}"
    local i
    for i in $(seq 1 $((seconds * 5))); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then
            return 0
        fi
        running "$name" || { tail -n 20 "$LOGS/$name.log" >&2; die "$name exited during start-up; see $LOGS/$name.log"; }
        sleep 0.2
    done
    tail -n 20 "$LOGS/$name.log" >&2
    die "$name did not listen on 127.0.0.1:$port within ${seconds} s; see $LOGS/$name.log"
}

pid_of() { cat "$PIDS/$1.pid" 2>/dev/null || true; }

# True when the service's recorded PID is alive.
running() {
    local pid
    pid="$(pid_of "$1")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# start_bg NAME COMMAND...: run COMMAND in its own session (so its PID is also its process group id), output
# appended to $LOGS/NAME.log, PID in $PIDS/NAME.pid. A service that is already running is left alone.
start_bg() {
    local name="$1"
    shift
    mkdir -p "$PIDS" "$LOGS"
    if running "$name"; then
        log "$name already running (pid $(pid_of "$name"))"
        return 0
    fi
    setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 &
    echo $! >"$PIDS/$name.pid"
    log "started $name (pid $!, log $LOGS/$name.log)"
}

# stop_service NAME [SIGNAL]: send SIGNAL (default TERM) to the service's process group, wait up to 30 s,
# then SIGKILL the group. Only the PID this deployment recorded is touched.
stop_service() {
    local name="$1" signal="${2:-TERM}" pid
    pid="$(pid_of "$name")"
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill "-$signal" -- "-$pid" 2>/dev/null || kill "-$signal" "$pid" 2>/dev/null || true
        local i
        for i in $(seq 1 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name (pid $pid) still running after 30 s: SIGKILL"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
        log "stopped $name (pid $pid)"
    fi
    # Children that outlived their session leader (a Celery pool process, say) go too.
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$PIDS/$name.pid"
}

# The environment every Airflow process of the deployment shares (configuration only, no shared files).
airflow_common_env() {
    export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
    export AIRFLOW__CORE__LOAD_EXAMPLES=False
    export AIRFLOW__CORE__DAGS_FOLDER="$DEPLOY/dags"
    export AIRFLOW__CORE__FERNET_KEY="$FERNET_KEY"
    export AIRFLOW__CORE__HOSTNAME_CALLABLE=worker_hostname.get
    export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="$API_URL/execution/"
    export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
    export AIRFLOW__CORE__PARALLELISM=64
    export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=64
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$SQL_ALCHEMY_CONN"
    # psycopg 3 serves the async engine too (Airflow would otherwise look for asyncpg).
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC="$SQL_ALCHEMY_CONN"
    export AIRFLOW__CELERY__BROKER_URL="$BROKER_URL"
    export AIRFLOW__CELERY__RESULT_BACKEND="db+$SQL_ALCHEMY_CONN"
    export AIRFLOW__CELERY__WORKER_CONCURRENCY="${DSJOBS_DEPLOY_CONCURRENCY:-4}"
    export AIRFLOW__API__BASE_URL="$API_URL"
    export AIRFLOW__API__HOST=127.0.0.1
    export AIRFLOW__API__PORT="$API_PORT"
    export AIRFLOW__API__WORKERS=1
    export AIRFLOW__API_AUTH__JWT_SECRET="$JWT_SECRET"
    # On a machine shared with other work the api-server can take seconds to answer: task processes wait up to
    # 60 s per call and retry, instead of being killed by their supervisor after ~30 s.
    export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=60
    export AIRFLOW__WORKERS__EXECUTION_API_RETRIES=10
    # A killed worker's task is noticed within ~30 s instead of 5 min, so the retry scenario stays short.
    export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=20
    export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL=5
    export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=10
    export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$(free_port)"
    export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="$(free_port)"
    export PYTHONPATH="$DEPLOY_SCRIPTS${PYTHONPATH:+:$PYTHONPATH}"
    # Nothing of the caller's own configuration leaks in: the connection is the only way to the store and engine.
    unset DSJOBS_STORE DSJOBS_DOCKER_URL DOCKER_HOST DSJOBS_S3_ENDPOINT_URL AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AIRFLOW_CONFIG
}

# Own AIRFLOW_HOME, DSJOBS_HOME and working directory for service NAME; cd into the latter.
service_home() {
    local home="$DEPLOY/homes/$1"
    mkdir -p "$home/airflow" "$home/dsjobs" "$home/cwd"
    export AIRFLOW_HOME="$home/airflow" DSJOBS_HOME="$home/dsjobs" DSJOBS_DEPLOY_HOSTNAME="$1"
    cd "$home/cwd"
}

# Load state.env (ports, URLs, paths) written by up.sh.
load_state() {
    [ -f "$STATE" ] || die "no deployment state at $STATE: run scripts/deployment/up.sh"
    # shellcheck disable=SC1090
    source "$STATE"
}
