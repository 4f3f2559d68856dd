"""Secret-looking literal env values are kept out of what a job record stores; everything else is kept as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import config_from_mapping, load_config_text
from airflow_provider_dsjobs.config.redact import (
    REDACTED,
    is_sensitive_name,
    redacted_config_json,
    redacted_env_names,
    redacted_raw_config,
)
from airflow_provider_dsjobs.config.serialize import config_json

SECRET = "hf_Zq8vL2secretvalue"


@pytest.mark.parametrize(
    "name",
    ["HF_TOKEN", "OPENAI_API_KEY", "DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "SENTRY_DSN", "hf_token", "MyApiKey"],
)
def test_secret_names(name: str) -> None:
    assert is_sensitive_name(name)


@pytest.mark.parametrize("name", ["EPOCHS", "DATA_DIR", "GREETING", "TOKENIZERS_PARALLELISM", "KEYWORDS"])
def test_ordinary_names(name: str) -> None:
    assert not is_sensitive_name(name)


LIST_FORM = f"""# training job
cmd: python train.py   # the entry point
args:
  EPOCHS: "3.10"
env:
  vars:
    - HF_TOKEN: {SECRET}   # from the vault
    - GREETING: hello
    - DB_PASSWORD: "{SECRET}-2"
    - API_TOKEN
    - EMPTY_TOKEN: ""
"""


def test_list_form_is_redacted_in_place(tmp_path: Path) -> None:
    config = load_config_text(LIST_FORM, base_dir=tmp_path)
    text = redacted_raw_config(config)
    assert text is not None and SECRET not in text
    # Only the two secret values changed: comments, quoting and every other line are as written.
    changed = [(a, b) for a, b in zip(LIST_FORM.splitlines(), text.splitlines(), strict=True) if a != b]
    assert changed == [
        (f"    - HF_TOKEN: {SECRET}   # from the vault", "    - HF_TOKEN: '***'   # from the vault"),
        (f'    - DB_PASSWORD: "{SECRET}-2"', "    - DB_PASSWORD: '***'"),
    ]
    reloaded = load_config_text(text, base_dir=tmp_path)
    assert [(v.name, v.value, v.from_env) for v in reloaded.env.vars] == [
        ("HF_TOKEN", REDACTED, False),
        ("GREETING", "hello", False),
        ("DB_PASSWORD", REDACTED, False),
        ("API_TOKEN", None, True),
        ("EMPTY_TOKEN", "", False),
    ]
    assert dict(reloaded.args) == {"EPOCHS": "3.10"}
    assert redacted_env_names(reloaded) == ["HF_TOKEN", "DB_PASSWORD"]


@pytest.mark.parametrize(
    "vars_text",
    [
        f"  vars:\n    HF_TOKEN: {SECRET}\n    GREETING: hello\n",  # mapping form
        f"  vars: {{HF_TOKEN: '{SECRET}', GREETING: hello}}\n",  # flow mapping
        f"  vars:\n    - HF_TOKEN: |\n        {SECRET}\n    - GREETING: hello\n",  # block scalar
        f"  vars:\n    - HF_TOKEN: >-\n        {SECRET}\n\n    - GREETING: hello\n",  # folded, blank line after
    ],
)
def test_other_forms_are_redacted(vars_text: str, tmp_path: Path) -> None:
    written = "cmd: echo hi\nenv:\n" + vars_text
    text = redacted_raw_config(load_config_text(written, base_dir=tmp_path))
    assert text is not None and SECRET not in text
    reloaded = load_config_text(text, base_dir=tmp_path)
    assert {v.name: v.value for v in reloaded.env.vars} == {"HF_TOKEN": REDACTED, "GREETING": "hello"}


def test_a_value_shared_through_an_alias_is_rebuilt_without_changing_the_other_key(tmp_path: Path) -> None:
    written = f"cmd: echo ${{MODEL}}\nargs:\n  MODEL: &tok {SECRET}\nenv:\n  vars:\n    - HF_TOKEN: *tok\n"
    config = load_config_text(written, base_dir=tmp_path)
    text = redacted_raw_config(config)
    assert text is not None and "HF_TOKEN" in text
    reloaded = load_config_text(text, base_dir=tmp_path)
    assert dict(reloaded.args) == {"MODEL": SECRET}  # args are not env vars: kept, and not redacted by the alias
    assert {v.name: v.value for v in reloaded.env.vars} == {"HF_TOKEN": REDACTED}


def test_a_config_without_secrets_keeps_its_text(tmp_path: Path) -> None:
    written = "cmd: echo hi  # note\nenv:\n  vars:\n    - GREETING: hello\n    - HF_TOKEN\n"
    assert redacted_raw_config(load_config_text(written, base_dir=tmp_path)) == written
    assert redacted_raw_config(config_from_mapping({"cmd": "echo"}, base_dir=tmp_path)) is not None


def test_normalized_config_is_redacted(tmp_path: Path) -> None:
    config = load_config_text(LIST_FORM, base_dir=tmp_path)
    original = config_json(config)
    data = redacted_config_json(config)
    assert SECRET not in repr(data)
    assert data["env"]["vars"] == [
        {"name": "HF_TOKEN", "value": REDACTED},
        {"name": "GREETING", "value": "hello"},
        {"name": "DB_PASSWORD", "value": REDACTED},
        {"name": "API_TOKEN", "from-env": True},
        {"name": "EMPTY_TOKEN", "value": ""},
    ]
    assert {k: v for k, v in data.items() if k != "env"} == {k: v for k, v in original.items() if k != "env"}
    assert SECRET in repr(original)  # a copy: the config the container gets keeps its values
