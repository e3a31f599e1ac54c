"""The hostile SSH fleet itself: each behaviour does what it claims, seen from a plain paramiko client.

One fleet with every behaviour (and a 1 MiB flood) serves the whole module; no audit runs here.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import paramiko
import pytest

from auditor.collectors.ssh.script import build_script, new_token, parse_stream, summarize_stream
from auditor.evaluation.observations import ProbeOutcome, ProbeRequest
from auditor.inventory import load_inventory
from tests.hostile_ssh import (
    DRIP_INTERVAL_S,
    FORGED_OUTPUT,
    FORGED_UNKNOWN_ID,
    POISON,
    Behaviour,
    Fleet,
    hostile_fleet,
)
from tests.hostile_ssh.streams import cut_point, flood_chunks
from tests.localnet import wait_for

FLOOD_BYTES = 1024 * 1024


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with hostile_fleet(tmp_path_factory.mktemp("fleet"), flood_bytes=FLOOD_BYTES) as running:
        yield running


@dataclass(frozen=True)
class Result:
    status: int  # -1: the channel closed without an exit status
    stdout: bytes
    stderr: bytes


def connect(fleet: Fleet, behaviour: Behaviour, pkey: paramiko.PKey | None = None) -> paramiko.SSHClient:
    """A client that trusts only the fleet's known_hosts, as the auditor does."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(fleet.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        fleet.address,
        port=fleet.ports[behaviour],
        username=fleet.user,
        pkey=pkey or paramiko.PKey.from_path(fleet.client_key_file),
        allow_agent=False,
        look_for_keys=False,
        timeout=5,
        banner_timeout=5,
        auth_timeout=5,
    )
    return client


def run(client: paramiko.SSHClient, command: str, stdin: bytes, timeout_s: float = 20) -> Result:
    """One exec request: stdin written then closed, both streams read at once until the channel ends."""
    transport = client.get_transport()
    assert transport is not None
    channel = transport.open_session(timeout=5)
    channel.exec_command(command)
    try:
        channel.sendall(stdin)
        channel.shutdown_write()
    except OSError:
        pass  # a server that never reads its stdin (the floods) may have closed the channel already: read on
    out, err = bytearray(), bytearray()
    deadline = time.monotonic() + timeout_s
    while True:
        assert time.monotonic() < deadline, "the channel did not end in time"
        while channel.recv_ready():
            out += channel.recv(65536)
        while channel.recv_stderr_ready():
            err += channel.recv_stderr(65536)
        ended = channel.closed or (channel.eof_received and channel.exit_status_ready())
        if ended and not channel.recv_ready() and not channel.recv_stderr_ready():
            return Result(channel.recv_exit_status(), bytes(out), bytes(err))
        select.select([channel], [], [], 0.05)


def run_on(fleet: Fleet, behaviour: Behaviour, command: str, stdin: bytes, timeout_s: float = 20) -> Result:
    client = connect(fleet, behaviour)
    try:
        return run(client, command, stdin, timeout_s)
    finally:
        client.close()


def probe(probe_id: str, command: str) -> ProbeRequest:
    return ProbeRequest(probe_id=probe_id, command=command, timeout_s=10)


def lines_of(stream: bytes, token: str, kind: str, probe_id: str) -> list[bytes]:
    return [line for line in stream.split(b"\n") if line.startswith(f"{token} {kind} {probe_id} ".encode())]


def keep_one_record(stream: bytes, token: str, probe_id: str, keep: int) -> bytes:
    """``stream`` with only the ``keep``-th record of ``probe_id``: of its ``d``, ``n`` and ``end`` lines,
    only the ``keep``-th of each kind stays (every record part here holds at most one data line)."""
    seen: dict[str, int] = {}
    kept = []
    for line in stream.split(b"\n"):
        kind = next((k for k in ("d", "n", "end") if line.startswith(f"{token} {k} {probe_id} ".encode())), None)
        if kind is not None:
            seen[kind] = seen.get(kind, -1) + 1
            if seen[kind] != keep:
                continue
        kept.append(line)
    return b"\n".join(kept)


# ------------------------------------------------------------------------------------------ honest


def test_honest_runs_the_command_with_its_stdin(fleet: Fleet) -> None:
    assert run_on(fleet, Behaviour.HONEST, "sh -s", b"echo hi\n") == Result(0, b"hi\n", b"")
    assert run_on(fleet, Behaviour.HONEST, "sudo -n sh -s", b"echo oops >&2; exit 3\n") == Result(3, b"", b"oops\n")


