#!/usr/bin/env bash
# Install what the deployment needs and is not in the virtualenv's base: PostgreSQL and Redis (Debian packages),
# the Celery provider and psycopg2 (the project's `deployment` extra). Idempotent; a second run takes a second.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

missing=()
[ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" -gt 0 ]; then
    # The packages' postinst scripts start their services; a policy-rc.d that denies that keeps apt out of it
    # (this deployment starts its own instances on free ports).
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        trap 'rm -f "$policy"' EXIT
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
    fi
    apt_install "${missing[@]}"
fi

use_venv
if ! python -c 'import importlib.util as u, psycopg; from celery.backends.database import retry; assert u.find_spec("airflow.providers.celery")' 2>/dev/null; then
    log "installing the project's deployment extra into $VENV"
    python -m pip install --disable-pip-version-check -q -e "$REPO[deployment]" >>"$WORK/logs/pip-install.log" 2>&1 \
        || die "pip install -e .[deployment] failed; see $WORK/logs/pip-install.log"
fi
