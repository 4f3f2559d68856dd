"""Lazy S3 mounts: a read-only s3-mount served by s3fs (FUSE), so a job reads on demand only the bytes it opens.

One *helper* container per mount runs s3fs on the job's engine: it is the only privileged container
(``ContainerSpec.fuse``: ``/dev/fuse``, ``CAP_SYS_ADMIN``, no AppArmor profile) and the only one that holds the
mount's credentials, as a file (``/root/.aws/credentials``, mode 0600, an ``s3fs -o profile``) copied in after it
is created and before it starts — never in its environment or command line, so ``docker inspect`` shows none. It
mounts the bucket/prefix at ``<root>/<job>-<mount>`` of the engine host (``DSJOBS_LAZY_MOUNT_ROOT``, a *shared*
mount, so the mount made in the helper reaches the host), and the job's container binds that directory read-only
with ``rslave`` propagation: it sees the files, never the credentials, and keeps its usual restrictions.

Every value that reaches s3fs's argv is checked here: s3fs (like every FUSE program) splits ``-o`` at commas, so
an endpoint, region or prefix holding ``,`` or other option syntax (``http://x,passwd_file=/etc/shadow``) is refused
with one line instead of being passed on. Stopping the helper (SIGTERM) makes s3fs unmount.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, replace

from airflow_provider_dsjobs.config.redact import value_masker
from airflow_provider_dsjobs.resources.s3_connectors import S3Source
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import ContainerInfo, ContainerSpec
from airflow_provider_dsjobs.runtime.errors import ContainerNotFound, RuntimeFailure
from airflow_provider_dsjobs.runtime.helper import HELPER_LABEL, helper_spec, run_helper
from airflow_provider_dsjobs.runtime.labels import LABEL_JOB_ID, LABEL_PROJECT
from airflow_provider_dsjobs.runtime.tarstream import TarDir, TarEntry, TarFile, tar_stream

#: Label of a lazy mount's helper container: the mount's ID (besides the job id and project labels).
LAZY_LABEL = "dsjobs.lazy-mount"
#: ``dsjobs.helper`` value of a lazy mount's helper.
HELPER_PURPOSE = "lazy-s3-mount"
#: Where s3fs mounts inside the helper (the engine-host directory is bound there, ``rshared``).
MOUNT_POINT = "/mnt/s3"
#: The s3fs profile the credentials file holds.
PROFILE = "dsjobs"
#: How long a launch waits for s3fs to mount (it checks the bucket first) before it gives up.
MOUNT_TIMEOUT = 60.0
#: How long a stopping helper gets to unmount after SIGTERM.
STOP_TIMEOUT = 10.0

_ENDPOINT = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")
_PREFIX = re.compile(r"[A-Za-z0-9._~/=+@-]*")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
_KEY = re.compile(r"[\x21-\x7e]+")  # printable, no space: one line of the credentials file each


class LazyMountError(Exception):
    """A lazy mount cannot be set up (one line, naming the mount and, where it helps, the setting to fix)."""


@dataclass(frozen=True)
class LazyMount:
    """One lazy s3-mount of one job: where it lives on the engine host and what its helper runs."""

    job_id: str
    project: str
    mount_id: str
    source: S3Source
    root: str

    @property
    def where(self) -> str:
        return f"lazy s3-mount {self.mount_id}"

    @property
    def host_dir(self) -> str:
        name = f"{self.job_id}-{self.mount_id}"
        if not _NAME.fullmatch(name):
            raise LazyMountError(f"{self.where}: job id or mount ID {name!r} is not letters, digits, _ and -")
        return f"{self.root.rstrip('/')}/{name}"

    def labels(self) -> dict[str, str]:
        return {LABEL_JOB_ID: self.job_id, LABEL_PROJECT: self.project, LAZY_LABEL: self.mount_id}

    def command(self) -> list[str]:
        """s3fs's argv: the bucket (and prefix), the mount point, and options checked to hold no option syntax."""
        bucket, _, prefix = self.source.url[len("s3://") :].partition("/")
        prefix = prefix.strip("/")
        if not _PREFIX.fullmatch(prefix) or "//" in prefix:
            raise LazyMountError(
                f"{self.where}: the prefix {prefix[:80]!r} holds characters s3fs would misread; a lazy mount takes "
                "letters, digits and ._~/=+@- only (use the engine cache: drop lazy)"
            )
        options = ["ro", "allow_other", "umask=0222", "mp_umask=0222", f"profile={PROFILE}"]
        endpoint = self.source.endpoint_url
        if endpoint:
            if not _ENDPOINT.fullmatch(endpoint):
                raise LazyMountError(
                    f"{self.where}: endpoint URL {endpoint[:80]!r} is not a plain http(s)://host[:port][/path] "
                    "(no ',' or other s3fs option syntax)"
                )
            options += [f"url={endpoint.rstrip('/')}", "use_path_request_style"]
        if self.source.region:
            if not _REGION.fullmatch(self.source.region):
                raise LazyMountError(f"{self.where}: region {self.source.region[:40]!r} is not like eu-west-1")
            options.append(f"endpoint={self.source.region}")
        remote = f"{bucket}:/{prefix}" if prefix else bucket
        return ["s3fs", remote, MOUNT_POINT, "-f", "-o", ",".join(options)]

    def credentials_file(self) -> bytes:
        """The ``[dsjobs]`` profile s3fs reads (the key ID, the secret key and a session token if any)."""
        access, secret, token = self.source.current_keys()
        if not access or not secret:
            access, secret, token = _default_chain()
        lines = [f"[{PROFILE}]"]
        keys = (("aws_access_key_id", access), ("aws_secret_access_key", secret), ("aws_session_token", token))
        for name, value in keys:
            if value is None:
                continue
            if not _KEY.fullmatch(value):
                raise LazyMountError(f"{self.where}: the credentials hold a space or a control character")
            lines.append(f"{name} = {value}")
        return ("\n".join(lines) + "\n").encode()

    def helper_spec(self, image: str, network: str | None) -> ContainerSpec:
        return ContainerSpec(
            image=image,
            command=None,
            entrypoint=self.command(),
            env={},
            labels={**self.labels(), HELPER_LABEL: HELPER_PURPOSE},
            working_dir="/",
            user="0",
            init=False,  # s3fs is PID 1 and handles SIGTERM itself: it unmounts and exits
            network=network,
            stop_signal="SIGTERM",
            engine_binds={self.host_dir: {"bind": MOUNT_POINT, "mode": "rw", "propagation": "rshared"}},
            fuse=True,
        )

    def job_bind(self, container_path: str) -> dict[str, dict[str, str]]:
        """What the job's container binds: the mount, read-only, following the helper's mount (``rslave``)."""
        return {self.host_dir: {"bind": container_path, "mode": "ro", "propagation": "rslave"}}


