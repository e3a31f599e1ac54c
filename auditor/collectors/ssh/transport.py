"""The seam between the collector and the wire: run one command, feed it stdin, hand both streams on as
they arrive, and end by the deadline whatever the other side does."""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Protocol

import paramiko

from auditor.errors import CollectorError
from auditor.foreign import foreign, theirs
from auditor.textsafe import inert_text

DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024  # bytes, stdout + stderr together, per exec request
_READ_CHUNK = 64 * 1024
_POLL_S = 0.05
_SESSION_OPEN_MAX_S = 30.0
_SETTLE_S = 0.5  # how long a closed channel waits for its connection's fate to show
_TEXT_MAX = 200  # characters of remote text (an exception's message) kept in an error


@dataclass(frozen=True)
class ExecResult:
    """A whole execution, buffered: for callers that want both streams at once (benchmarks, tests)."""

    exit_status: int | None  # None when the remote side never reported one (e.g. cut at the byte cap)
    stdout: bytes
    stderr: bytes
    truncated: bool = False  # the byte cap was reached; reading stopped and the channel was closed


@dataclass(frozen=True)
class RunEnd:
    """How a streamed execution ended (the output itself went to the sink)."""

    exit_status: int | None  # None: no exit status came back
    stopped: bool = False  # the sink was saturated: reading stopped and the command was abandoned
    connection_lost: bool = False  # the connection itself ended before the command reported its end


class OutputSink(Protocol):
    """Where a transport hands the command's output, chunk by chunk, in arrival order per stream."""

    def feed_stdout(self, chunk: bytes) -> None: ...

    def feed_stderr(self, chunk: bytes) -> None: ...

    @property
    def saturated(self) -> bool: ...  # True: read no more


class Transport(Protocol):
    """One connection to one target. Every call to ``run`` is one exec request."""

    exec_requests: int

    def run(self, command: str, stdin: bytes, sink: OutputSink, timeout_s: float) -> RunEnd: ...

    def close(self) -> None: ...


class BufferSink:
    """Keeps both streams whole, up to ``max_output`` bytes together."""

    def __init__(self, max_output: int = DEFAULT_MAX_OUTPUT) -> None:
        self.max_output = max_output
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.received = 0

    def feed_stdout(self, chunk: bytes) -> None:
        self._keep(self.stdout, chunk)

    def feed_stderr(self, chunk: bytes) -> None:
        self._keep(self.stderr, chunk)

    def _keep(self, stream: bytearray, chunk: bytes) -> None:
        room = max(0, self.max_output - len(self.stdout) - len(self.stderr))
        stream += chunk[:room]
        self.received += len(chunk)

    @property
    def saturated(self) -> bool:
        return self.received > self.max_output

    def result(self, end: RunEnd) -> ExecResult:
        truncated = self.saturated
        status = None if truncated else end.exit_status
        return ExecResult(exit_status=status, stdout=bytes(self.stdout), stderr=bytes(self.stderr), truncated=truncated)


def clip(text: str, limit: int = _TEXT_MAX) -> str:
    """One line of remote text, safe to print: control characters escaped, length capped."""
    escaped = inert_text(text).replace("\n", "\\n").replace("\t", "\\t")  # the shared escaping, on one line
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def deadline_error(timeout_s: float) -> CollectorError:
    return CollectorError(foreign("ssh_deadline", seconds=f"{timeout_s:.1f}"), reason="deadline_exceeded")


