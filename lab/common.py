"""Shared helpers: the state directory, running commands, the error type."""

from __future__ import annotations

import fcntl
import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

DEFAULT_STATE_DIR = "/var/tmp/auditor-lab"
STATE_ENV = "AUDITOR_LAB_DIR"


class LabError(RuntimeError):
    """Any failure of the lab: building the base, starting or stopping hosts."""


def state_dir() -> Path:
    """Return the lab state directory (``$AUDITOR_LAB_DIR`` or the default)."""
    return Path(os.environ.get(STATE_ENV) or DEFAULT_STATE_DIR)


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (namespaces, mounts, debootstrap)")


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    check: bool = True,
    capture: bool = True,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command; raise LabError with its output if it fails and ``check`` is set."""
    args = [os.fspath(a) for a in argv]
    try:
        proc = subprocess.run(
            args,
            check=False,
            text=True,
            capture_output=capture,
            timeout=timeout,
            env=env,
            input=input_text,
        )
    except FileNotFoundError as exc:
        raise LabError(f"command not found: {args[0]} (install it on the machine)") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout}s: {' '.join(args)}") from exc
    if check and proc.returncode != 0:
        out = ((proc.stdout or "") + (proc.stderr or "")).strip()
        tail = "\n".join(out.splitlines()[-30:])
        raise LabError(f"command failed ({proc.returncode}): {' '.join(args)}\n{tail}")
    return proc


@contextmanager
def locked(state: Path) -> Iterator[None]:
    """Serialise lab operations (e.g. several pytest workers calling ``up``)."""
    state.mkdir(parents=True, exist_ok=True)
    with (state / "lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
