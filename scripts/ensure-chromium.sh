#!/usr/bin/env bash
# Make sure Debian's Chromium is installed, for the Jobs page's end-to-end test (Playwright drives it through
# executable_path; no browser is ever downloaded). Idempotent: when `chromium` runs, this does nothing.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if command -v chromium >/dev/null 2>&1 && chromium --version >/dev/null 2>&1; then
    exit 0
fi
apt_install chromium
chromium --version >/dev/null 2>&1 || die "chromium was installed but does not run; see $WORK/logs/apt.log"
log "installed $(chromium --version)"
