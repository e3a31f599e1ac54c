"""Round trips, host keys, unreachable hosts, kill -9 and Ctrl-C, against the real lab."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from auditor.store.db import open_store
from tests.integration.conftest import lab_inventory, run_cli

pytestmark = pytest.mark.lab


def _auth_log(lab, name: str) -> str:  # type: ignore[no-untyped-def]
    host = next(h for h in lab.hosts if h.name == name)
    path = Path(host.rootdir) / "var/log/auth.log"
    return path.read_text(errors="replace") if path.exists() else ""


def _sessions(lab, name: str) -> int:  # type: ignore[no-untyped-def]
    """Exec requests as the target's own sshd logged them (LogLevel VERBOSE)."""
    return _auth_log(lab, name).count("Starting session: command")


def _wait_for_log(lab, name: str, count: int, timeout: float = 10) -> int:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = _sessions(lab, name)
        if seen >= count:
            return seen
        time.sleep(0.2)
    return _sessions(lab, name)


def _bulk_checks(root: Path, count: int) -> list[str]:
    ids = []
    for number in range(count):
        check_id = f"org_bulk_{number:03d}"
        ids.append(check_id)
        (root / "linux").mkdir(parents=True, exist_ok=True)
        (root / "linux" / f"{check_id}.yml").write_text(
            f"""id: {check_id}
title: {{vi: "Kiểm tra {number}", en: "Check {number}"}}
severity: low
probe: {{command: "echo {number}; id -u"}}
expect: {{contains: ["{number}", "0"]}}
rationale: {{vi: "Lý do", en: "Why"}}
remediation: {{vi: "Cách sửa", en: "How"}}
""",
            encoding="utf-8",
        )
    return ids