def test_honest_gives_a_real_audit_stream(fleet: Fleet) -> None:
    token = new_token()
    requests = [probe("hello", "echo hello"), probe("failing", "echo no >&2; exit 4")]
    result = run_on(fleet, Behaviour.HONEST, "sh -s", build_script(requests, token, jobs=2).encode())
    facts, observations = parse_stream(result.stdout, result.stderr, requests, token, datetime.now(UTC))
    assert result.status == 0
    assert summarize_stream(result.stdout, token).finished
    assert facts.hostname == socket.gethostname()
    assert observations["hello"].outcome is ProbeOutcome.completed
    assert observations["hello"].stdout == b"hello\n"
    assert (observations["failing"].exit_code, observations["failing"].stderr) == (4, b"no\n")


def test_the_encrypted_client_key_is_the_same_key_behind_the_passphrase(fleet: Fleet) -> None:
    with pytest.raises((paramiko.PasswordRequiredException, TypeError)):
        paramiko.PKey.from_path(fleet.encrypted_client_key_file)
    key = paramiko.Ed25519Key.from_private_key_file(str(fleet.encrypted_client_key_file), password=fleet.passphrase)
    assert key == paramiko.PKey.from_path(fleet.client_key_file)
    assert fleet.client_key_file.stat().st_mode & 0o777 == 0o600
    assert fleet.encrypted_client_key_file.stat().st_mode & 0o777 == 0o600
    client = connect(fleet, Behaviour.HONEST, pkey=key)
    try:
        assert run(client, "sh -s", b"echo ok\n").stdout == b"ok\n"
    finally:
        client.close()


# -------------------------------------------------------------------------- refusals before any exec


def test_auth_failure_refuses_the_fleet_key(fleet: Fleet) -> None:
    with pytest.raises(paramiko.AuthenticationException):
        connect(fleet, Behaviour.AUTH_FAILURE)


def test_changed_host_key_presents_another_key_than_known_hosts(fleet: Fleet) -> None:
    with pytest.raises(paramiko.BadHostKeyException):
        connect(fleet, Behaviour.CHANGED_HOST_KEY)


def test_known_hosts_lists_every_port_with_the_fleet_key(fleet: Fleet) -> None:
    known = paramiko.HostKeys(str(fleet.known_hosts))
    keys = set()
    for port in fleet.ports.values():
        entry = known.lookup(f"[{fleet.address}]:{port}")
        assert entry is not None
        keys.add(entry["ssh-ed25519"].get_base64())
    assert len(keys) == 1


def test_hang_after_banner_never_goes_on_with_the_key_exchange(fleet: Fleet) -> None:
    with socket.create_connection((fleet.address, fleet.ports[Behaviour.HANG_AFTER_BANNER]), timeout=5) as sock:
        banner = sock.recv(256)
        assert banner.startswith(b"SSH-2.0-") and banner.endswith(b"\r\n")
        sock.sendall(b"SSH-2.0-test\r\n" + bytes(64))
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):  # neither a KEXINIT nor a close
            sock.recv(256)


def test_endless_banner_sends_lines_but_never_an_ssh_banner(fleet: Fleet) -> None:
    received = bytearray()
    with socket.create_connection((fleet.address, fleet.ports[Behaviour.ENDLESS_BANNER]), timeout=5) as sock:
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:
            received += sock.recv(4096)
    lines = bytes(received).split(b"\r\n")
    assert len(lines) >= 5
    assert not any(line.startswith(b"SSH-") for line in lines)


# ------------------------------------------------------------------------------ stalls and drops


def test_silent_exec_never_answers_the_exec_request(fleet: Fleet) -> None:
    client = connect(fleet, Behaviour.SILENT_EXEC)
    transport = client.get_transport()
    assert transport is not None
    channel = transport.open_session(timeout=5)
    outcome: list[str] = []

    def exec_request() -> None:
        try:
            channel.exec_command("sh -s")
            outcome.append("answered")
        except paramiko.SSHException:
            outcome.append("closed")

    waiter = threading.Thread(target=exec_request, daemon=True)
    waiter.start()
    waiter.join(1.0)
    assert waiter.is_alive() and not outcome
    client.close()
    waiter.join(5)
    assert outcome == ["closed"]


