"""The seam between the collector and the wire: run one command, feed it stdin, get both streams back."""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import paramiko

from auditor.errors import CollectorError

DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024  # bytes, stdout + stderr together, per exec request
_READ_CHUNK = 64 * 1024
_POLL_S = 0.05


@dataclass(frozen=True)
class ExecResult:
    exit_status: int | None  # None when the remote side never reported one (e.g. cut at the byte cap)
    stdout: bytes
    stderr: bytes
    truncated: bool = False  # the byte cap was reached; reading stopped and the channel was closed


class Transport(Protocol):
    """One connection to one target. Every call to ``exec`` is one exec request."""

    exec_requests: int

    def exec(self, command: str, stdin: bytes, timeout_s: float) -> ExecResult: ...

    def close(self) -> None: ...


def _deadline_error(timeout_s: float) -> CollectorError:
    return CollectorError(f"the batched execution did not finish within {timeout_s:.1f} s", reason="deadline_exceeded")


class LocalTransport:
    """Runs the command on this machine. For unit tests: it proves the script really works in dash and bash.

    ``command`` is split like a shell word list; a word ``sh`` is replaced by ``shell`` so that the
    collector's ``sh -s`` can be run with dash or bash. ``env`` replaces the environment (tests put a fake
    ``sudo`` first on PATH that way).
    """

    def __init__(
        self, shell: str = "sh", env: Mapping[str, str] | None = None, max_output: int = DEFAULT_MAX_OUTPUT
    ) -> None:
        self.shell = shell
        self.env = dict(env) if env is not None else None
        self.max_output = max_output
        self.exec_requests = 0

    def exec(self, command: str, stdin: bytes, timeout_s: float) -> ExecResult:
        argv = [self.shell if word == "sh" else word for word in shlex.split(command)]
        self.exec_requests += 1
        # S603: argv is a list (no shell parsing here); this class only ever runs in unit tests.
        proc = subprocess.Popen(  # noqa: S603
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            start_new_session=True,  # so a timeout can kill the whole tree, like closing an SSH channel
        )
        try:
            stdout, stderr = proc.communicate(stdin, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise _deadline_error(timeout_s) from None
        truncated = len(stdout) + len(stderr) > self.max_output
        if truncated:
            stdout = stdout[: self.max_output]
            stderr = stderr[: max(0, self.max_output - len(stdout))]
        return ExecResult(exit_status=proc.returncode, stdout=stdout, stderr=stderr, truncated=truncated)

    def close(self) -> None:
        return None


class ParamikoTransport:
    """One authenticated ``paramiko.SSHClient``; each ``exec`` is one session channel with one exec request."""

    def __init__(self, client: paramiko.SSHClient, max_output: int = DEFAULT_MAX_OUTPUT) -> None:
        self.client = client
        self.max_output = max_output
        self.exec_requests = 0

    def exec(self, command: str, stdin: bytes, timeout_s: float) -> ExecResult:
        deadline = time.monotonic() + timeout_s
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise CollectorError("the SSH connection is not open", reason="connection_lost")
        try:
            channel = transport.open_session(timeout=max(1.0, min(timeout_s, 30.0)))
        except (paramiko.SSHException, OSError) as exc:
            raise CollectorError(f"could not open an SSH session: {type(exc).__name__}", reason="exec_failed") from None
        try:
            self.exec_requests += 1
            channel.exec_command(command)
            return self._pump(channel, stdin, deadline, timeout_s)
        except (paramiko.SSHException, OSError) as exc:
            raise CollectorError(f"the SSH session failed: {type(exc).__name__}", reason="exec_failed") from None
        finally:
            channel.close()

    def _pump(self, channel: paramiko.Channel, stdin: bytes, deadline: float, timeout_s: float) -> ExecResult:
        """Write stdin and read both streams in one loop, so neither side can block the other."""
        channel.settimeout(0.0)
        out = bytearray()
        err = bytearray()
        view = memoryview(stdin)
        sent = 0
        if not stdin:
            channel.shutdown_write()
        wakeup = channel.fileno()  # becomes readable when stdout or stderr data arrive
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _deadline_error(timeout_s)
            progressed = False
            if sent < len(view) and channel.send_ready():
                try:
                    sent += channel.send(bytes(view[sent : sent + _READ_CHUNK]))
                    progressed = True
                except TimeoutError:
                    pass
                except (OSError, paramiko.SSHException):
                    sent = len(view)  # the remote side stopped reading (e.g. sudo refused): keep reading
                if sent >= len(view):
                    with contextlib.suppress(OSError, paramiko.SSHException):
                        channel.shutdown_write()
            while channel.recv_ready():
                out += channel.recv(_READ_CHUNK)
                progressed = True
            while channel.recv_stderr_ready():
                err += channel.recv_stderr(_READ_CHUNK)
                progressed = True
            if len(out) + len(err) > self.max_output:
                keep_out = bytes(out[: self.max_output])
                keep_err = bytes(err[: max(0, self.max_output - len(keep_out))])
                return ExecResult(exit_status=None, stdout=keep_out, stderr=keep_err, truncated=True)
            finished = channel.closed or (channel.eof_received and channel.exit_status_ready())
            if finished and not channel.recv_ready() and not channel.recv_stderr_ready():
                status = channel.recv_exit_status() if channel.exit_status_ready() else -1
                return ExecResult(exit_status=None if status < 0 else status, stdout=bytes(out), stderr=bytes(err))
            if not progressed:
                select.select([wakeup], [], [], min(_POLL_S, remaining))  # woken by stdout or stderr data

    def close(self) -> None:
        self.client.close()
