"""README claims that the code has outgrown: each phrase below was once true and is now wrong. A README that
says a feature does nothing while the code does it misleads exactly the users who read before they try."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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
