"""The ``deployment`` fixture: one distributed Airflow deployment (``harness.Deployment``) for the session.

Started on first use by ``scripts/deployment/up.sh`` and stopped at the end of the session by ``down.sh`` —
unless it was already up before the session (started by hand with ``up.sh``), then it is reused and left up.
When it cannot start, every test using it fails if ``DSJOBS_REQUIRE_DEPLOYMENT=1`` (``scripts/test.sh`` sets it),
and is skipped otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.deployment.harness import Deployment, DeploymentError
from tests.helpers import unavailable


@pytest.fixture(scope="session")
def deployment() -> Iterator[Deployment]:
    was_up = Deployment.is_up()
    try:
        deployment = Deployment.up()
    except (DeploymentError, OSError) as exc:
        unavailable("distributed Airflow deployment", "DSJOBS_REQUIRE_DEPLOYMENT", str(exc))
    yield deployment
    if not was_up and os.environ.get("DSJOBS_DEPLOY_KEEP", "") in ("", "0"):
        deployment.down()
