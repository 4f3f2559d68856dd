"""Docs that cannot drift. README and docs/ claims that the code has outgrown: each phrase below was once true and is
now wrong (a README that says a feature does nothing while the code does it misleads exactly the users who read
before they try). And the docs site checked against the code: every setting, connection extra and command on its
page, the generated references complete, the nav whole, README's links alive, the build strict and offline."""

from __future__ import annotations

import argparse
import ast
import html
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]

#: (pattern, why it is stale). Patterns are matched case-insensitively across line breaks.
STALE = [
    (r"working-storage`?[^.\n]*\bno effect\b", "working-storage is checked against the engine's disk and capped"),
    (r"working.storage[^.\n]*\bnot (?:enforced|checked|applied)\b", "working-storage is checked and capped"),
    (r"working.storage[^.\n]*\bignored\b", "working-storage is checked and capped"),
]


@pytest.mark.parametrize(("pattern", "why"), STALE, ids=[why for _, why in STALE])
def test_docs_make_no_stale_claim(pattern: str, why: str) -> None:
    hits = [
        f"{path.relative_to(REPO)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}"
        for path in DOCS
        for text in [path.read_text()]
        for m in re.finditer(pattern, text, flags=re.IGNORECASE)
    ]
    assert not hits, f"stale claim ({why}):\n" + "\n".join(hits)


def test_the_stale_patterns_catch_the_old_sentence() -> None:
    old = "| `working-storage` | validated and recorded; no effect on a Docker engine yet (a line says so at submit) |"
    assert re.search(STALE[0][0], old, flags=re.IGNORECASE)


def test_every_test_security_md_cites_exists() -> None:
    """SECURITY.md proves each rule with a test: a renamed or deleted test must not leave a promise unchecked."""
    text = (REPO / "SECURITY.md").read_text()
    cited: list[tuple[str, str | None]] = []
    for cell in re.findall(r"\|([^|\n]*tests/[^|\n]*)\|\s*$", text, flags=re.MULTILINE):
        current = None
        for ref in re.findall(r"`([^`]+)`", cell):
            path, _, name = ref.partition("::")
            if path.startswith("tests/"):
                current = path
            elif not path and current:  # `::name` continues the file named before it
                path = current
            else:
                continue
            cited.append((path, name.split("[")[0] or None))
    assert len(cited) >= 30, cited
    missing = []
    for path, name in cited:
        source = REPO / path
        if not source.is_file() or (
            name and not re.search(rf"^\s*(async )?def {re.escape(name)}\(", source.read_text(), re.MULTILINE)
        ):
            missing.append(f"{path}::{name}" if name else path)
    assert not missing, "SECURITY.md cites tests that do not exist: " + ", ".join(missing)


# -- the docs site (mkdocs.yml, docs/): what the pages promise, checked against the code ------------------------

HOWTO = REPO / "docs" / "howto"
PACKAGE = REPO / "airflow_provider_dsjobs"


