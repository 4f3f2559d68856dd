"""The in-container builder of a job's Python environment. Standard library only; runs under the image's
``python3`` (3.8 or newer) before the job's ``cmd``::

    python3 pyenv_build.py pyenv.json

The spec (written by :func:`airflow_provider_dsjobs.pyenv.plan.plan_python_env`) names an environment by
hash. Environments live in a Docker volume mounted at ``env_root``: ``<env_root>/<hash>/venv`` is the virtual
environment, ``<env_root>/<hash>/.complete`` marks a finished build.

* ``.complete`` exists → "environment cache hit", exit 0 at once (no pip, no lock).
* otherwise an exclusive ``fcntl.flock`` on ``<env_root>/.<hash>.lock`` serialises builders (two jobs may
  start the same environment at once; the lock dies with its process, so a crashed build never wedges it),
  the check is repeated, any half-built directory is removed, ``python3 -m venv --system-site-packages``
  creates the venv and ``pip install -r requirements.txt`` installs the requirements with the spec's options.
  pip's output is streamed to stdout.
* The venv always sees the image's own site-packages (``--system-site-packages``): packages an image ships
  (CUDA builds of torch, say) stay usable and pip does not download them again when they already satisfy a
  requirement. With no requirements there is still a venv, so ``python`` in ``cmd`` is always the venv's.
* Any failure writes the reason and the last lines of pip's output to ``failed_marker`` and exits with
  :data:`EXIT_ENV_FAILED` (97), so the job ends as ERROR with pip's message before ``cmd`` runs.
"""

from __future__ import annotations

import collections
import errno
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: Exit code of a failed environment build (the failed marker holds the reason).
EXIT_ENV_FAILED = 97
#: Lines of pip's output kept for the failed marker.
TAIL_LINES = 50
PREFIX = "dsjobs-pyenv:"


class BuildError(Exception):
    def __init__(self, message: str, tail: list[str] | None = None) -> None:
        super().__init__(message)
        self.tail = tail or []


def say(message: str) -> None:
    print(f"{PREFIX} {message}", flush=True)


def run_streamed(argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
    """Run ``argv``, copying its output to stdout line by line; raise BuildError with the tail on failure."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        tail.append(line)
        print(line, flush=True)
    code = proc.wait()
    if code != 0:
        raise BuildError(f"{what} failed (exit code {code})", list(tail))


def pip_arguments(pip: dict[str, Any]) -> list[str]:
    args = ["--disable-pip-version-check", "--no-input", "--no-cache-dir"]
    if pip.get("index_url"):
        args += ["--index-url", pip["index_url"]]
    for url in pip.get("extra_index_urls") or []:
        args += ["--extra-index-url", url]
    for host in pip.get("trusted_hosts") or []:
        args += ["--trusted-host", host]
    if pip.get("no_deps"):
        args.append("--no-deps")
    return args


def acquire_lock(path: Path, timeout: float) -> Any:
    handle = open(path, "a")  # noqa: SIM115 - held until the process ends or release
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if not waited:
            say("another job is building this environment; waiting for it")
            waited = True
        if time.monotonic() > deadline:
            handle.close()
            raise BuildError(f"timed out after {int(timeout)} s waiting for another build of this environment")
        time.sleep(1.0)


def build(spec: dict[str, Any], env_dir: Path) -> None:
    venv = env_dir / "venv"
    if env_dir.exists():
        say("removing an unfinished build")
        shutil.rmtree(env_dir)
    env_dir.mkdir(parents=True)
    started = time.monotonic()
    say(f"creating a virtual environment with Python {sys.version.split()[0]}")
    run_streamed([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], "creating the venv")
    requirements: list[str] = list(spec.get("requirements") or [])
    if requirements:
        req_file = env_dir / "requirements.txt"
        req_file.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        say(f"installing {len(requirements)} requirement(s) with pip")
        env = dict(os.environ, PIP_ROOT_USER_ACTION="ignore", PIP_PROGRESS_BAR="off", PYTHONUNBUFFERED="1")
        env.pop("PIP_REQUIRE_VIRTUALENV", None)
        argv = [str(venv / "bin" / "python"), "-m", "pip", "install", *pip_arguments(spec.get("pip") or {})]
        run_streamed([*argv, "-r", str(req_file)], "pip install", env=env)
    (env_dir / "spec.json").write_text(json.dumps(spec, indent=1, sort_keys=True), encoding="utf-8")
    marker = env_dir / ".complete"
    partial = env_dir / ".complete.tmp"
    partial.write_text(json.dumps({"built_at": time.time(), "seconds": time.monotonic() - started}), encoding="utf-8")
    partial.replace(marker)
    say(f"environment built in {time.monotonic() - started:.1f} s")


def write_failed(marker: str | None, message: str, tail: list[str]) -> None:
    text = f"{PREFIX} the Python environment could not be built: {message}\n"
    if tail:
        text += f"--- last {len(tail)} lines of output ---\n" + "\n".join(tail) + "\n"
    sys.stderr.write(text)
    sys.stderr.flush()
    if marker:
        try:
            Path(marker).parent.mkdir(parents=True, exist_ok=True)
            Path(marker).write_text(text, encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(f"{PREFIX} cannot write {marker}: {exc}\n")


def run(spec_path: str) -> int:
    try:
        spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        write_failed(None, f"cannot read the environment spec {spec_path}: {exc}", [])
        return EXIT_ENV_FAILED
    marker = spec.get("failed_marker")
    try:
        if marker and os.path.exists(marker):
            os.remove(marker)
        env_hash = spec["hash"]
        wanted = spec.get("version", "")
        running = "{}.{}".format(*sys.version_info[:2])
        if wanted and wanted != running:
            if spec.get("version_strict"):
                raise BuildError(
                    f"the image runs Python {running} but env.python.version is {wanted}; use an image with "
                    f"Python {wanted} or change the version"
                )
            say(f"note: the image runs Python {running}, the job was analysed with Python {wanted}")
        root = Path(spec["env_root"])
        env_dir = root / env_hash
        if (env_dir / ".complete").exists():
            say(f"environment cache hit ({env_hash[:16]})")
            return 0
        root.mkdir(parents=True, exist_ok=True)
        lock = acquire_lock(root / f".{env_hash}.lock", float(spec.get("lock_timeout", 3600)))
        try:
            if (env_dir / ".complete").exists():
                say(f"environment cache hit ({env_hash[:16]}, built by another job)")
                return 0
            say(f"building environment {env_hash[:16]}")
            build(spec, env_dir)
        finally:
            lock.close()
        return 0
    except BuildError as exc:
        write_failed(marker, str(exc), exc.tail)
    except (OSError, KeyError, subprocess.SubprocessError) as exc:
        write_failed(marker, f"{type(exc).__name__}: {exc}", [])
    return EXIT_ENV_FAILED


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write(f"usage: {Path(sys.argv[0]).name} SPEC_JSON\n")
        return EXIT_ENV_FAILED
    return run(args[0])


if __name__ == "__main__":
    sys.exit(main())