def test_rekey_stall_starts_a_key_exchange_that_never_ends(fleet: Fleet) -> None:
    client = connect(fleet, Behaviour.REKEY_STALL)
    try:
        transport = client.get_transport()
        assert transport is not None
        channel = transport.open_session(timeout=5)
        channel.exec_command("sh -s")  # accepted: the server's KEXINIT follows the reply
        wait_for(lambda: transport.in_kex, 2, "the server's KEXINIT")
        time.sleep(1.0)
        assert transport.in_kex and transport.is_active()
        assert not channel.recv_ready() and not channel.exit_status_ready()
    finally:
        client.close()


def test_drop_during_exec_ends_the_connection_without_a_channel_close(fleet: Fleet) -> None:
    client = connect(fleet, Behaviour.DROP_DURING_EXEC)
    try:
        transport = client.get_transport()
        assert transport is not None
        channel = transport.open_session(timeout=5)
        channel.exec_command("sh -s")  # accepted first
        wait_for(lambda: not transport.is_active(), 5, "the dropped connection")
        assert not channel.eof_received
        assert channel.recv_exit_status() == -1
    finally:
        client.close()


def test_drip_feed_sends_stdout_one_byte_at_a_time(fleet: Fleet) -> None:
    begun = time.monotonic()
    result = run_on(fleet, Behaviour.DRIP_FEED, "sh -s", b"printf abc\n")
    assert result == Result(0, b"abc", b"")
    assert time.monotonic() - begun >= 3 * DRIP_INTERVAL_S * 0.9


def test_close_without_status_forwards_the_output_but_no_exit_status(fleet: Fleet) -> None:
    assert run_on(fleet, Behaviour.CLOSE_WITHOUT_STATUS, "sh -s", b"echo hi; exit 5\n") == Result(-1, b"hi\n", b"")


def test_truncate_mid_record_cuts_inside_a_data_line_about_halfway(fleet: Fleet) -> None:
    token = new_token()
    requests = [probe("many", "seq 1 20000")]
    script = build_script(requests, token, jobs=1).encode()
    whole = run_on(fleet, Behaviour.HONEST, "sh -s", script)
    cut = run_on(fleet, Behaviour.TRUNCATE_MID_RECORD, "sh -s", script)
    assert cut.status == -1
    summary = summarize_stream(cut.stdout, token)
    assert summary.started and not summary.finished
    last = cut.stdout.rsplit(b"\n", 1)[1]
    assert last.startswith(f"{token} d many ".encode())
    assert abs(len(cut.stdout) - len(whole.stdout) / 2) < 2048
    _, observations = parse_stream(cut.stdout, cut.stderr, requests, token, datetime.now(UTC))
    assert observations["many"].outcome is ProbeOutcome.missing


# ----------------------------------------------------------------------------------------- floods


def test_flood_stdout_short_sends_exactly_flood_bytes_of_short_lines(fleet: Fleet) -> None:
    result = run_on(fleet, Behaviour.FLOOD_STDOUT_SHORT, "sh -s", b"true\n")
    assert (result.status, len(result.stdout), result.stderr) == (0, fleet.flood_bytes, b"")
    assert set(result.stdout.split(b"\n")) == {b"x", b""}


def test_flood_stdout_long_sends_flood_bytes_without_a_newline(fleet: Fleet) -> None:
    result = run_on(fleet, Behaviour.FLOOD_STDOUT_LONG, "sh -s", b"true\n")
    assert (result.status, len(result.stdout)) == (0, fleet.flood_bytes)
    assert b"\n" not in result.stdout  # the first newline comes after 8 MiB


def test_flood_stderr_short_sends_exactly_flood_bytes_on_stderr(fleet: Fleet) -> None:
    result = run_on(fleet, Behaviour.FLOOD_STDERR_SHORT, "sh -s", b"true\n")
    assert (result.status, result.stdout, len(result.stderr)) == (0, b"", fleet.flood_bytes)
    assert result.stderr.count(b"x\n") == fleet.flood_bytes // 2


def test_flood_chunks_put_a_newline_every_line_length_across_chunks() -> None:
    stream = b"".join(flood_chunks(1000, 7, chunk_bytes=64))
    assert len(stream) == 1000
    assert [i for i, byte in enumerate(stream) if byte == ord("\n")] == list(range(6, 1000, 7))


# ------------------------------------------------------------------------------- rewritten streams


