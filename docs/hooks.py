"""MkDocs hook: the reference pages are generated from the code at every build, so they cannot drift from it.

- ``reference/cli.md`` from ``airflow_provider_dsjobs.cli.main.build_parser()``: every command, subcommand,
  option and help text, as argparse itself knows them;
- ``reference/config-yaml.md`` from ``airflow_provider_dsjobs/config/schema.json``: every key path, its types,
  allowed values, default and description;
- ``reference/security-model.md``: the top-level SECURITY.md as it is (it stays there for GitHub and its test).

Nothing here is committed as Markdown: ``mkdocs build`` (``scripts/test.sh`` runs it with ``--strict``) writes the
pages from the checkout's own code. ``tests/test_docs.py`` imports this file to check what it generates.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # document this checkout's code, whatever is installed in the environment
    sys.path.insert(0, str(REPO))

#: Generated pages: path under docs/ -> function returning its Markdown.
PAGES = {
    "reference/cli.md": "cli_reference",
    "reference/config-yaml.md": "config_reference",
    "reference/security-model.md": "security_model",
}

#: Width of the usage lines, fixed so the page does not depend on the terminal that builds it.
USAGE_WIDTH = 100


# -- Markdown helpers ---------------------------------------------------------------------------------------


def cell(text: str) -> str:
    """Text from the code, safe in a Markdown table cell: no HTML, no emphasis, no column break; `code` stays as
    it is (Python-Markdown's tables do not split a code span on ``|``)."""
    parts = re.split(r"(`[^`]*`)", " ".join(text.split()))
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(part)  # Python-Markdown's tables never split a code span (and would show a backslash)
        else:
            escaped = html.escape(part, quote=False)
            out.append(re.sub(r"([\\*_\[\]|])", r"\\\1", escaped))
    return "".join(out)


def code(text: str) -> str:
    """``text`` as inline code (backticks inside get a longer fence); a ``|`` in it does not split a table cell."""
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# -- CLI reference ------------------------------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """(name with aliases, help, parser) of each subcommand of ``parser``, in help order, aliases once."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._get_subactions():
                yield str(choice.metavar or choice.dest), choice.help or "", action.choices[choice.dest]


def walk_commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], str, str, argparse.ArgumentParser]]:
    """Every command below ``parser``: (path of names, display name, help, parser), depth first."""
    for display, help_text, sub in _subcommands(parser):
        name = display.split(" ", 1)[0]
        yield (*path, name), display, help_text, sub
        yield from walk_commands(sub, (*path, name))


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = parser.formatter_class(prog=parser.prog, width=USAGE_WIDTH)  # type: ignore[call-arg]
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = parser._get_formatter()
    text = formatter._expand_help(action) if action.help else ""
    if action.choices and not isinstance(action, argparse._SubParsersAction):
        choices = ", ".join(str(c) for c in action.choices)
        text = f"{text} (one of: {choices})" if text else f"one of: {choices}"
    if action.default not in (None, False, argparse.SUPPRESS, [], "") and "default" not in text.lower():
        text += f" (default: {action.default})"
    return text


def _option_rows(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        if isinstance(action, argparse._HelpAction | argparse._VersionAction) and action.option_strings == [
            "-h",
            "--help",
        ]:
            continue
        name = parser._get_formatter()._format_action_invocation(action)  # as --help shows it
        rows.append(f"| {code(name)} | {cell(_help(parser, action))} |")
    return rows


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?", ")")) else text + "."


def cli_reference() -> str:
    from airflow_provider_dsjobs.cli.main import build_parser

    parser = build_parser()
    lines = [
        "# CLI reference",
        "",
        "<!-- Generated at build time from airflow_provider_dsjobs.cli.main.build_parser() by docs/hooks.py. -->",
        "",
        "Every `dsjobs` command with its options and help, generated from the command line's own parser at "
        "each docs build (so it is never out of date). The [CLI how-to](../howto/cli.md) explains the "
        "commands with examples.",
        "",
        "```text",
        _usage(parser),
        "```",
        "",
        cell(parser.description or ""),
        "",
        "| option | meaning |",
        "|---|---|",
        *_option_rows(parser),
        "",
        "Exit codes: 0 success; 1 an invalid config, a failed job or an operation error (one line, never a "
        "traceback; `--debug` shows one); 2 a usage error; 130 interrupted.",
        "",
    ]
    for path, display, help_text, sub in walk_commands(parser):
        level = "#" * min(len(path) + 1, 6)
        aliases = [a for a in display[len(path[-1]) :].strip(" ()").split(",") if a.strip()]
        lines += [f"{level} dsjobs {' '.join(path)}", ""]
        text = sub.description if sub.description and sub.description.startswith(help_text) else help_text
        if text:
            lines += [cell(_sentence(text)), ""]
        if sub.description and text != sub.description:
            lines += [cell(_sentence(sub.description)), ""]
        if aliases:
            names = [code(" ".join(("dsjobs", *path[:-1], alias.strip()))) for alias in aliases]
            lines += ["Alias: " + ", ".join(names), ""]
        lines += ["```text", _usage(sub), "```", ""]
        rows = _option_rows(sub)
        if rows:
            lines += ["| argument | meaning |", "|---|---|", *rows, ""]
    return "\n".join(lines)


# -- config.yaml reference ----------------------------------------------------------------------------------


