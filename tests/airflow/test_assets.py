"""Output-dataset asset URIs: the dsjobs:// scheme, its validation and Airflow's normalization of it."""

from __future__ import annotations

import urllib.parse

import pytest
from airflow.sdk import Asset

from airflow_provider_dsjobs.assets import create_asset, dataset_uri, sanitize_uri

pytestmark = pytest.mark.airflow


def test_uri_scheme() -> None:
    assert dataset_uri("default", "features") == "dsjobs://default/datasets/features"
    assert dataset_uri("my proj", "a/b") == "dsjobs://my%20proj/datasets/a%2Fb"


def test_factory_builds_a_stable_asset() -> None:
    asset = create_asset(project="p", name="features")
    assert isinstance(asset, Asset)
    assert asset.uri == "dsjobs://p/datasets/features"
    assert asset == create_asset(project="p", name="features")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("dsjobs:///datasets/x", "must name a project"),
        ("dsjobs://p/models/x", "path must be /datasets/<name>"),
        ("dsjobs://p/datasets", "path must be /datasets/<name>"),
        ("dsjobs://p/datasets/x/y", "path must be /datasets/<name>"),
    ],
)
def test_sanitize_rejects_malformed(uri: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sanitize_uri(urllib.parse.urlsplit(uri))


def test_sanitize_accepts_well_formed() -> None:
    parts = urllib.parse.urlsplit("dsjobs://p/datasets/features")
    assert sanitize_uri(parts) == parts