def test_exec_requests_do_not_grow_with_checks(lab, audit, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    content = workdir / "bulk"
    ids = _bulk_checks(content, 50)
    db = workdir / "rounds.db"
    counts = {}
    for size in (5, 50):
        before = _sessions(lab, "labh1")
        selection = [arg for check_id in ids[:size] for arg in ("--check", check_id)]
        call = audit("--host", "labh1", "--content-dir", str(content), *selection, db=db)
        assert call.returncode == 0, call.stdout + call.stderr
        store = open_store(f"sqlite:///{db}")
        run_id = store.list_runs(1)[0].id
        [host] = store.list_run_hosts(run_id)
        assert len(store.list_findings(run_id, status="pass")) == size
        server_side = _wait_for_log(lab, "labh1", before + 1) - before
        counts[size] = (host.exec_requests, server_side)
    assert counts[5] == counts[50] == (1, 1), counts


def _known_hosts_with_wrong_key(source: Path, target: Path, spec: str) -> None:
    wrong = paramiko.Ed25519Key.generate() if hasattr(paramiko.Ed25519Key, "generate") else None
    if wrong is None:
        key_path = target.with_suffix(".key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key_path)], check=True)
        public = key_path.with_suffix(".key.pub").read_text().split()[:2]
    else:
        public = [wrong.get_name(), wrong.get_base64()]
    lines = [line for line in source.read_text().splitlines() if not line.startswith(spec + " ")]
    lines.append(f"{spec} {public[0]} {public[1]}")
    target.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("case", ["host_key_changed", "host_key_unknown"])
def test_bad_host_key_is_an_error_and_nothing_is_sent(lab, enrolled, workdir: Path, case: str) -> None:  # type: ignore[no-untyped-def]
    inventory, good_known_hosts = enrolled
    known_hosts = workdir / f"known_hosts_{case}"
    if case == "host_key_changed":
        hardened = next(host for host in lab.hosts if host.name == "labh1")
        spec = hardened.address if hardened.port == 22 else f"[{hardened.address}]:{hardened.port}"
        _known_hosts_with_wrong_key(good_known_hosts, known_hosts, spec)
    else:
        known_hosts.write_text("")
    logins_before = _auth_log(lab, "labh1").count("Accepted publickey")
    db = workdir / f"{case}.db"
    call = run_cli(
        "audit",
        "--inventory",
        str(inventory),
        "--known-hosts",
        str(known_hosts),
        "--db",
        f"sqlite:///{db}",
        "--host",
        "labh1",
        "--only",
        "ssh",
    )
    assert call.returncode == 2, call.stdout + call.stderr
    store = open_store(f"sqlite:///{db}")
    run_id = store.list_runs(1)[0].id
    [host] = store.list_run_hosts(run_id)
    assert (host.status, host.error_reason) == ("error", case)
    statuses = {f.status for f in store.list_findings(run_id)}
    assert statuses <= {"error", "not_applicable", "manual"} and "error" in statuses
    time.sleep(1.0)  # give rsyslog time to write anything that would have happened
    assert _auth_log(lab, "labh1").count("Accepted publickey") == logins_before
    assert store.list_runs(1)[0].status == "completed_with_errors"  # the run ended; a target did not


def test_unreachable_host_does_not_stop_the_others(lab, enrolled, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    _, known_hosts = enrolled
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: connection refused, on loopback only
    ghost = {
        "name": "ghost",
        "address": "127.0.0.1",
        "port": port,
        "user": "auditor",
        "key_file": str(lab.key_file),
        "sudo": True,
    }
    inventory = lab_inventory(lab, workdir / "with_ghost.yml", extra_hosts=[ghost])
    db = workdir / "ghost.db"
    call = run_cli(
        "audit",
        "--inventory",
        str(inventory),
        "--known-hosts",
        str(known_hosts),
        "--db",
        f"sqlite:///{db}",
        "--only",
        "ssh",
    )
    assert call.returncode == 2, call.stdout + call.stderr
    store = open_store(f"sqlite:///{db}")
    hosts = {h.host_name: h for h in store.list_run_hosts(store.list_runs(1)[0].id) if h.kind == "host"}
    assert hosts["ghost"].status == "error" and hosts["ghost"].error_reason == "unreachable"
    assert all(hosts[name].status == "ok" for name in ("labh1", "labh2", "labh3"))


class BlackHole:
    """A loopback TCP server that accepts and never says a word: an SSH host that hangs."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.clients: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.clients.append(client)

    def close(self) -> None:
        self.server.close()
        for client in self.clients:
            client.close()


@pytest.fixture
def hanging_run(
    lab, enrolled, workdir: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[subprocess.Popen, Path]]:  # type: ignore[no-untyped-def]
    _, known_hosts = enrolled
    hole = BlackHole()
    hang = {
        "name": "zz-hangs",
        "address": "127.0.0.1",
        "port": hole.port,
        "user": "auditor",
        "key_file": str(lab.key_file),
        "sudo": True,
    }
    inventory = lab_inventory(lab, workdir / f"hang_{request.node.name}.yml", extra_hosts=[hang])
    db = workdir / f"hang_{request.node.name}.db"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "auditor",
            "audit",
            "--inventory",
            str(inventory),
            "--known-hosts",
            str(known_hosts),
            "--db",
            f"sqlite:///{db}",
            "--concurrency",
            "1",
            "--connect-timeout",
            "120",
            "--deadline",
            "300",
            "--only",
            "ssh",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, db
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        hole.close()


def _wait_for_hosts(db: Path, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
                    query = "select count(*) from run_hosts where kind = 'host'"
                    if connection.execute(query).fetchone()[0] >= count:
                        return
            except sqlite3.Error:
                pass
        time.sleep(0.2)
    raise AssertionError(f"{count} hosts were not stored within {timeout} s")


def test_kill_9_mid_run_keeps_finished_hosts(hanging_run) -> None:  # type: ignore[no-untyped-def]
    process, db = hanging_run
    _wait_for_hosts(db, 3)  # labh1..3 done; the run now hangs on the silent host
    time.sleep(0.5)
    assert process.poll() is None
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    store = open_store(f"sqlite:///{db}")
    run = store.list_runs(1)[0]
    assert run.status == "running"  # never finished: the record says so instead of lying
    hosts = {h.host_name: h for h in store.list_run_hosts(run.id) if h.kind == "host"}
    assert set(hosts) == {"labh1", "labh2", "labh3"}
    assert len(store.list_findings(run.id, host_name="labh2", status="fail")) > 0
    row = store.list_findings(run.id, host_name="labh2", check_id="sshd_permit_root_login_disabled")[0]
    assert store.verify_evidence(store.get_evidence(row.id).id)


def test_ctrl_c_marks_run_interrupted_and_keeps_finished_hosts(hanging_run) -> None:  # type: ignore[no-untyped-def]
    process, db = hanging_run
    _wait_for_hosts(db, 3)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    store = open_store(f"sqlite:///{db}")
    run = store.list_runs(1)[0]
    assert run.status == "interrupted"
    hosts = {h.host_name: h for h in store.list_run_hosts(run.id) if h.kind == "host"}
    assert all(hosts[name].status == "ok" for name in ("labh1", "labh2", "labh3"))
    assert hosts["zz-hangs"].error_reason == "interrupted"
