"""The located YAML tree: values as written, positions, and refusal of dangerous or ambiguous YAML."""

from __future__ import annotations

import pytest

from airflow_provider_dsjobs.config import ConfigError
from airflow_provider_dsjobs.config.loader import read_config_file
from airflow_provider_dsjobs.config.yaml_source import MAX_NODES, core_schema_value, parse_document


@pytest.mark.parametrize(
    ("text", "raw", "typed"),
    [
        ("3.10", "3.10", 3.1),
        ("Yes", "Yes", "Yes"),
        ("no", "no", "no"),
        ("on", "on", "on"),
        ("8", "8", 8),
        ("0o17", "0o17", 15),
        ("017", "017", 17),
        ("1_000", "1_000", "1_000"),
        ("1:30", "1:30", "1:30"),
        ("true", "true", True),
        ("True", "True", True),
        ("0x1F", "0x1F", 31),
        ("1e3", "1e3", 1000.0),
        (".inf", ".inf", ".inf"),
        ("2024-01-01", "2024-01-01", "2024-01-01"),
        ("'3.10'", "3.10", "3.10"),
        ('"true"', "true", "true"),
        ("!!str 3.10", "3.10", "3.10"),
    ],
)
def test_scalars_keep_their_text(text: str, raw: str, typed: object) -> None:
    node = parse_document(f"v: {text}\n").root.entries["v"]
    assert node.raw == raw
    assert node.typed == typed
    assert type(node.typed) is type(typed)


@pytest.mark.parametrize("text", ["", "~", "null", "Null"])
def test_nulls(text: str) -> None:
    node = parse_document(f"v: {text}\n").root.entries["v"]
    assert node.is_null and node.raw is None


def test_core_schema_value() -> None:
    assert core_schema_value("-12") == -12
    assert core_schema_value("+1.5") == 1.5
    assert core_schema_value("yes") == "yes"


def test_positions_of_values_and_keys() -> None:
    doc = parse_document("a: 1\nb:\n  - x\n  - y: z\n")
    root = doc.root
    assert (root.entries["a"].line, root.entries["a"].column) == (1, 4)
    assert (root.keys["b"].line, root.keys["b"].column) == (2, 1)
    item = root.entries["b"].items[1]
    assert (item.line, item.column) == (4, 5)
    assert (item.keys["y"].line, item.keys["y"].column) == (4, 5)
    assert doc.root.find(["b", 1, "y"]) is item.entries["y"]


def test_merge_keys_are_applied() -> None:
    doc = parse_document("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n")
    other = doc.root.entries["other"]
    assert {k: v.raw for k, v in other.entries.items()} == {"y": "3", "x": "1"}


def _problem(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_document(text, "c.yaml")
    return str(info.value)


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    message = _problem("\n".join(lines) + "\n")
    assert f"more than {MAX_NODES} nodes" in message


def test_recursive_alias_is_refused() -> None:
    assert _problem("a: &x [*x]\n") == "c.yaml:1:4: an alias (`*name`) refers to a node that contains it (a loop)"


def test_deep_nesting_is_refused_before_composing() -> None:
    message = _problem("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested too deeply" in message
    assert message.startswith("c.yaml:1:")


def test_deep_block_nesting_is_refused() -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(200))
    assert "nested too deeply" in _problem(text)


def test_multiple_documents_are_refused() -> None:
    assert "more than one YAML document" in _problem("cmd: a\n---\ncmd: b\n")


def test_duplicate_keys_name_both_lines() -> None:
    assert _problem("cmd: a\nenv:\n  vars: []\n  vars: {}\n") == (
        "c.yaml:4:3: env.vars: duplicate key `vars` (first at line 3); YAML would silently keep only the last one"
    )


def test_binary_and_non_utf8_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("cmd: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        read_config_file(bad)
    assert str(info.value) == f"{bad}:1:9: the file is not UTF-8 text (save config.yaml as UTF-8)"
    assert "binary data" in _problem("cmd: a\x00b\n")
    bom = tmp_path / "bom.yaml"
    bom.write_bytes("\ufeffcmd: a\n".encode())
    assert read_config_file(bom) == "cmd: a\n"


def test_control_characters_are_a_yaml_error() -> None:
    assert "invalid YAML" in _problem("cmd: a\x07\n")


def test_undefined_alias() -> None:
    assert "invalid YAML" in _problem("a: *nope\n")