def test_nul_binary_probe_outputs_carry_hostile_bytes_in_a_well_framed_stream(fleet: Fleet) -> None:
    token = new_token()
    requests = [probe("tiny.echo", "printf hello"), probe("tiny.quiet", "true")]
    result = run_on(fleet, Behaviour.NUL_BINARY, "sh -s", build_script(requests, token, jobs=2).encode())
    facts, observations = parse_stream(result.stdout, result.stderr, requests, token, datetime.now(UTC))
    assert result.status == 0
    assert facts.hostname == socket.gethostname()  # the facts record is left alone
    assert observations["tiny.echo"].outcome is ProbeOutcome.completed
    assert observations["tiny.echo"].stdout == b"hello" + POISON
    assert b"\x00" in observations["tiny.quiet"].stdout
    assert "\u202e".encode() in observations["tiny.quiet"].stdout


def test_forge_records_sends_a_forged_complete_record_before_the_real_one(fleet: Fleet) -> None:
    token = new_token()
    requests = [probe("real.one", "echo real; exit 3"), probe("real.two", "echo two")]
    result = run_on(fleet, Behaviour.FORGE_RECORDS, "sh -s", build_script(requests, token, jobs=1).encode())
    assert result.status == 0
    ends = lines_of(result.stdout, token, "end", "real.one")
    assert len(ends) == 2
    assert ends[0].split(b" ")[3] == b"0" and ends[1].split(b" ")[3] == b"3"
    assert len(lines_of(result.stdout, token, "end", FORGED_UNKNOWN_ID)) == 1

    # Both records of real.one are complete: each parses as a whole record once the other is left out.
    for keep, expected in ((0, (0, FORGED_OUTPUT)), (1, (3, b"real\n"))):
        stdout = keep_one_record(result.stdout, token, "real.one", keep)
        stderr = keep_one_record(result.stderr, token, "real.one", keep)
        _, observations = parse_stream(stdout, stderr, requests, token, datetime.now(UTC))
        observed = observations["real.one"]
        assert observed.outcome is ProbeOutcome.completed
        assert (observed.exit_code, observed.stdout) == expected


def test_echo_script_sends_the_script_back(fleet: Fleet) -> None:
    script = build_script([probe("a", "true")], new_token()).encode()
    assert run_on(fleet, Behaviour.ECHO_SCRIPT, "sh -s", script) == Result(0, script, b"")


def test_cut_point_falls_inside_the_data_line_nearest_the_middle() -> None:
    token = "0" * 32
    stream = b"noise\n" * 50 + f"{token} d a 1 QUJD\n".encode() + b"noise\n" * 3 + f"{token} d a 2 QUJD\n".encode()
    cut = cut_point(stream, token)
    line_start = stream.index(f"{token} d a 1".encode())
    assert line_start < cut < stream.index(b"\n", line_start)
    assert cut_point(b"abcd", None) == 2


# ------------------------------------------------------------------------------- fleet and inventory


def test_the_inventory_helper_writes_an_inventory_the_auditor_loads(fleet: Fleet, tmp_path: Path) -> None:
    inventory = load_inventory(fleet.inventory(tmp_path / "inventory.yml", probe_jobs=2))
    (agency,) = inventory.agencies
    assert agency.id == "hostile"
    assert {host.name: host.port for host in agency.hosts} == {
        behaviour.value.replace("_", "-"): port for behaviour, port in fleet.ports.items()
    }
    host = agency.hosts[0]
    assert (host.address, host.user, host.key_file, host.sudo, host.probe_jobs) == (
        "127.0.0.1",
        fleet.user,
        fleet.client_key_file,
        False,
        2,
    )
    some = load_inventory(fleet.inventory(tmp_path / "some.yml", [Behaviour.HONEST, Behaviour.ECHO_SCRIPT]))
    assert [h.name for h in some.agencies[0].hosts] == ["honest", "echo-script"]


def test_a_fleet_that_cannot_start_says_why(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="flood-bytes"), hostile_fleet(tmp_path, flood_bytes=-1):
        pass


def test_a_fleet_serves_only_the_behaviours_asked_for(tmp_path: Path) -> None:
    with hostile_fleet(tmp_path, [Behaviour.AUTH_FAILURE]) as small:
        assert list(small.ports) == [Behaviour.AUTH_FAILURE]
        assert len(small.known_hosts.read_text().splitlines()) == 1
    with pytest.raises(ProcessLookupError):  # stopped and reaped
        os.kill(small.server_pid, 0)
    assert "stopped" in small.log_file.read_text()
