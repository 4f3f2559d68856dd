"""Errors of the Docker runtime: each carries one line a user can act on, never a traceback or a secret."""

from __future__ import annotations


class RuntimeFailure(Exception):
    """Something the Docker engine could not do; ``str(exc)`` is a single user-facing line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class ContainerNotFound(RuntimeFailure):
    """The container does not exist (never created, or already removed)."""


class EngineUnreachable(RuntimeFailure):
    """The Docker engine does not answer (stopped, restarting, or the network to it is down): what it runs is
    unknown until it is back."""


class VolumeInUse(RuntimeFailure):
    """A volume cannot be removed: a container (running or not) mounts it."""


class WaitTimeout(RuntimeFailure):
    """The container did not exit within the time asked for."""


def reason_of(exc: BaseException) -> str:
    """A short one-line reason for ``exc``: the engine's own explanation when it gave one, else the innermost OS
    error (``Connection refused``, ``No such file or directory``) rather than the nested ``requests`` wrapper text."""
    explanation = getattr(exc, "explanation", None)
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    if isinstance(explanation, str) and explanation.strip():
        return " ".join(explanation.split())
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    best: str | None = None
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            best = current.strerror
        for arg in current.args:
            if isinstance(arg, BaseException):
                stack.append(arg)
        for linked in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(linked, BaseException):
                stack.append(linked)
    if best:
        return best
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


class PathNotFound(RuntimeFailure):
    """A path asked for inside a container does not exist."""


class UnsafeMember(RuntimeFailure):
    """An archive member that could land outside the destination, or is neither a file nor a directory."""