def _default_chain() -> tuple[str | None, str | None, str | None]:
    """The standard AWS credential chain of this process (a mount without keys of its own)."""
    import boto3

    credentials = boto3.session.Session().get_credentials()
    if credentials is None:
        return None, None, None
    frozen = credentials.get_frozen_credentials()
    return frozen.access_key, frozen.secret_key, frozen.token


def start_helper(runtime: ContainerRuntime, mount: LazyMount, image: str, network: str | None) -> str:
    """Create the helper, copy the credentials file in, start it; its container id. A failure is one
    ``LazyMountError`` line naming the setting to fix; the half-made helper is removed."""
    secrets = mount.source.secret_values()
    spec = mount.helper_spec(image, network)
    credentials = mount.credentials_file()
    try:
        cid = runtime.create(spec)
    except RuntimeFailure as exc:
        raise LazyMountError(f"{mount.where}: {_hint(str(exc), image)}") from None
    try:
        entries: list[TarEntry] = [
            TarDir("root/.aws", mode=0o700),
            TarFile("root/.aws/credentials", len(credentials), lambda: io.BytesIO(credentials), mode=0o600),
        ]
        runtime.put_archive(cid, "/", tar_stream(entries))
        runtime.start(cid)
    except RuntimeFailure as exc:
        with suppress(RuntimeFailure):
            runtime.remove(cid, force=True)
        raise LazyMountError(f"{mount.where}: {_hint(masked(str(exc), secrets), image)}") from None
    return cid


