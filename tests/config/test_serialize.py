"""A config's two mappings: the long form job records keep, and the ``config.yaml`` form that loads back."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import config_from_mapping, load_config
from airflow_provider_dsjobs.config.serialize import config_document, config_json, datasets_of, output_datasets_of

from .helpers import write_fixture


@pytest.mark.parametrize("fixture", ["seed000_full.yaml", "seed001_full_ru.yaml", "seed002_manual.yaml"])
def test_the_config_yaml_form_loads_back_to_the_same_config(job_dir: Path, fixture: str) -> None:
    config = load_config(write_fixture(job_dir, fixture))
    assert config_from_mapping(config_document(config), base_dir=job_dir) == config


def test_readers_of_a_stored_config_get_its_datasets_typed(job_dir: Path) -> None:
    config = load_config(write_fixture(job_dir, "seed000_full.yaml"))
    stored = config_json(config)
    assert datasets_of(stored) == config.datasets
    assert output_datasets_of(stored) == config.output_datasets
    assert config.datasets and config.output_datasets  # the seed declares both
    lab_job_config = {"image": "team/job:1", "params": {}}  # what a lab job's record keeps instead
    assert datasets_of(lab_job_config) == () and output_datasets_of(lab_job_config) == ()
