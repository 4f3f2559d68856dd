"""EXECUTE_CODE: the pip-VCS forms parsed, and code fetched from real git repositories (``git+file://``) made by the
test: branches, tags, full and abbreviated commits, subdirectories, and each bad input as one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.lab.code import parse_code, resolve_code
from airflow_provider_dsjobs.lab.config import LabError
from tests.lab.helpers import commit, git, make_repo


@pytest.mark.parametrize(
    ("text", "url", "ref", "sub"),
    [
        (
            "git+https://github.com/ml-tooling/ml-workspace.git#subdirectory=docker-res/tests/ml-job",
            "https://github.com/ml-tooling/ml-workspace.git",
            None,
            "docker-res/tests/ml-job",
        ),
        ("git+https://host/org/repo.git@v1.2#egg=x&subdirectory=a/b", "https://host/org/repo.git", "v1.2", "a/b"),
        ("git+ssh://git@host/org/repo.git@main", "ssh://git@host/org/repo.git", "main", None),
        ("git+git@host:org/repo.git@0a1b2c3", "git@host:org/repo.git", "0a1b2c3", None),
        ("git+file:///tmp/repo@feature", "file:///tmp/repo", "feature", None),
        ("git+file:///tmp/repo", "file:///tmp/repo", None, None),
    ],
)
def test_pip_vcs_forms(text: str, url: str, ref: str | None, sub: str | None) -> None:
    spec = parse_code(text)
    assert (spec.kind, spec.url, spec.ref, spec.subdirectory) == ("git", url, ref, sub)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("git+ftp://host/repo", "unsupported scheme 'ftp'"),
        ("hg+https://host/repo", "only git repositories are supported"),
        ("git+https://host/repo#subdirectory=../x", "must be a path inside the repository"),
        ("git+https://host/repo#branch=x", "unknown fragment 'branch'"),
        ("git+https://host/repo@", "without a branch, tag or commit"),
        ("store:../x", "store:KEY needs a key"),
    ],
)
def test_bad_forms_are_one_line(text: str, message: str) -> None:
    with pytest.raises(LabError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        parse_code(text)
    assert "\n" not in str(info.value)


@pytest.fixture()
def repo(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "repo"
    first = make_repo(path, {"job/__main__.py": "print('v1')\n", "README": "x\n"})
    git(path, "tag", "v1")
    second = commit(path, {"job/__main__.py": "print('v2')\n"}, "second")
    git(path, "checkout", "-q", "-b", "feature")
    third = commit(path, {"job/__main__.py": "print('feature')\n"}, "third")
    git(path, "checkout", "-q", "main")
    return {"url": f"git+file://{path}", "first": first, "second": second, "third": third}


@pytest.mark.parametrize(
    ("ref", "expected", "printed"),
    [
        (None, "second", "v2"),
        ("main", "second", "v2"),
        ("feature", "third", "feature"),
        ("v1", "first", "v1"),
        ("<first>", "first", "v1"),
        ("<first:7>", "first", "v1"),
    ],
)
def test_git_refs_resolve_to_their_commit(
    repo: dict[str, str], tmp_path: Path, ref: str | None, expected: str, printed: str
) -> None:
    if ref and ref.startswith("<"):
        name, _, size = ref[1:-1].partition(":")
        ref = repo[name][: int(size)] if size else repo[name]
    text = repo["url"] + (f"@{ref}" if ref else "") + "#subdirectory=job"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    code = resolve_code(parse_code(text), scratch, None)
    assert code.commit == repo[expected]
    assert code.entry == "dir"
    assert (code.root / "__main__.py").read_text() == f"print('{printed}')\n"
    assert not any(p.name == ".git" for p in scratch.rglob("*"))
    assert code.to_dict()["commit"] == repo[expected]


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        ("@nope#subdirectory=job", "no branch, tag or commit 'nope' in file://"),
        ("@deadbeef#subdirectory=job", "no branch, tag or commit 'deadbeef'"),
        ("#subdirectory=missing", "subdirectory 'missing' not found at commit "),
        ("", "the code directory has no __main__.py"),
    ],
)
def test_bad_git_code_is_one_line(repo: dict[str, str], tmp_path: Path, suffix: str, message: str) -> None:
    (tmp_path / "scratch").mkdir()
    with pytest.raises(LabError, match=message) as info:
        resolve_code(parse_code(repo["url"] + suffix), tmp_path / "scratch", None)
    assert "\n" not in str(info.value)


def test_unreachable_repository_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(LabError, match=r"cannot fetch file://.*/absent") as info:
        resolve_code(parse_code(f"git+file://{tmp_path}/absent@main"), tmp_path, None)
    assert "\n" not in str(info.value)


def test_local_directory_and_script(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "__main__.py").write_text("print(1)\n")
    (tmp_path / "one.py").write_text("print(2)\n")
    assert resolve_code(parse_code("code", tmp_path), tmp_path, None).entry == "dir"
    assert resolve_code(parse_code(str(tmp_path / "one.py")), tmp_path, None).entry == "script"
    with pytest.raises(LabError, match="no such file or directory"):
        resolve_code(parse_code("missing", tmp_path), tmp_path, None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(LabError, match=r"has no __main__\.py"):
        resolve_code(parse_code("empty", tmp_path), tmp_path, None)
