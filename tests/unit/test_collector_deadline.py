"""Every host ends by its deadline, with the reason that says what happened, against a paramiko server
on loopback that misbehaves at each step: the banner, the exec request, the stream, the connection."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from auditor.collectors.ssh.collector import SshCollector
from auditor.collectors.ssh.transport import LocalTransport, Transport, Watchdog, _exec_error
from auditor.errors import CollectorError, ConnectError
from auditor.evaluation.findings import HostStatus
from auditor.evaluation.observations import HostObservations, ProbeRequest
from auditor.inventory import Agency, Host
from auditor.service.hosts import audit_host
from auditor.service.plan import HostPlan
from auditor.vocabulary import LocalizedText
from tests.localnet import wait_for

GRACE_S = 5.0  # what a host may take beyond its deadline, at most
REQUESTS = [ProbeRequest(probe_id="a", command="echo a")]


class Mode(StrEnum):
    SILENT_EXEC = "silent_exec"  # never answers the exec request
    REFUSE_EXEC = "refuse_exec"  # answers the exec request with a failure
    DROP_AFTER_EXEC = "drop_after_exec"  # accepts the exec, then the TCP connection ends
    TRICKLE = "trickle"  # accepts the exec, then one byte of noise every 100 ms, forever
    HANG_AFTER_BANNER = "hang_after_banner"  # a banner, then nothing (no SSH at all)
    DRIP_BANNER = "drip_banner"  # one byte every 100 ms, never a newline: paramiko's timeouts never fire


def _private_key(path: Path) -> paramiko.PKey:
    data = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    path.write_bytes(data)
    path.chmod(0o600)
    return paramiko.PKey.from_path(path)


class _Interface(paramiko.ServerInterface):
    def __init__(self, server: Misbehaving, conn: socket.socket) -> None:
        self.server = server
        self.conn = conn

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL if key == self.server.client_key else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        mode = self.server.mode
        if mode is Mode.SILENT_EXEC:
            self.server.stop.wait()  # holds paramiko's thread: the reply never goes out
            return False
        if mode is Mode.DROP_AFTER_EXEC:
            threading.Timer(0.2, self._drop).start()
        if mode is Mode.TRICKLE:
            threading.Thread(target=self._trickle, args=(channel,), daemon=True).start()
        return mode is not Mode.REFUSE_EXEC

    def _drop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.shutdown(socket.SHUT_RDWR)

    def _trickle(self, channel: paramiko.Channel) -> None:
        while not self.server.stop.wait(0.1) and not channel.closed:
            try:
                channel.sendall(b"x")
            except (OSError, EOFError, paramiko.SSHException):
                return


class Misbehaving:
    """A loopback SSH server with one misbehaviour; the client key is the only one allowed in."""

    def __init__(self, workdir: Path, mode: Mode) -> None:
        self.mode = mode
        self.stop = threading.Event()
        self.host_key = paramiko.Ed25519Key.from_private_key_file(str(self._key(workdir / "host")))
        self.client_key_file = workdir / "client"
        self.client_key = _private_key(self.client_key_file)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.known_hosts = workdir / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} ssh-ed25519 {self.host_key.get_base64()}\n")
        threading.Thread(target=self._serve, daemon=True).start()

    @staticmethod
    def _key(path: Path) -> Path:
        _private_key(path)
        return path

    def host(self) -> Host:
        return Host(name="target", address="127.0.0.1", port=self.port, user="auditor", key_file=self.client_key_file)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        try:
            if self.mode is Mode.HANG_AFTER_BANNER:
                conn.sendall(b"SSH-2.0-OpenSSH_9.6 hangs\r\n")
                self.stop.wait()
            elif self.mode is Mode.DRIP_BANNER:
                while not self.stop.wait(0.1):
                    conn.sendall(b"x")
            else:
                transport = paramiko.Transport(conn)
                transport.add_server_key(self.host_key)
                transport.start_server(server=_Interface(self, conn))
                channels = []  # held: a channel paramiko collects is closed
                while transport.is_active() and not self.stop.is_set():
                    channels.append(transport.accept(0.2))
                transport.close()
        except (OSError, EOFError, paramiko.SSHException):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def misbehaving(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Misbehaving]:
    server = Misbehaving(tmp_path, request.param)
    yield server
    server.close()


def _client_threads() -> list[threading.Thread]:
    """Client-side paramiko transports and watchdog timers still alive."""
    return [
        thread
        for thread in threading.enumerate()
        if (isinstance(thread, paramiko.Transport) and not thread.server_mode) or thread.name == "ssh-watchdog"
    ]


def _collect(server: Misbehaving, *, deadline_s: float, connect_timeout_s: float = 10) -> tuple[CollectorError, float]:
    collector = SshCollector(server.known_hosts, connect_timeout_s=connect_timeout_s, deadline_s=deadline_s)
    began = time.monotonic()
    with pytest.raises(CollectorError) as caught:
        collector.collect(server.host(), REQUESTS)
    elapsed = time.monotonic() - began
    wait_for(lambda: not _client_threads(), 3, "the client's threads to end")
    return caught.value, elapsed


@pytest.mark.parametrize("misbehaving", [Mode.SILENT_EXEC, Mode.TRICKLE], indirect=True)
def test_an_exec_that_never_ends_is_cut_at_the_deadline(misbehaving: Misbehaving) -> None:
    error, elapsed = _collect(misbehaving, deadline_s=2)
    assert error.reason == "deadline_exceeded", error
    assert "deadline of 2 s" in str(error)
    assert 1.5 <= elapsed < 2 + GRACE_S


@pytest.mark.parametrize("misbehaving", [Mode.REFUSE_EXEC], indirect=True)
def test_a_refused_exec_request_is_exec_refused(misbehaving: Misbehaving) -> None:
    error, elapsed = _collect(misbehaving, deadline_s=20)
    assert error.reason == "exec_refused", error
    assert elapsed < 5


@pytest.mark.parametrize("misbehaving", [Mode.DROP_AFTER_EXEC], indirect=True)
def test_a_connection_dropped_during_the_exec_is_connection_lost(misbehaving: Misbehaving) -> None:
    error, elapsed = _collect(misbehaving, deadline_s=20)
    assert error.reason == "connection_lost", error
    assert elapsed < 5


@pytest.mark.parametrize("misbehaving", [Mode.HANG_AFTER_BANNER, Mode.DRIP_BANNER], indirect=True)
def test_a_handshake_that_never_ends_is_a_timeout_at_the_connect_timeout(misbehaving: Misbehaving) -> None:
    error, elapsed = _collect(misbehaving, deadline_s=60, connect_timeout_s=1.5)
    assert isinstance(error, ConnectError) and error.reason == "timeout", error
    assert elapsed < 1.5 + GRACE_S


@pytest.mark.parametrize("misbehaving", [Mode.DRIP_BANNER], indirect=True)
def test_the_handshake_never_gets_more_than_the_deadline(misbehaving: Misbehaving) -> None:
    error, elapsed = _collect(misbehaving, deadline_s=1.5, connect_timeout_s=30)
    assert error.reason == "timeout", error
    assert elapsed < 1.5 + GRACE_S


@pytest.mark.parametrize("misbehaving", [Mode.SILENT_EXEC], indirect=True)
def test_a_prepared_connection_counts_its_deadline_from_connecting(misbehaving: Misbehaving) -> None:
    collector = SshCollector(misbehaving.known_hosts, connect_timeout_s=5, deadline_s=3)
    began = time.monotonic()
    collector.prepare([misbehaving.host()])
    time.sleep(1.5)  # the caller loads content meanwhile
    with pytest.raises(CollectorError) as caught:
        collector.collect(misbehaving.host(), REQUESTS)
    assert caught.value.reason == "deadline_exceeded"
    assert time.monotonic() - began < 3 + GRACE_S
    collector.close()


def test_a_connection_that_took_the_whole_deadline_runs_nothing() -> None:
    transport = LocalTransport()

    def slow(_host: Host, _known_hosts: Path, _timeout: float) -> Transport:
        time.sleep(1.2)
        return transport

    collector = SshCollector(Path("/nonexistent/known_hosts"), deadline_s=1.5, transport_factory=slow)
    with pytest.raises(CollectorError) as caught:
        collector.collect(Host(name="h", address="127.0.0.1", use_agent=True), REQUESTS)
    assert caught.value.reason == "deadline_exceeded" and transport.exec_requests == 0


def test_the_watchdog_fires_once_and_not_after_being_disarmed() -> None:
    cuts: list[str] = []
    dog = Watchdog(lambda: cuts.append("cut"))
    dog.arm(0.05)
    dog.disarm()
    time.sleep(0.2)
    assert cuts == [] and not dog.fired
    dog.arm(10)
    dog.arm(0.05)  # re-armed: only the new moment counts
    wait_for(lambda: dog.fired, 2, "the watchdog")
    time.sleep(0.1)
    assert cuts == ["cut"]


class _Failing:
    def __init__(self, fault: Exception) -> None:
        self.fault = fault

    def collect(self, host: Host, requests: Sequence[ProbeRequest]) -> HostObservations:
        raise self.fault


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (EOFError(), "connection_lost"),
        (ConnectionResetError(104, "reset"), "connection_lost"),
        (TimeoutError(), "timeout"),
        (socket.gaierror(-2, "Name or service not known"), "connection_lost"),
    ],
)
def test_network_faults_that_escape_a_collector_are_not_internal_errors(fault: Exception, reason: str) -> None:
    agency = Agency(id="bst", name=LocalizedText(vi="Báo", en="Paper"))
    plan = HostPlan(
        agency=agency, host=Host(name="web1", address="10.0.0.2", use_agent=True), inputs={}, to_probe=(), decided=()
    )
    result = audit_host(plan, _Failing(fault))
    assert (result.status, result.error_reason) == (HostStatus.error, reason)


class _DeadConnection:
    def __init__(self, active: bool) -> None:
        self.active = active

    def is_active(self) -> bool:
        return self.active


@pytest.mark.parametrize(
    ("exc", "active", "cut", "reason"),
    [
        (paramiko.SSHException("Channel closed."), True, False, "exec_refused"),
        (paramiko.ChannelException(1, "administratively prohibited"), True, False, "exec_refused"),
        (EOFError(), False, False, "connection_lost"),
        (ConnectionResetError(104, "reset"), True, False, "connection_lost"),
        (paramiko.SSHException("Channel closed."), False, False, "connection_lost"),
        (paramiko.AuthenticationException("Authentication failed."), False, True, "deadline_exceeded"),
        (EOFError(), False, True, "deadline_exceeded"),
    ],
)
def test_what_a_failed_exec_request_means(exc: Exception, active: bool, cut: bool, reason: str) -> None:
    dog = Watchdog(lambda: None)
    if cut:
        dog.arm(0)
        wait_for(lambda: dog.fired, 2, "the watchdog")
    error = _exec_error(exc, _DeadConnection(active), dog, 20)  # type: ignore[arg-type]
    assert error.reason == reason
