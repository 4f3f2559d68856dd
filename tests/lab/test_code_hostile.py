"""EXECUTE_CODE from whoever can trigger a run is hostile: each value below tried to run a command, read a file or
leak a credential on the submitting machine. Every one is refused with one line before git runs, or reaches git
as data; the repositories are real (``git+file://`` made by the test) and git is the machine's own."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from airflow_provider_dsjobs.lab.code import parse_code, resolve_code
from airflow_provider_dsjobs.lab.config import LabError, LabJobConfig
from airflow_provider_dsjobs.lab.git import git_environment
from airflow_provider_dsjobs.lab.git_url import url_passwords
from airflow_provider_dsjobs.settings import Settings
from tests.lab.git_https import TOKEN, GitHttpsServer
from tests.lab.helpers import commit, make_repo


@pytest.fixture()
def pwned(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path, {"__main__.py": "print('hi')\n"})
    return path


def _resolve(text: str, tmp_path: Path, **policy: object) -> object:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return resolve_code(parse_code(text, tmp_path, **policy), scratch, None)  # type: ignore[arg-type]


def _hostile(pwned: Path, repo: Path) -> list[str]:
    cmd = f"touch${{IFS}}{pwned}"
    return [
        f"git+--upload-pack={cmd};:x",  # the finding: an scp-style "host" that is an option
        f"git+--upload-pack={cmd};:x@main",
        f"git+-oProxyCommand={cmd};:repo",
        f"git+ssh://-oProxyCommand={cmd}/repo.git",
        "git+ssh://-oProxyCommand=x@host/repo.git",
        f"git+ext::sh -c touch% {pwned}",
        f"git+ext::sh${{IFS}}-c${{IFS}}touch%${{IFS}}{pwned}",
        f"git+fd::3/{pwned}",
        f"git+file://{repo}@--upload-pack={cmd};false",  # a ref that is an option
        f"git+https://host/repo.git@--upload-pack={cmd}",
        "git+https://host/-repo.git",
        f"git+git@host:--upload-pack={cmd}",
        "git+https://host/repo.git@-main",
        "git+https://host/repo.git@ma\x1bin",
        "git+https://host/re\npo.git",
    ]


def test_hostile_git_values_run_nothing(tmp_path: Path, pwned: Path, repo: Path) -> None:
    for text in _hostile(pwned, repo):
        with pytest.raises(LabError) as info:
            _resolve(text, tmp_path)
        message = str(info.value)
        assert "\n" not in message and message.startswith("EXECUTE_CODE "), text
        assert not pwned.exists(), f"{text!r} ran a command"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("git+ext::sh -c id", "remote helpers"),
        ("git+fd::3", "remote helpers"),
        ("git+http://host/repo.git", "plain http"),
        ("git+git://host/repo.git", "git://"),
        ("git+https://-evil/repo.git", "host '-evil'"),
        ("git+ssh://-oProxyCommand=x/repo.git", "host '-oProxyCommand=x'"),
        ("git+--upload-pack=x;:y", "not a git URL"),
        ("git+https://host/repo.git@-x", "ref '-x'"),
        ("git+https://host/repo.git@a..b", "ref 'a..b'"),
        ("git+https://host/repo.git#subdirectory=-x", "subdirectory '-x'"),
        ("git+https://host/repo.git#subdirectory=/etc", "subdirectory"),
        ("git+https://host/repo.git#subdirectory=a/../../x", "must be a path inside the repository"),
        ("git+ssh://user:pw@host/repo.git", "password"),
    ],
)
def test_each_refusal_names_the_reason(text: str, message: str) -> None:
    with pytest.raises(LabError, match=message.replace("(", r"\(")) as info:
        parse_code(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "url", "ref"),
    [
        ("git+https://github.com/org/repo.git@v1.2", "https://github.com/org/repo.git", "v1.2"),
        ("git+https://host:8443/org/repo.git", "https://host:8443/org/repo.git", None),
        ("git+ssh://git@host:2222/org/repo.git@main", "ssh://git@host:2222/org/repo.git", "main"),
        ("git+git@github.com:org/repo.git@release-1_0", "git@github.com:org/repo.git", "release-1_0"),
        ("git+host.example:org/repo.git", "host.example:org/repo.git", None),
    ],
)
def test_ordinary_urls_still_work(text: str, url: str, ref: str | None) -> None:
    spec = parse_code(text, runtime=True)
    assert (spec.url, spec.ref) == (url, ref)


def test_git_itself_refuses_other_transports() -> None:
    """Were parsing ever to let one through, git's own protocol policy (set in its environment) still refuses
    ``ext::`` and plain http; ``file`` only when the caller allowed it."""
    env = git_environment(allow_file=False)
    assert env["GIT_ALLOW_PROTOCOL"] == "https:ssh"
    assert "file" in git_environment(allow_file=True)["GIT_ALLOW_PROTOCOL"].split(":")


def test_ext_transport_refused_by_git_even_if_parsing_missed_it(tmp_path: Path, pwned: Path) -> None:
    env = git_environment(allow_file=False)
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "b")], check=True)
    done = subprocess.run(
        ["git", "-c", "protocol.ext.allow=always", "--git-dir", str(tmp_path / "b"), "fetch", "--",
         f"ext::sh -c touch% {pwned}", "HEAD"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode != 0 and "transport 'ext' not allowed" in done.stderr
    assert not pwned.exists()


# -- where the value comes from: a run-time value names no local code -----------------------------------------


def test_run_time_value_may_not_name_local_code(tmp_path: Path, repo: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "__main__.py").write_text("print(1)\n")
    for text in (f"git+file://{repo}", str(tmp_path / "code"), "code", "../../etc", "~/.ssh"):
        with pytest.raises(LabError, match=r"a run-time value .* DSJOBS_LAB_CODE_ROOTS") as info:
            parse_code(text, tmp_path, runtime=True)
        assert "\n" not in str(info.value)
    # the author's own argument may
    assert parse_code(f"git+file://{repo}", tmp_path).kind == "git"
    assert parse_code("code", tmp_path).path == tmp_path / "code"


def test_run_time_value_may_name_code_under_a_configured_root(tmp_path: Path, repo: Path) -> None:
    (tmp_path / "code").mkdir()
    roots = (tmp_path,)
    assert parse_code("code", tmp_path, runtime=True, roots=roots).path == tmp_path / "code"
    assert parse_code(f"git+file://{repo}", tmp_path, runtime=True, roots=roots).url == f"file://{repo}"
    outside = tmp_path.parent
    for text in ("../x", str(outside), f"git+file://{outside}/r"):
        with pytest.raises(LabError, match="outside DSJOBS_LAB_CODE_ROOTS"):
            parse_code(text, tmp_path, runtime=True, roots=roots)
    (tmp_path / "link").symlink_to("/etc")
    with pytest.raises(LabError, match="outside DSJOBS_LAB_CODE_ROOTS"):
        parse_code("link", tmp_path, runtime=True, roots=roots)


def test_code_roots_setting() -> None:
    assert Settings.from_env({"DSJOBS_LAB_CODE_ROOTS": "/srv/a:/srv/b"}).lab_code_roots == ("/srv/a", "/srv/b")
    with pytest.raises(ValueError, match="DSJOBS_LAB_CODE_ROOTS: 'rel' is not an absolute directory"):
        Settings.from_env({"DSJOBS_LAB_CODE_ROOTS": "/srv/a:rel"})


def test_execute_code_from_a_param_is_a_run_time_value(tmp_path: Path) -> None:
    assert LabJobConfig(image="x", params={"EXECUTE_CODE": "store:k"}).code_is_runtime
    assert not LabJobConfig(image="x", execute_code="store:k").code_is_runtime
    assert LabJobConfig(image="x", execute_code="store:k", code_is_runtime=True).code_is_runtime


# -- a repository that links outside itself ------------------------------------------------------------------


def test_repository_symlink_out_of_the_checkout_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil"
    make_repo(path, {"__main__.py": "print(open('creds').read())\n"})
    secret = tmp_path / "worker-secret"
    secret.write_text("worker credentials\n")
    os.symlink(secret, path / "creds")
    commit(path, {}, "link")
    with pytest.raises(LabError, match="symlink 'creds' points outside the repository") as info:
        _resolve(f"git+file://{path}", tmp_path)
    assert "worker credentials" not in str(info.value)


def test_repository_symlink_inside_the_checkout_still_works(tmp_path: Path) -> None:
    path = tmp_path / "ok"
    make_repo(path, {"lib/helper.py": "X = 1\n", "__main__.py": "print(1)\n"})
    os.symlink("lib/helper.py", path / "helper.py")
    commit(path, {}, "link")
    code = _resolve(f"git+file://{path}", tmp_path)
    assert (code.root / "helper.py").read_text() == "X = 1\n"  # type: ignore[attr-defined]


# -- credentials in an https URL: a real git server over https (git http-backend), Basic auth ----------------


def _argv_recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fault injection: a ``git`` first on PATH that records the command line the kernel holds for it
    (``/proc/<pid>/cmdline``: what ``ps`` shows any user), then runs the real git."""
    log = tmp_path / "git-cmdline.log"
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    real = shutil.which("git")
    wrapper.write_text(f'#!/bin/sh\ntr "\\0" " " < /proc/$$/cmdline >> {log}; echo >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    return log


def test_https_credentials_reach_git_only_through_its_environment(
    https_repo: GitHttpsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _argv_recorder(tmp_path, monkeypatch)
    text = f"git+https://bot:{TOKEN}@127.0.0.1:{https_repo.port}/repo.git@main#subdirectory=job"
    spec = parse_code(text, runtime=True)
    assert spec.url == f"https://127.0.0.1:{https_repo.port}/repo.git"
    assert TOKEN not in spec.text and TOKEN not in repr(spec) and "bot:***@" in spec.text
    code = _resolve(text, tmp_path, runtime=True)
    assert (code.root / "__main__.py").read_text() == "print('over https')\n"  # type: ignore[attr-defined]
    assert TOKEN not in json.dumps(code.to_dict())  # type: ignore[attr-defined]
    cmdlines = log.read_text()
    assert f"fetch -q --depth 1 --no-tags -- https://127.0.0.1:{https_repo.port}/repo.git main" in cmdlines
    assert TOKEN not in cmdlines
    expected = "Basic " + base64.b64encode(f"bot:{TOKEN}".encode()).decode()
    assert expected in https_repo.requests  # the server did get them


def test_wrong_https_credentials_fail_in_one_line_without_the_token(https_repo: GitHttpsServer, tmp_path: Path) -> None:
    text = f"git+https://bot:wrong-{TOKEN}@127.0.0.1:{https_repo.port}/repo.git"
    with pytest.raises(LabError, match=r"cannot fetch https://127\.0\.0\.1") as info:
        _resolve(text, tmp_path, runtime=True)
    assert TOKEN not in str(info.value) and "\n" not in str(info.value)


def test_passwords_with_at_and_colon_are_hidden_whole() -> None:
    spec = parse_code("git+https://bot:p@ss:w0rd-s3cr3t@git.example/r.git", runtime=True)
    assert spec.password == "p@ss:w0rd-s3cr3t" and spec.url == "https://git.example/r.git"
    assert spec.text == "git+https://bot:***@git.example/r.git"
    assert url_passwords("git+https://bot:p@ss:w0rd-s3cr3t@git.example/r.git") == ["p@ss:w0rd-s3cr3t"]


def test_credentials_are_offered_to_the_url_host_only(https_repo: GitHttpsServer, tmp_path: Path) -> None:
    """git's credential helper answers for the URL's own host: a redirect or another host gets nothing."""
    env = git_environment(allow_file=False, credentials=("bot", TOKEN), origin="https://127.0.0.1:1")

    def fill(host: str) -> str:
        done = subprocess.run(
            ["git", "credential", "fill"], input=f"protocol=https\nhost={host}\n\n", env=env,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return done.stdout

    assert f"password={TOKEN}" in fill("127.0.0.1:1")
    assert TOKEN not in fill("evil.example")