def load_hooks() -> ModuleType:
    """docs/hooks.py, the mkdocs hook that generates the reference pages (not a package: loaded by path)."""
    spec = importlib.util.spec_from_file_location("dsjobs_docs_hooks", REPO / "docs" / "hooks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def string_constants(paths: list[Path]) -> set[str]:
    return {
        node.value
        for path in paths
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def dsjobs_variables_in_package() -> set[str]:
    """Every ``DSJOBS_*`` name the package spells out whole (a prefix such as ``DSJOBS_SECRET_`` included)."""
    names = string_constants(sorted(PACKAGE.rglob("*.py")))
    return {name for name in names if re.fullmatch(r"DSJOBS_[A-Z0-9_]+", name)}


def test_the_variable_scan_finds_what_the_package_reads() -> None:
    found = dsjobs_variables_in_package()
    assert {"DSJOBS_STORE", "DSJOBS_MAX_LOG_FOLLOWS", "DSJOBS_INSTANCE_TYPES", "DSJOBS_SECRET_"} <= found, found


def test_every_dsjobs_variable_the_package_reads_is_on_the_settings_page() -> None:
    page = (HOWTO / "settings.md").read_text()
    missing = sorted(name for name in dsjobs_variables_in_package() if name not in page)
    assert not missing, "docs/howto/settings.md does not name: " + ", ".join(missing)


def connection_extras() -> set[str]:
    """Every extra the hook reads: the connection form's fields, the extras copied into Settings, and each
    ``_extra(extra, "name")`` the hooks ask for."""
    from airflow_provider_dsjobs.get_provider_info import CONN_FIELDS

    extras = set(CONN_FIELDS)
    for path in sorted((PACKAGE / "hooks").glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "_EXTRA_TO_SETTING" for t in node.targets
            ):
                assert isinstance(node.value, ast.Dict)
                extras |= {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "_extra"
                and len(node.args) == 2
                and isinstance(node.args[1], ast.Constant)
            ):
                extras.add(node.args[1].value)
    return extras


def test_the_extra_scan_finds_what_the_hook_reads() -> None:
    assert {"store_url", "s3_checksums", "local_fsync", "instance_types", "lab_code_roots"} <= connection_extras()


def test_every_connection_extra_the_hook_reads_has_a_field_on_the_connection_form() -> None:
    from airflow_provider_dsjobs.get_provider_info import CONN_FIELDS

    missing = sorted(connection_extras() - set(CONN_FIELDS))
    assert not missing, "get_provider_info.CONN_FIELDS lacks the extras: " + ", ".join(missing)


def test_every_connection_extra_is_on_the_connection_page() -> None:
    page = (HOWTO / "connection.md").read_text()
    missing = sorted(extra for extra in connection_extras() if f"`{extra}`" not in page)
    assert not missing, "docs/howto/connection.md does not name the extras: " + ", ".join(missing)


def top_level_commands() -> list[str]:
    from airflow_provider_dsjobs.cli.main import build_parser

    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(subparsers.choices)


def test_the_cli_howto_names_every_command() -> None:
    page = (HOWTO / "cli.md").read_text()
    commands = top_level_commands()
    assert {"execute", "fork", "gc", "instance-types", "project"} <= set(commands)
    missing = [c for c in commands if not re.search(rf"`(dsjobs )?{re.escape(c)}[ `]", page)]
    assert not missing, "docs/howto/cli.md does not explain: " + ", ".join(missing)


def command_parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (command path, parser) argparse can reach, aliases included: walked through ``choices``, not the
    help listing the generator reads."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from command_parsers(sub, (*path, name))


def test_the_cli_reference_has_every_command_option_and_help() -> None:
    from airflow_provider_dsjobs.cli.main import build_parser

    page = load_hooks().generate("reference/cli.md")
    sections = dict(re.findall(r"^#+ (dsjobs [^\n]+)\n(.*?)(?=^#+ dsjobs |\Z)", page, flags=re.M | re.S))
    missing = []
    paths = list(command_parsers(build_parser()))
    assert len(paths) > 50, paths
    for path, sub in paths:
        title = "dsjobs " + " ".join(path)
        section = sections.get(title)
        if section is None:  # an alias: named in its command's section
            if not re.search(rf"Alias: .*`{re.escape(title)}`", page):
                missing.append(title)
            continue
        for action in sub._actions:
            if action.help == argparse.SUPPRESS or isinstance(
                action, argparse._SubParsersAction | argparse._HelpAction
            ):
                continue
            for flag in action.option_strings or [str(action.metavar or action.dest)]:
                if flag not in section:
                    missing.append(f"{title} {flag}")
            first_words = " ".join((action.help or "").split()[:3])
            shown = html.unescape(section.replace("\\", ""))  # as the page shows it: no escapes
            if first_words and "%(" not in first_words and first_words not in shown:
                missing.append(f"{title} {action.option_strings or action.dest}: help {first_words!r}")
    assert not missing, "the generated CLI reference misses: " + ", ".join(missing)


def schema_keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            yield key
            yield from schema_keys(value)
        for key, value in node.items():
            if key != "properties":
                yield from schema_keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from schema_keys(item)


def test_the_config_reference_has_every_key_and_allowed_value() -> None:
    schema = json.loads((PACKAGE / "config" / "schema.json").read_text())
    page = load_hooks().generate("reference/config-yaml.md")
    paths = set(re.findall(r"^\| `([^`]+)` \|", page, flags=re.M))
    segments = {seg for path in paths for seg in re.split(r"\.|\[\]", path) if seg}
    keys = set(schema_keys(schema))
    assert {"cmd", "secret-id", "index-url", "connector", "working-storage"} <= keys
    assert not keys - segments, f"keys missing from the config.yaml reference: {sorted(keys - segments)}"
    assert {"env.docker.password.secret-id", "env.python.pip.no-deps", "output-datasets[].labels.<KEY>"} <= paths
    enums = {str(v) for text in [json.dumps(schema)] for v in re.findall(r'"enum": \[([^\]]*)\]', text)}
    values = {v.strip().strip('"') for group in enums for v in group.split(",")} - {"null", "true", "false"}
    assert {"SIGTERM", "SSD", "manual"} <= values
    assert not [v for v in values if f"`{v}`" not in page], "enum values missing from the config.yaml reference"


def test_the_security_model_page_is_security_md() -> None:
    hooks = load_hooks()
    page = hooks.generate("reference/security-model.md")
    security = (REPO / "SECURITY.md").read_text()
    title, _, body = security.partition("\n")
    assert page.startswith(title) and hooks.unescape_table_code(body.strip()) in page
    assert "`;`, `|`, quotes" in page  # GitHub's escaped pipe, as Python-Markdown shows a pipe


def test_no_code_span_in_a_docs_table_shows_a_backslash() -> None:
    """Python-Markdown never splits a table cell inside a code span, so GitHub's ``\\|`` there would show up as
    a backslash on the page: write a bare ``|`` inside backticks in docs/."""
    hits = [
        f"{path.relative_to(REPO)}:{number}: {span}"
        for path in sorted((REPO / "docs").rglob("*.md"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if line.startswith("|")
        for span in re.findall(r"`[^`]*`", line)  # the spans, left to right
        if "\\|" in span
    ]
    assert not hits, "\n".join(hits)


def nav_pages(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        if node.endswith(".md"):
            yield node
    elif isinstance(node, list):
        for item in node:
            yield from nav_pages(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from nav_pages(value)


def mkdocs_config() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "mkdocs.yml").read_text()))


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    generated = set(load_hooks().PAGES)
    nav = list(nav_pages(mkdocs_config()["nav"]))
    pages = {p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").rglob("*.md")}
    assert not [p for p in nav if p not in pages | generated], "nav entries without a page"
    assert not sorted(pages - set(nav)), "pages missing from the nav in mkdocs.yml"
    assert not pages & generated, "a generated page is committed: it would go stale"


def markdown_links(text: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", text)


def github_slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_readme_links_lead_to_pages_that_exist() -> None:
    readme = (REPO / "README.md").read_text()
    nav = set(nav_pages(mkdocs_config()["nav"]))
    links = [link for link in markdown_links(readme) if not re.match(r"[a-z]+:", link)]
    assert sum(link.startswith("docs/howto/") for link in links) >= 10, links
    broken = []
    for link in links:
        target, _, anchor = link.partition("#")
        path = REPO / target if target else REPO / "README.md"
        if not path.exists():
            broken.append(link)
        elif target.startswith("docs/") and target.endswith(".md") and target.removeprefix("docs/") not in nav:
            broken.append(f"{link} (not in the mkdocs nav)")
        elif anchor and anchor not in {github_slug(h) for h in re.findall(r"^#+ (.+)$", path.read_text(), re.M)}:
            broken.append(link)
    assert not broken, "README links to nothing: " + ", ".join(broken)


def test_the_readme_keeps_the_essentials_and_leaves_the_reference_to_docs() -> None:
    readme = (REPO / "README.md").read_text()
    assert "## Why this and not DockerOperator" in readme
    assert "./scripts/run-example.sh" in readme and "./scripts/test.sh" in readme
    assert not re.search(r"^\| `DSJOBS_", readme, re.M), "the settings table belongs in docs/howto/settings.md"
    assert len(readme) < 15_000, f"README is {len(readme)} bytes: move reference text into docs/"


def test_the_docs_build_strictly_offline(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    site = tmp_path / "site"
    for page in ("reference/cli.html", "reference/config-yaml.html", "howto/settings.html"):
        assert (site / page).is_file(), page
    assert "dsjobs execute" in (site / "reference" / "cli.html").read_text()
    fetched = [
        f"{path.relative_to(site)}: {url}"
        for path in site.rglob("*.html")
        for url in re.findall(r"<(?:script|link)[^>]+(?:src|href)=\"(https?://[^\"]+)\"", path.read_text())
    ]
    assert not fetched, "pages load from the network: " + ", ".join(fetched[:5])
