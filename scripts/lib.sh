# Shared helpers for the scripts in this directory. Source it; do not run it.
# shellcheck shell=bash

# The repository root, whatever the caller's working directory.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# All generated state (logs, caches, Airflow home) lives here; .gitignore covers /_work/.
WORK="${DSJOBS_WORK:-$REPO/_work}"
# The project's virtualenv.
VENV="${DSJOBS_VENV:-$REPO/.venv}"

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2
    exit 1
}

# Run a command as root: directly when we are root, through sudo otherwise (or fail with one clear line).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run '$1' (run as root or install sudo)"
    fi
}

# A pid file that outlived its process names, once the kernel has reused the number (pid_max is often 32768),
# some unrelated process. dockerd then believes its containerd is still running and waits 15 s for a socket nobody
# serves ("timeout waiting for containerd to start"), or refuses to start at all ("process with PID ... is still
# running"). Remove FILE unless its pid is a live COMM whose command line contains MARK.
drop_stale_pidfile() {
    local file="$1" comm="$2" mark="$3" pid
    [ -f "$file" ] || return 0
    pid="$(tr -dc '0-9' <"$file")"
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$mark"; then
        return 0
    fi
    log "removing $file: its pid ${pid:-?} is not a running $comm of this engine"
    as_root rm -f "$file"
}

# Install Debian packages; runs 'apt-get update' at most once per script run. Output goes to a log file.
_APT_UPDATED=""
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* yourself"
    mkdir -p "$WORK/logs"
    local apt_log="$WORK/logs/apt.log"
    if [ -z "$_APT_UPDATED" ]; then
        log "apt-get update (log: $apt_log)"
        as_root apt-get update >>"$apt_log" 2>&1 || die "apt-get update failed; see $apt_log"
        _APT_UPDATED=1
    fi
    log "installing $* (log: $apt_log)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >>"$apt_log" 2>&1 \
        || die "apt-get install $* failed; see $apt_log"
}

# Put the project's virtualenv first on PATH (after scripts/bootstrap.sh has created it).
use_venv() {
    [ -x "$VENV/bin/python" ] || die "no virtualenv at $VENV: run scripts/bootstrap.sh"
    export VIRTUAL_ENV="$VENV"
    export PATH="$VENV/bin:$PATH"
}

# Seconds since the epoch, for timing steps.
now() { date +%s; }

# Airflow with its state inside the checkout ($DSJOBS_WORK/airflow, or $DSJOBS_AIRFLOW_HOME: a venv with another
# Airflow gets a home of its own, a database is never migrated down) and the examples as its only DAGs;
# migrates the metadata database once per Airflow version. Call after use_venv.
airflow_env() {
    export AIRFLOW_HOME="${DSJOBS_AIRFLOW_HOME:-$WORK/airflow}"
    export AIRFLOW__CORE__LOAD_EXAMPLES=False
    export AIRFLOW__CORE__DAGS_FOLDER="$REPO/dags_examples"
    mkdir -p "$AIRFLOW_HOME" "$WORK/logs"
    local version migrate_log="$WORK/logs/airflow-db-migrate.log"
    version="$(python -c 'import importlib.metadata as m; print(m.version("apache-airflow-core"))')"
    # Migrate when this Airflow version has not, or when the default SQLite database was deleted.
    if [ ! -f "$AIRFLOW_HOME/.migrated-$version" ] \
        || { [ -z "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-}" ] && [ ! -f "$AIRFLOW_HOME/airflow.db" ]; }; then
        log "airflow db migrate (log: $migrate_log)"
        airflow db migrate >"$migrate_log" 2>&1 \
            || { tail -n 20 "$migrate_log" >&2; die "airflow db migrate failed; see $migrate_log"; }
        touch "$AIRFLOW_HOME/.migrated-$version"
    fi
}
