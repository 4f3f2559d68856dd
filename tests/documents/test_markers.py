"""The small stored documents (leases and markers): the objects earlier versions wrote still read, each round-trips,
and a document any store writer changed is refused in one line instead of being half read."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_dsjobs.documents.codec import decode, encode
from airflow_provider_dsjobs.documents.markers import (
    CacheUse,
    GcMarker,
    IndexMarker,
    LaunchHeartbeat,
    RecentJobs,
    StagingLease,
)

AT = "2026-12-01T10:00:00.123456+00:00"

# What earlier versions wrote (json.dumps without indent), and what each reads as.
EARLIER = [
    (b'{"names": ["8234-abc", "8233-abd"]}', RecentJobs(("8234-abc", "8233-abd"))),
    (b'{"built_at": "2026-12-01T10:00:00.123456+00:00", "version": 2}', IndexMarker(datetime.fromisoformat(AT), 2)),
    (
        b'{"volume": "dsjobs-ds-1", "job_id": "j1", "used_at": "2026-12-01T10:00:00.123456+00:00"}',
        CacheUse("dsjobs-ds-1", "j1", datetime.fromisoformat(AT)),
    ),
    (b'{"at": "2026-12-01T10:00:00"}', GcMarker(datetime(2026, 12, 1, 10, tzinfo=timezone.utc))),
    (b'{"host": "w1", "pid": 12, "heartbeat_at": 1.5}', LaunchHeartbeat("w1", 12, 1.5)),
    (b'{"created_at": "2026-12-01T10:00:00+00:00", "ids": ["blake3:00"]}', StagingLease(
        datetime(2026, 12, 1, 10, tzinfo=timezone.utc), ("blake3:00",))),
]  # fmt: skip


@pytest.mark.parametrize(("data", "expected"), EARLIER)
def test_what_earlier_versions_wrote_reads_and_round_trips(data: bytes, expected: Any) -> None:
    doc = decode(data)
    assert type(expected).from_doc(doc) == expected
    assert type(expected).from_doc(decode(encode(expected.to_doc()))) == expected
    assert expected.to_doc() == doc or type(expected) is GcMarker  # a naive time is read as UTC


def test_an_index_marker_from_before_its_version_field_reads_as_version_1() -> None:
    marker = IndexMarker.from_doc(decode(b'{"built_at": "2026-12-01T10:00:00.123456+00:00"}'))
    assert marker == IndexMarker(datetime.fromisoformat(AT), version=1)


@pytest.mark.parametrize(
    ("kind", "doc"),
    [
        (RecentJobs, {"names": "8234-abc"}),
        (RecentJobs, {"names": [1, 2]}),
        (RecentJobs, {}),
        (IndexMarker, {"built_at": 5}),
        (IndexMarker, {"built_at": "yesterday"}),
        (IndexMarker, {"built_at": AT, "version": "2"}),
        (IndexMarker, {"built_at": AT, "version": True}),
        (IndexMarker, {"built_at": AT, "version": 0}),
        (CacheUse, {"volume": "v", "job_id": "j", "used_at": None}),
        (CacheUse, {"volume": ["v"], "job_id": "j", "used_at": AT}),
        (CacheUse, {"volume": "v", "used_at": AT}),
    ],
)
def test_a_changed_document_is_refused_in_one_line(kind: Any, doc: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as info:
        kind.from_doc(doc)
    assert "\n" not in str(info.value)
