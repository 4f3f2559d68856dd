#!/usr/bin/env bash
# Create the project's virtualenv (.venv) and install the package with its dev extras (Airflow, test and lint
# tools) in editable mode. Idempotent: a stamp keyed on pyproject.toml and the Python version makes a second run
# take well under a second. Override the interpreter with PYTHON=..., the venv location with DSJOBS_VENV=...
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found: install Python 3.10 or newer"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || die "$("$PYTHON" --version 2>&1) is too old: Python 3.10 or newer is required"

if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv $VENV"
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        # Debian's python3 ships venv/ensurepip separately.
        rm -rf "$VENV"
        apt_install python3-venv
        "$PYTHON" -m venv "$VENV" || die "could not create a virtualenv with $PYTHON"
    fi
fi

stamp="$VENV/.dsjobs-bootstrap"
want="$(cat "$REPO/pyproject.toml" <("$VENV/bin/python" -VV) | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

mkdir -p "$WORK/logs"
pip_log="$WORK/logs/pip-install.log"
log "installing the project and its dev extras into $VENV (log: $pip_log)"
start=$(now)
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -e "$REPO[dev]" >"$pip_log" 2>&1; then
    tail -n 20 "$pip_log" >&2
    die "pip install failed; full log: $pip_log"
fi
echo "$want" >"$stamp"
log "installed in $(($(now) - start)) s"