class Watchdog:
    """Runs ``cut`` once, ``seconds`` after ``arm`` unless disarmed first; ``fired`` tells afterwards.

    Cutting a connection's socket is what makes every wait on it end: paramiko's own thread sees the
    end of the stream, closes the channels and wakes whoever waits on them (handshake, authentication,
    channel open, exec request, re-key), each of which then raises or returns.
    """

    def __init__(self, cut: Callable[[], None]) -> None:
        self._cut = cut
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._fired = threading.Event()

    @property
    def fired(self) -> bool:
        return self._fired.is_set()

    def arm(self, seconds: float) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            timer = threading.Timer(max(0.0, seconds), self._fire)
            timer.daemon = True
            timer.name = "ssh-watchdog"
            self._timer = timer
            timer.start()

    def disarm(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _fire(self) -> None:
        with self._lock:
            if self._timer is None or threading.current_thread() is not self._timer:
                return  # disarmed or re-armed meanwhile
            self._timer = None
            self._fired.set()
        self._cut()


def cut_socket(sock: socket.socket) -> None:
    """End both directions of a connection without closing its descriptor under another thread's feet."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


# ---------------------------------------------------------------------------------------------- local


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
        sink = BufferSink(self.max_output)
        return sink.result(self.run(command, stdin, sink, timeout_s))

    def run(self, command: str, stdin: bytes, sink: OutputSink, timeout_s: float) -> RunEnd:
        argv = [self.shell if word == "sh" else word for word in shlex.split(command)]
        deadline = time.monotonic() + timeout_s
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
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None  # noqa: S101
        writer = threading.Thread(target=_write_all, args=(proc.stdin, stdin), daemon=True)
        writer.start()
        try:
            stopped = _read_pipes(proc.stdout, proc.stderr, sink, deadline, timeout_s)
            if stopped:
                _kill_group(proc)
                return RunEnd(exit_status=None, stopped=True)
            try:
                status = proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise deadline_error(timeout_s) from None
            return RunEnd(exit_status=status if status >= 0 else None)
        finally:
            _kill_group(proc)
            proc.wait()
            writer.join(1.0)
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                with contextlib.suppress(OSError):
                    pipe.close()

    def close(self) -> None:
        return None


def _write_all(pipe: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(OSError):  # the command stopped reading (or was killed): nothing more to say
        pipe.write(data)
    with contextlib.suppress(OSError):
        pipe.close()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _read_pipes(stdout: IO[bytes], stderr: IO[bytes], sink: OutputSink, deadline: float, timeout_s: float) -> bool:
    """Hand both pipes to the sink until both are closed; True when the sink was saturated first."""
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ, sink.feed_stdout)
        selector.register(stderr, selectors.EVENT_READ, sink.feed_stderr)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise deadline_error(timeout_s)
            for key, _ in selector.select(min(remaining, 0.5)):
                data = os.read(key.fd, _READ_CHUNK)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                key.data(data)
                if sink.saturated:
                    return True
    return False


# ---------------------------------------------------------------------------------------------- paramiko


class ParamikoTransport:
    """One authenticated ``paramiko.SSHClient``; each ``run`` is one session channel with one exec request.

    A watchdog cuts the connection when ``timeout_s`` has passed, wherever the exchange is blocked: the
    session open, the exec request (a server that never answers it), a re-key that never ends, a
    stream that trickles; the result is then ``deadline_exceeded``, whatever paramiko raised.
    """

    def __init__(self, client: paramiko.SSHClient, max_output: int = DEFAULT_MAX_OUTPUT) -> None:
        self.client = client
        self.max_output = max_output
        self.exec_requests = 0

    def exec(self, command: str, stdin: bytes, timeout_s: float) -> ExecResult:
        sink = BufferSink(self.max_output)
        return sink.result(self.run(command, stdin, sink, timeout_s))

    def run(self, command: str, stdin: bytes, sink: OutputSink, timeout_s: float) -> RunEnd:
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise CollectorError(foreign("ssh_not_open"), reason="connection_lost")
        sock = transport.sock
        watchdog = Watchdog(lambda: cut_socket(sock) if isinstance(sock, socket.socket) else transport.close())
        watchdog.arm(timeout_s)
        channel: paramiko.Channel | None = None
        try:
            try:
                channel = transport.open_session(timeout=max(1.0, min(timeout_s, _SESSION_OPEN_MAX_S)))
                self.exec_requests += 1
                channel.exec_command(command)
            except Exception as exc:
                raise _exec_error(exc, transport, watchdog, timeout_s) from None
            try:
                end = _pump(channel, transport, stdin, sink, watchdog)
            except Exception as exc:
                raise _stream_error(exc, transport, watchdog, timeout_s) from None
            if watchdog.fired:
                raise deadline_error(timeout_s)
            return end
        finally:
            if channel is not None:
                with contextlib.suppress(Exception):  # the connection may be gone already
                    channel.close()
            watchdog.disarm()

    def close(self) -> None:
        self.client.close()


def _exec_error(exc: Exception, transport: paramiko.Transport, watchdog: Watchdog, timeout_s: float) -> CollectorError:
    """What a failure to open the session or to get the exec request answered means."""
    if watchdog.fired:
        return deadline_error(timeout_s)
    what = theirs("ssh", clip(f"{type(exc).__name__}: {exc}".rstrip(": ")))
    if isinstance(exc, EOFError | OSError) or not transport.is_active():
        return CollectorError(foreign("ssh_exec_dropped", what=what), "connection_lost")
    if isinstance(exc, paramiko.ChannelException):
        return CollectorError(foreign("ssh_session_refused", what=what), reason="exec_refused")
    if isinstance(exc, paramiko.SSHException):
        return CollectorError(foreign("ssh_exec_refused", what=what), reason="exec_refused")
    return CollectorError(foreign("ssh_exec_failed", what=what), reason="exec_failed")


def _stream_error(
    exc: Exception, transport: paramiko.Transport, watchdog: Watchdog, timeout_s: float
) -> CollectorError:
    if watchdog.fired:
        return deadline_error(timeout_s)
    what = theirs("ssh", clip(f"{type(exc).__name__}: {exc}".rstrip(": ")))
    if isinstance(exc, EOFError | OSError | paramiko.SSHException) or not transport.is_active():
        return CollectorError(foreign("ssh_stream_dropped", what=what), reason="connection_lost")
    return CollectorError(foreign("ssh_read_failed", what=what), reason="exec_failed")


def _pump(
    channel: paramiko.Channel, transport: paramiko.Transport, stdin: bytes, sink: OutputSink, watchdog: Watchdog
) -> RunEnd:
    """Write stdin and hand both streams to the sink in one loop, so neither side can block the other."""
    channel.settimeout(0.0)
    view = memoryview(stdin)
    sent = 0
    if not stdin:
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):  # judged by what the stream shows
            channel.shutdown_write()
    wakeup = channel.fileno()  # becomes readable when stdout or stderr data arrive
    while not watchdog.fired:
        progressed = False
        if sent < len(view) and channel.send_ready():
            try:
                sent += channel.send(bytes(view[sent : sent + _READ_CHUNK]))
                progressed = True
            except TimeoutError:
                pass
            except (OSError, EOFError, paramiko.SSHException):
                sent = len(view)  # the remote side stopped reading (sudo refused, or it is gone): keep reading
            if sent >= len(view):
                with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                    channel.shutdown_write()
        while channel.recv_ready() and not sink.saturated:
            sink.feed_stdout(channel.recv(_READ_CHUNK))
            progressed = True
        while channel.recv_stderr_ready() and not sink.saturated:
            sink.feed_stderr(channel.recv_stderr(_READ_CHUNK))
            progressed = True
        if sink.saturated:
            return RunEnd(exit_status=None, stopped=True)
        finished = channel.closed or (channel.eof_received and channel.exit_status_ready())
        if finished and not channel.recv_ready() and not channel.recv_stderr_ready():
            status = channel.recv_exit_status() if channel.exit_status_ready() else -1  # -1: none came
            if status >= 0:
                return RunEnd(exit_status=status)
            return RunEnd(exit_status=None, connection_lost=_connection_lost(transport))
        if not progressed:
            with contextlib.suppress(OSError, ValueError):
                select.select([wakeup], [], [], _POLL_S)  # woken by stdout or stderr data
    return RunEnd(exit_status=None)


def _connection_lost(transport: paramiko.Transport) -> bool:
    """Whether the connection ended (rather than the server closing only the channel).

    paramiko closes the channels of a dead connection a moment before it marks the connection
    inactive, so give it that moment.
    """
    settle = time.monotonic() + _SETTLE_S
    while True:
        if not transport.is_active() or transport.saved_exception is not None:
            return True
        if time.monotonic() >= settle:
            return False
        time.sleep(_POLL_S)
