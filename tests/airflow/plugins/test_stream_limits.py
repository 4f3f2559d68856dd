"""The follow cap's settings and slots (``plugins/streams.py``), without a server: hostile setting values fall back
to the default in one logged line, and a slot is given back exactly once however its stream ends."""

from __future__ import annotations

import gc
import logging

import anyio
import pytest

from airflow_provider_dsjobs.plugins import streams


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1e400x", "16; rm -rf /", "nan", "inf", "0.5"])
def test_a_bad_cap_falls_back_to_the_default(
    value: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DSJOBS_MAX_LOG_FOLLOWS", value)
    with caplog.at_level(logging.WARNING, logger=streams.__name__):
        assert streams.max_follows() == streams.DEFAULT_MAX_FOLLOWS
    assert len(caplog.records) == 1 and "DSJOBS_MAX_LOG_FOLLOWS" in caplog.records[0].getMessage()


def test_the_cap_and_the_follow_time_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSJOBS_MAX_LOG_FOLLOWS", "5")
    monkeypatch.setenv("DSJOBS_LOG_FOLLOW_SECONDS", "90")
    assert (streams.max_follows(), streams.follow_seconds()) == (5, 90.0)
    monkeypatch.setenv("AIRFLOW__DSJOBS__MAX_LOG_FOLLOWS", "7")
    monkeypatch.delenv("DSJOBS_MAX_LOG_FOLLOWS")
    assert streams.max_follows() == 7  # Airflow's [dsjobs] max_log_follows


def test_slots_are_capped_and_given_back_once() -> None:
    slots = streams.FollowSlots()
    first, second = slots.take(2), slots.take(2)
    assert first is not None and second is not None and slots.take(2) is None
    first()
    first()  # a second release of the same slot frees nothing more
    assert slots.open == 1
    assert slots.take(2) is not None and slots.take(2) is None


def test_a_stream_gives_its_slot_back_when_it_ends_or_is_dropped_unstarted() -> None:
    slots = streams.FollowSlots()

    async def lines() -> streams.AsyncIterator[str]:
        yield "a"

    async def drain() -> list[str]:
        release = slots.take(1)
        assert release is not None
        return [line async for line in streams.hold(lines(), release)]

    assert anyio.run(drain) == ["a"] and slots.open == 0
    release = slots.take(1)
    assert release is not None
    unstarted = streams.hold(lines(), release)
    assert slots.open == 1
    del unstarted
    gc.collect()
    assert slots.open == 0
