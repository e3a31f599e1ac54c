"""What each behaviour does once its exec request has been accepted (and the client told so).

Commands really run on this machine, as the user running the fleet: ``sh -c COMMAND`` as sshd would
run it, with a leading ``sudo -n`` removed, in a login-like environment, in a process group of its
own that is killed when the session ends. Output goes to the channel through a *sink*, which is
where the behaviours differ: sent as it comes, dripped, rewritten line by line, or collected and cut.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import paramiko

from tests.hostile_ssh.fleet import Behaviour
from tests.hostile_ssh.streams import (
    LONG_LINE_BYTES,
    SHORT_LINE_BYTES,
    InjectAfterStart,
    LineRewriter,
    PoisonProbeStdout,
    cut_point,
    flood_chunks,
    forged_records,
    script_probe_ids,
    script_token,
)

DRIP_INTERVAL_S = 0.2  # drip_feed: one byte of stdout per interval
READ_BYTES = 64 * 1024
MAX_SCRIPT_BYTES = 16 * 1024 * 1024  # behaviours that read the whole script first keep at most this much
_SUDO_PREFIX = re.compile(r"^\s*sudo\s+-n\s+")


@dataclass(frozen=True)
class Session:
    """One accepted exec request."""

    behaviour: Behaviour
    transport: paramiko.Transport
    channel: paramiko.Channel
    command: str
    stop: threading.Event  # set when the fleet stops
    flood_bytes: int


# -------------------------------------------------------------------------------------------- sinks


class Sink(Protocol):
    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class ChannelSink:
    """Sends to the channel's stdout or stderr; ``sendall`` waits for the client's window."""

    def __init__(self, channel: paramiko.Channel, *, stderr: bool = False) -> None:
        self.send = channel.sendall_stderr if stderr else channel.sendall

    def write(self, data: bytes) -> None:
        self.send(data)

    def close(self) -> None:
        return None


class DripSink:
    """drip_feed: one byte, then a pause."""

    def __init__(self, channel: paramiko.Channel, stop: threading.Event) -> None:
        self.channel = channel
        self.stop = stop

    def write(self, data: bytes) -> None:
        for byte in data:
            self.channel.sendall(bytes((byte,)))
            if self.stop.wait(DRIP_INTERVAL_S):
                raise ConnectionAbortedError("the fleet is stopping")

    def close(self) -> None:
        return None


class CollectSink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        return None


class LineSink:
    """Hands whole lines to a rewriter and passes on what it returns; an unterminated end passes unchanged."""

    def __init__(self, rewriter: LineRewriter, downstream: Sink) -> None:
        self.rewriter = rewriter
        self.downstream = downstream
        self.pending = bytearray()

    def write(self, data: bytes) -> None:
        self.pending += data
        last = self.pending.rfind(b"\n")
        if last < 0:
            return
        lines = bytes(self.pending[:last]).split(b"\n")
        del self.pending[: last + 1]
        self._send([out for line in lines for out in self.rewriter.line(line)])

    def close(self) -> None:
        self._send(self.rewriter.end())
        if self.pending:
            self.downstream.write(bytes(self.pending))
        self.downstream.close()

    def _send(self, lines: list[bytes]) -> None:
        if lines:
            self.downstream.write(b"".join(line + b"\n" for line in lines))


# ------------------------------------------------------------------------------ running the command


def _local_argv(command: str) -> list[str]:
    return ["/bin/sh", "-c", _SUDO_PREFIX.sub("", command, count=1)]


def _login_environment() -> dict[str, str]:
    """What sshd would give the session, roughly: nothing inherited from the test process."""
    account = pwd.getpwuid(os.getuid())
    return {
        "HOME": account.pw_dir,
        "USER": account.pw_name,
        "LOGNAME": account.pw_name,
        "SHELL": "/bin/sh",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
    }


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def read_stdin(channel: paramiko.Channel) -> bytes:
    """The client's whole stdin, up to its EOF (at most MAX_SCRIPT_BYTES are kept)."""
    received = bytearray()
    while chunk := channel.recv(READ_BYTES):
        if len(received) < MAX_SCRIPT_BYTES:
            received += chunk
    return bytes(received)


def _feed_from_channel(channel: paramiko.Channel, process: subprocess.Popen[bytes]) -> None:
    """Copies the channel's stdin to the process up to the client's EOF; drains it if the process quits."""
    assert process.stdin is not None
    writable = True
    try:
        while chunk := channel.recv(READ_BYTES):
            if writable:
                try:
                    process.stdin.write(chunk)
                    process.stdin.flush()
                except OSError:  # BrokenPipeError: the command stopped reading
                    writable = False
    except (OSError, EOFError, paramiko.SSHException):
        pass  # the connection ended, and with it the command's stdin
    finally:
        with contextlib.suppress(OSError):
            process.stdin.close()


def _feed_bytes(data: bytes, process: subprocess.Popen[bytes]) -> None:
    assert process.stdin is not None
    with contextlib.suppress(OSError):
        process.stdin.write(data)
    with contextlib.suppress(OSError):
        process.stdin.close()


def _pump(fd: int, sink: Sink, failures: list[BaseException], process: subprocess.Popen[bytes]) -> None:
    try:
        while chunk := os.read(fd, READ_BYTES):
            sink.write(chunk)
        sink.close()
    except (OSError, EOFError, paramiko.SSHException) as exc:  # the client went away, or the fleet stops
        failures.append(exc)
        _kill_group(process)