def _resolve(node: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """A schema node with a ``$ref`` merged into it (the node's own keys win, as its description does)."""
    if not isinstance(node, dict):
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**_resolve(defs[ref.removeprefix("#/$defs/")], defs), **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _types(node: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    found: list[str] = []
    if "type" in node:
        found += node["type"] if isinstance(node["type"], list) else [node["type"]]
    elif "enum" in node:
        kinds = {bool: "boolean", str: "string", int: "integer", float: "number"}
        found += sorted({kinds.get(type(v), "null") for v in node["enum"]})
    for form in node.get("oneOf", []):
        found += _types(_resolve(form, defs), defs)
    return list(dict.fromkeys(found))


def _allowed(node: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    """What values the node allows beyond its type: enum, pattern, bounds, its forms' own limits."""
    out: list[str] = []
    if "enum" in node:
        values = list(dict.fromkeys(json.dumps(v) if not isinstance(v, str) else v for v in node["enum"]))
        out.append("one of " + ", ".join(code(v) for v in values))
    if "x-allowed" in node:
        out.append(cell(node["x-allowed"]))
    elif "pattern" in node:
        out.append("matches " + code(node["pattern"]))
    if node.get("minLength") == 1 and "pattern" not in node:
        out.append("not empty")
    elif node.get("minLength", 0) > 1:
        out.append(f"at least {node['minLength']} characters")
    for low, high, noun in (("minItems", "maxItems", "items"), ("minProperties", "maxProperties", "keys")):
        if low in node and node[low] == node.get(high):
            out.append(f"exactly {node[low]} {noun[:-1] if node[low] == 1 else noun}")
            continue
        if low in node:
            out.append(f"at least {node[low]} {noun[:-1] if node[low] == 1 else noun}")
        if high in node:
            out.append(f"at most {node[high]} {noun}")
    if node.get("required"):
        out.append("requires " + ", ".join(code(k) for k in node["required"]))
    for form in node.get("oneOf", []):
        form = _resolve(form, defs)
        inner = _allowed({k: v for k, v in form.items() if k != "required"}, defs)
        kinds = "/".join(_types(form, defs)) or "value"
        described = cell(form.get("description", ""))
        if inner or described:
            out.append(f"{kinds}: " + "; ".join(x for x in [described, *inner] if x))
    if "examples" in node:
        examples = [e if isinstance(e, str) else json.dumps(e) for e in node["examples"]]
        out.append("e.g. " + ", ".join(code(e) for e in examples[:4]))
    return out


def walk_schema(
    node: Any, path: str, defs: dict[str, Any], required: bool = False
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(key path, resolved node, required) of every key and nested key the schema describes."""
    node = _resolve(node, defs)
    if path:
        yield path, node, required
    forms = [node, *(_resolve(f, defs) for f in node.get("oneOf", []))]
    for form in forms:
        for key, child in form.get("properties", {}).items():
            yield from walk_schema(child, f"{path}.{key}" if path else key, defs, key in form.get("required", []))
        items = form.get("items")
        if isinstance(items, dict):
            yield from walk_schema(items, f"{path}[]", defs)
        extra = form.get("additionalProperties")
        if isinstance(extra, dict):
            names = _resolve(form.get("propertyNames", {}), defs)
            placeholder = "<ID>" if "resource" in names.get("description", "") else "<NAME>"
            if path.endswith("labels"):
                placeholder = "<KEY>"
            elif "path" in form.get("description", "").lower():
                placeholder = "<PATH>"
            yield from walk_schema(extra, f"{path}.{placeholder}", defs)


def config_reference() -> str:
    schema = json.loads((REPO / "airflow_provider_dsjobs" / "config" / "schema.json").read_text(encoding="utf-8"))
    defs = schema.get("$defs", {})
    lines = [
        "# config.yaml reference",
        "",
        "<!-- Generated at build time from airflow_provider_dsjobs/config/schema.json by docs/hooks.py. -->",
        "",
        cell(schema.get("description", "")),
        "",
        "Every key `config.yaml` may hold, generated from the JSON Schema `dsjobs schema` prints (Draft 2020-12) "
        "at each docs build. `[]` is an item of a list, `<NAME>`, `<ID>`, `<PATH>` and `<KEY>` a key of your "
        "choice. Unknown keys are errors. The [config.yaml how-to](../howto/config-yaml.md) says how each key "
        "runs here.",
        "",
        "| key | type | required | allowed values | description |",
        "|---|---|---|---|---|",
    ]
    seen: set[str] = set()
    for path, node, required in walk_schema(schema, "", defs):
        if path in seen:
            continue
        seen.add(path)
        default = f" Default: {code(json.dumps(node['default']))}." if "default" in node else ""
        lines.append(
            f"| {code(path)} | {cell(' | '.join(_types(node, defs)) or 'any')} | {'yes' if required else ''} "
            f"| {'<br>'.join(_allowed(node, defs))} | {cell(node.get('description', ''))}{default} |"
        )
    lines.append("")
    return "\n".join(lines)


# -- SECURITY.md --------------------------------------------------------------------------------------------


def unescape_table_code(text: str) -> str:
    """GitHub's ``\\|`` inside a code span of a table row, as Python-Markdown wants it: a bare ``|`` (GitHub splits
    cells even inside code spans; Python-Markdown never does, and would show the backslash)."""
    rows = [
        re.sub(r"`[^`]*`", lambda m: m.group(0).replace("\\|", "|"), line) if line.startswith("|") else line
        for line in text.split("\n")
    ]
    return "\n".join(rows)


def security_model() -> str:
    text = unescape_table_code((REPO / "SECURITY.md").read_text(encoding="utf-8"))
    note = "<!-- Included at build time from the top-level SECURITY.md by docs/hooks.py: edit that file. -->\n\n"
    title, _, rest = text.partition("\n")
    return f"{title}\n\n{note}{rest.lstrip()}"


# -- the hook -----------------------------------------------------------------------------------------------


def generate(page: str) -> str:
    """The Markdown of one generated page (``tests/test_docs.py`` checks these)."""
    result: str = globals()[PAGES[page]]()
    return result


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for page in PAGES:
        files.append(File.generated(config, page, content=generate(page)))
    return files
