"""What a page viewer is told when something fails: one line without the job store's URI, the Docker engine's
address or a server path. The whole message goes to the api-server's log, where an operator reads it.

A store or engine failure (``InfrastructureError``) says only that they cannot be reached; any other message is
shown with every ``scheme://...`` address and absolute path replaced by ``<hidden>``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from airflow_provider_dsjobs.jobs.errors import InfrastructureError, one_line

log = logging.getLogger(__name__)

HIDDEN = "<hidden>"
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"()<>,;]*")
_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s'\"()<>,;:/]+/)*[^\s'\"()<>,;:/]*")
#: URIs kept in a job's own facts (its s3-mounts' buckets): anything else with a scheme is an address.
_FACT_URI = re.compile(r"(?!s3://)[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"()<>,;]*")

UNREACHABLE = "the job store or Docker engine cannot be reached now (the api-server log has the details)"


def scrub(text: str, known: Iterable[str | None] = ()) -> str:
    """``text`` without addresses: each of ``known`` (a connection's store URL, engine URL ...), every URI and
    every absolute path."""
    for value in sorted((k for k in known if k), key=len, reverse=True):
        text = text.replace(value, HIDDEN)
    return _PATH.sub(HIDDEN, _URI.sub(HIDDEN, text))


def scrub_fact(text: str, known: Iterable[str | None] = ()) -> str:
    """A job's own message (``status_details``, a sync error): the connection's addresses and any non-``s3://``
    URI hidden; the job's bucket URLs (which its page shows anyway) kept."""
    for value in sorted((k for k in known if k), key=len, reverse=True):
        text = text.replace(value, HIDDEN)
    return _FACT_URI.sub(HIDDEN, text)


def shown(exc: BaseException, what: str, known: Iterable[str | None] = ()) -> str:
    """The one line a viewer sees for ``exc`` met while doing ``what``; the full message is logged."""
    log.warning("dsjobs page: %s: %s", what, one_line(exc))
    if isinstance(exc, InfrastructureError):
        return UNREACHABLE
    return scrub(one_line(exc), known)


def addresses(settings: object) -> list[str | None]:
    """Where a connection's settings point: never shown to a viewer."""
    names = ("store_url", "effective_store_url", "docker_url", "s3_endpoint_url", "home")
    return [str(value) if (value := getattr(settings, name, None)) else None for name in names]