def _hint(reason: str, image: str) -> str:
    """The engine's reason with what to change: the mount root, /dev/fuse, the image."""
    if "shared mount" in reason:
        return (
            f"{reason} (DSJOBS_LAZY_MOUNT_ROOT must be a shared mount on the engine host: "
            "scripts/ensure-lazy-mounts.sh, or `mount --bind D D && mount --make-rshared D`)"
        )
    if "/dev/fuse" in reason:
        return f"{reason} (the engine host has no /dev/fuse: turn DSJOBS_LAZY_MOUNTS off there)"
    if "executable file not found" in reason or "No such image" in reason or "not on the Docker engine" in reason:
        return f"{reason} (DSJOBS_S3FS_IMAGE={image} must be an image with s3fs: scripts/ensure-lazy-mounts.sh)"
    return reason


def wait_mounted(runtime: ContainerRuntime, mount: LazyMount, cid: str, timeout: float = MOUNT_TIMEOUT) -> None:
    """Return once s3fs has mounted in helper ``cid``; a helper that exits first (s3fs refused the bucket or the
    credentials) is a ``LazyMountError`` with s3fs's last line, secrets masked."""
    deadline = time.monotonic() + timeout
    while True:
        state = runtime.state(cid)
        if state is None or state.finished:
            raise LazyMountError(f"{mount.where}: s3fs stopped before mounting: {last_line(runtime, cid, mount)}")
        if state.status == "running":
            with suppress(RuntimeFailure):  # it may exit between the look and the exec: looked at again above
                code, text = runtime.run_in(cid, ["cat", "/proc/mounts"])
                if code == 0 and _mounted(text):
                    return
        if time.monotonic() > deadline:
            raise LazyMountError(
                f"{mount.where}: s3fs did not mount within {timeout:g}s: {last_line(runtime, cid, mount)}"
            )
        time.sleep(0.1)


def _mounted(proc_mounts: str) -> bool:
    return any(
        len(fields) > 2 and fields[1] == MOUNT_POINT and fields[2].startswith("fuse")
        for fields in (line.split() for line in proc_mounts.splitlines())
    )


def last_line(runtime: ContainerRuntime, cid: str, mount: LazyMount) -> str:
    """The helper's last log line (what s3fs said last), secrets masked; ``(no output)`` when it said nothing."""
    try:
        lines = [line for _, line in runtime.stream_logs(cid, follow=False) if line.strip()]
    except RuntimeFailure:
        lines = []
    return masked(" ".join(lines[-1].split()) if lines else "(no output)", mount.source.secret_values())[:300]


def masked(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` as ``***``."""
    mask = value_masker(secrets)
    return text if mask is None else mask(text)


def find_helpers(
    runtime: ContainerRuntime, *, job_id: str | None = None, project: str | None = None
) -> list[ContainerInfo]:
    """The lazy mounts' helpers on ``runtime``'s engine (of one job, or of one project)."""
    labels: dict[str, str | None] = {HELPER_LABEL: HELPER_PURPOSE, LAZY_LABEL: None}
    if job_id is not None:
        labels[LABEL_JOB_ID] = job_id
    if project is not None:
        labels[LABEL_PROJECT] = project
    return runtime.find(labels)


#: How old an empty mount directory must be before ``remove_empty_dirs`` takes it (minutes): a launch creates
#: the directory (the engine does, for the helper's bind) moments before s3fs mounts over it.
EMPTY_DIR_MINUTES = 60


def remove_empty_dirs(runtime: ContainerRuntime, image: str, root: str, project: str) -> list[str]:
    """Remove the mount directories of ended jobs (empty, older than ``EMPTY_DIR_MINUTES``) under ``root`` on the
    engine host, from a helper there (the engine may be remote); the names removed. A directory something is
    mounted on is never empty, or refuses removal."""
    command = ["find", "/lazy", "-mindepth", "1", "-maxdepth", "1", "-type", "d", "-empty",
               "-mmin", f"+{EMPTY_DIR_MINUTES}", "-print", "-delete"]  # fmt: skip
    spec = replace(
        helper_spec(image, command, {LABEL_PROJECT: project}, "lazy-mount-dirs"),
        engine_binds={root: {"bind": "/lazy", "mode": "rw"}},
    )
    _, lines = run_helper(runtime, spec, timeout=60)
    return [line.removeprefix("/lazy/") for line in lines if line.startswith("/lazy/")]


def stop_helper(runtime: ContainerRuntime, cid: str) -> None:
    """SIGTERM (s3fs unmounts), then remove the helper; one already gone is fine."""
    with suppress(ContainerNotFound):
        runtime.stop(cid, signal="SIGTERM", timeout=STOP_TIMEOUT)
    runtime.remove(cid, force=True)
