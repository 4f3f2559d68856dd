"""The console link a user clicks, from the settings' URL template."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.jobs.links import console_link
from airflow_provider_dsjobs.settings import Settings

RECORD = JobRecord(id="j20261121-000000000-abcdefgh", project="ml")


def test_template_is_filled_with_job_and_project() -> None:
    settings = Settings(console_url_template="https://console.example/{project}/jobs/{job_id}")
    assert console_link(settings, RECORD) == "https://console.example/ml/jobs/j20261121-000000000-abcdefgh"


def test_no_template_means_no_link() -> None:
    assert console_link(Settings(), RECORD) is None


def test_a_template_naming_unknown_fields_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(console_url_template="https://console.example/{community}/{job_id}")
    with caplog.at_level(logging.WARNING, logger="airflow_provider_dsjobs.jobs.links"):
        assert console_link(settings, RECORD) is None
    assert "{job_id} and {project}" in caplog.text