def run_command(session: Session, stdout: Sink, stderr: Sink, stdin: bytes | None = None) -> int:
    """Runs the session's command with its output going to the sinks; returns its exit status.

    ``stdin`` None: the channel's stdin is streamed to the command. Raises the first error of a sink
    (the client went away); the command's whole process group is killed in any case.
    """
    process = subprocess.Popen(
        _local_argv(session.command),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path.home() if Path.home().is_dir() else "/",
        env=_login_environment(),
        start_new_session=True,  # a process group of its own, so everything it started can be killed at once
    )
    assert process.stdout is not None and process.stderr is not None
    failures: list[BaseException] = []
    if stdin is None:
        feeder = threading.Thread(target=_feed_from_channel, args=(session.channel, process), daemon=True)
    else:
        feeder = threading.Thread(target=_feed_bytes, args=(stdin, process), daemon=True)
    pumps = [
        threading.Thread(target=_pump, args=(process.stdout.fileno(), stdout, failures, process), daemon=True),
        threading.Thread(target=_pump, args=(process.stderr.fileno(), stderr, failures, process), daemon=True),
    ]
    try:
        feeder.start()
        for pump in pumps:
            pump.start()
        for pump in pumps:
            pump.join()
        status = process.wait()
    finally:
        _kill_group(process)  # also whatever it left running in the background
        process.wait()
        process.stdout.close()
        process.stderr.close()
    if failures:
        raise failures[0]
    return status if status >= 0 else 128 - status  # killed by a signal: the shell's convention


def finish(channel: paramiko.Channel, status: int) -> None:
    """End a session the way sshd does: EOF, exit status, close."""
    channel.shutdown_write()
    channel.send_exit_status(status)
    channel.close()


# ------------------------------------------------------------------------------------- behaviours


def _honest(session: Session) -> None:
    channel = session.channel
    finish(channel, run_command(session, ChannelSink(channel), ChannelSink(channel, stderr=True)))


def _drip_feed(session: Session) -> None:
    channel = session.channel
    finish(channel, run_command(session, DripSink(channel, session.stop), ChannelSink(channel, stderr=True)))


def _flood(session: Session, *, line_bytes: int, stderr: bool) -> None:
    send = session.channel.sendall_stderr if stderr else session.channel.sendall
    for chunk in flood_chunks(session.flood_bytes, line_bytes):
        send(chunk)
    finish(session.channel, 0)


def _nul_binary(session: Session) -> None:
    channel = session.channel
    script = read_stdin(channel)  # the rewriter needs the token before the first line comes back
    token = script_token(script)
    stdout: Sink = ChannelSink(channel)
    if token is not None:
        stdout = LineSink(PoisonProbeStdout(token), stdout)
    finish(channel, run_command(session, stdout, ChannelSink(channel, stderr=True), stdin=script))


def _forge_records(session: Session) -> None:
    channel = session.channel
    script = read_stdin(channel)
    token = script_token(script)
    stdout: Sink = ChannelSink(channel)
    stderr: Sink = ChannelSink(channel, stderr=True)
    if token is not None:
        forged_out, forged_err = forged_records(token, script_probe_ids(script))
        stdout = LineSink(InjectAfterStart(token, forged_out), stdout)
        stderr = LineSink(InjectAfterStart(token, forged_err), stderr)
    finish(channel, run_command(session, stdout, stderr, stdin=script))


def _close_without_status(session: Session) -> None:
    channel = session.channel
    run_command(session, ChannelSink(channel), ChannelSink(channel, stderr=True))
    channel.close()  # no EOF, no exit status


def _truncate_mid_record(session: Session) -> None:
    """Runs the command to its end first (the cut is placed relative to the whole output), then sends
    stdout up to the middle of its middle data line and the first half of stderr, and hangs up."""
    channel = session.channel
    script = read_stdin(channel)
    stdout, stderr = CollectSink(), CollectSink()
    run_command(session, stdout, stderr, stdin=script)
    channel.sendall(bytes(stdout.data[: cut_point(bytes(stdout.data), script_token(script))]))
    channel.sendall_stderr(bytes(stderr.data[: len(stderr.data) // 2]))
    channel.close()  # no EOF, no exit status
    session.transport.close()


def _echo_script(session: Session) -> None:
    channel = session.channel
    while chunk := channel.recv(READ_BYTES):
        channel.sendall(chunk)
    finish(channel, 0)


def _nothing_more(session: Session) -> None:
    """rekey_stall and drop_during_exec acted when the exec was accepted (see ``server``)."""


AFTER_EXEC: dict[Behaviour, Callable[[Session], None]] = {
    Behaviour.HONEST: _honest,
    Behaviour.DRIP_FEED: _drip_feed,
    Behaviour.FLOOD_STDOUT_LONG: lambda session: _flood(session, line_bytes=LONG_LINE_BYTES, stderr=False),
    Behaviour.FLOOD_STDOUT_SHORT: lambda session: _flood(session, line_bytes=SHORT_LINE_BYTES, stderr=False),
    Behaviour.FLOOD_STDERR_SHORT: lambda session: _flood(session, line_bytes=SHORT_LINE_BYTES, stderr=True),
    Behaviour.NUL_BINARY: _nul_binary,
    Behaviour.CLOSE_WITHOUT_STATUS: _close_without_status,
    Behaviour.TRUNCATE_MID_RECORD: _truncate_mid_record,
    Behaviour.REKEY_STALL: _nothing_more,
    Behaviour.ECHO_SCRIPT: _echo_script,
    Behaviour.FORGE_RECORDS: _forge_records,
    Behaviour.DROP_DURING_EXEC: _nothing_more,
}
