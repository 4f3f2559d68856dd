from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.pyenv.errors import PyEnvError
from airflow_provider_dsjobs.pyenv.requirements import parse_requirements_file


def _parse(tmp_path: Path, text: str, **extra: str):  # type: ignore[no-untyped-def]
    for name, content in extra.items():
        (tmp_path / name.replace("__", ".")).write_text(content)
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    return parse_requirements_file(path, display_base=tmp_path)


def test_what_pip_accepts_and_is_safe(tmp_path: Path) -> None:
    req = _parse(
        tmp_path,
        "# a comment\n"
        "numpy>=1.24,<3  # trailing comment\n"
        "requests[socks]==2.31.0\n"
        'tomli; python_version < "3.11"\n'
        "pkg @ https://example.org/pkg-1.0-py3-none-any.whl\n"
        "hashed==1.0 --hash=sha256:" + "a" * 64 + "\n"
        "long-name \\\n    ==1.0\n"
        "--index-url https://pypi.example/simple\n"
        "--extra-index-url=https://extra.example/simple\n"
        "--trusted-host extra.example\n"
        "--no-deps\n"
        "--pre\n"
        "--only-binary :all:\n"
        "-r more.txt\n",
        more__txt="pandas==2.0\n",
    )
    assert req.lines == [
        "numpy>=1.24,<3",
        "requests[socks]==2.31.0",
        'tomli; python_version < "3.11"',
        "pkg @ https://example.org/pkg-1.0-py3-none-any.whl",
        "hashed==1.0 --hash=sha256:" + "a" * 64,
        "long-name      ==1.0",
        "--pre",
        "--only-binary :all:",
        "pandas==2.0",
    ]
    assert req.index_url == "https://pypi.example/simple"
    assert req.extra_index_urls == ["https://extra.example/simple"]
    assert req.trusted_hosts == ["extra.example"]
    assert req.no_deps


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-e ./mylib", r"requirements\.txt:2: editable requirements \(-e\) are not supported"),
        ("./mylib", r"requirements\.txt:2: local path requirements are not supported"),
        ("../dist/mylib-1.0-py3-none-any.whl", r"requirements\.txt:2: local path"),
        ("file:///tmp/x.whl", r"requirements\.txt:2: local path"),
        ("mylib @ file:///home/me/mylib", r"requirements\.txt:2: requirement mylib points to a local path"),
        ("-c constraints.txt", r"requirements\.txt:2: constraint files"),
        ("--find-links ./wheels", r"requirements\.txt:2: --find-links must be an http\(s\) URL"),
        ("--user", r"requirements\.txt:2: unsupported option --user"),
        ("numpy!!1", r"requirements\.txt:2: invalid requirement 'numpy!!1'"),
        ("-r ../elsewhere.txt", r"requirements\.txt:2: -r must name a file next to this one"),
        ("-r missing.txt", r"requirements\.txt:2: included requirements file 'missing.txt' was not found"),
    ],
)
def test_rejected_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(PyEnvError, match=message):
        _parse(tmp_path, f"numpy\n{line}\n")


def test_index_url_with_a_variable_stays_in_the_file_for_pip_to_expand(tmp_path: Path) -> None:
    req = _parse(tmp_path, "--extra-index-url https://${PYPI_TOKEN}@private.example/simple\nprivpkg==1.0\n")
    assert req.extra_index_urls == []
    assert req.lines == ["--extra-index-url https://${PYPI_TOKEN}@private.example/simple", "privpkg==1.0"]


def test_include_loop_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PyEnvError, match="include each other"):
        _parse(tmp_path, "-r a.txt\n", a__txt="-r requirements.txt\n")


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PyEnvError, match=r"requirements file .*nope\.txt' was not found"):
        parse_requirements_file(tmp_path / "nope.txt")
