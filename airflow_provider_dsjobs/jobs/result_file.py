"""A job hands a value back: JSON written to the file ``DSJOBS_RESULT_FILE`` names (``/job/.dsjobs/result.json``)
is kept with the job as ``result`` (``dsjobs get --format json``, the operator's ``return_value["result"]`` and
XCom ``result``), so a DAG can branch on a job's metrics. At most ``MAX_RESULT_BYTES``; invalid JSON or a larger
file leaves the job's status as it is, with a warning line in its log, and no result.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure

RESULT_ENV = "DSJOBS_RESULT_FILE"
RESULT_PATH = "/job/.dsjobs/result.json"
RESULT_DIR = posixpath.dirname(RESULT_PATH)
MAX_RESULT_BYTES = 1 << 20


def read_result(runtime: ContainerRuntime, container_id: str) -> tuple[Any, str | None]:
    """``(value, warning)``: the JSON the job wrote (None when it wrote nothing), or None and why it is not kept."""
    try:
        reader = runtime.export(container_id, RESULT_PATH)
    except RuntimeFailure:
        return None, None  # no file: the job returned nothing
    with reader, reader.open_tar() as archive:
        for member in archive:
            if not member.isfile():
                return None, f"{RESULT_ENV} ({RESULT_PATH}) is not a regular file: no result kept"
            if member.size > MAX_RESULT_BYTES:
                return (
                    None,
                    f"{RESULT_ENV} holds {member.size} bytes, over the {MAX_RESULT_BYTES} allowed: no result kept",
                )
            fh = archive.extractfile(member)
            data = fh.read(MAX_RESULT_BYTES + 1) if fh is not None else b""
            return _parse(data)
    return None, None


def _parse(data: bytes) -> tuple[Any, str | None]:
    try:
        return json.loads(data.decode("utf-8")), None
    except UnicodeDecodeError:
        return None, f"{RESULT_ENV} is not UTF-8 text: no result kept"
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else "not JSON"
        return None, f"{RESULT_ENV} is not valid JSON ({reason}): no result kept"
