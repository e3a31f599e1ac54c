"""Zone workers against the lab: a Redis broker on this machine and two Celery workers, each inside the network
namespace of its zone's lab host, where it can reach that host and the broker and nothing else. An audit whose
hosts are collected by the workers gives the findings and evidence hashes of a local audit; a worker killed
mid-run costs a retry or an error with its reason, never a stuck run."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.collectors.ssh.known_hosts import host_spec
from auditor.content.loader import Content, load_content
from auditor.inventory import load_inventory
from auditor.service.audit import AuditOptions, AuditScope, AuditService
from auditor.store import Store, open_store
from auditor.store.views import EvidenceRow
from auditor.vocabulary import Only
from auditor.zones.broker import make_app
from auditor.zones.dispatch import CeleryDispatcher
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.lab

ZONES = {"north": "labh1", "south": "labh2"}  # labh3 stays local: zoned and local hosts in one run
REDIS = shutil.which("redis-server")
PASSWORD_ENV = "AUDITOR_BROKER_PASSWORD"


@dataclass
class Broker:
    port: int
    password: str
    process: subprocess.Popen[bytes]

    def url(self, address: str = "127.0.0.1") -> str:
        return f"redis://{address}:{self.port}/0"


@dataclass
class ZoneWorker:
    zone: str
    host: Any  # the lab host whose namespace it runs in
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gateway(lab_host: Any) -> str:
    """The machine's end of the host's veth: the one machine address the host's namespace can reach."""
    return lab_host.address.rsplit(".", 1)[0] + ".1"


@pytest.fixture(scope="module")
def lab_hosts(lab) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {host.name: host for host in lab.hosts}


@pytest.fixture(scope="module")
def broker(lab_hosts: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """redis-server with a password, nothing saved, listening on loopback and on the zones' veth ends only."""
    if REDIS is None:
        if os.environ.get("AUDITOR_REQUIRE_LAB"):
            pytest.fail("redis-server is missing: scripts/setup.sh --dev installs it")
        pytest.skip("redis-server is not installed")
    port, password = _free_port(), secrets.token_urlsafe(24)
    binds = ["127.0.0.1", *(_gateway(lab_hosts[name]) for name in ZONES.values())]
    workdir = tmp_path_factory.mktemp("redis")
    argv = [REDIS, "--port", str(port), "--bind", *binds, "--save", "", "--appendonly", "no", "--dir", str(workdir)]
    process = subprocess.Popen(
        [*argv, "--requirepass", password, "--protected-mode", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, password=password)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("redis-server did not start")
    yield Broker(port, password, process)
    process.kill()
    process.wait()


def _start(worker: ZoneWorker, broker: Broker) -> None:
    """The worker inside its zone's namespace, reaching the broker at the namespace's gateway."""
    env = {**os.environ, PASSWORD_ENV: broker.password}
    argv = ["ip", "netns", "exec", worker.host.netns, sys.executable, "-m", "auditor", "worker"]
    argv += ["--zone", worker.zone, "--config", str(worker.config), "--broker", broker.url(_gateway(worker.host))]
    argv += ["--concurrency", "4"]
    since = len(worker.log_text())
    log = worker.log.open("ab")
    worker.process = subprocess.Popen(argv, stdout=log, stderr=log, env=env)
    log.close()
    deadline = time.monotonic() + 60
    while "ready." not in worker.log_text()[since:]:
        if worker.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the worker of zone {worker.zone} did not start:\n{worker.log_text()[-3000:]}")
        time.sleep(0.2)


def _stop(worker: ZoneWorker) -> None:
    if worker.process is not None and worker.process.poll() is None:
        worker.process.kill()
        worker.process.wait()


@pytest.fixture(scope="module")
def workers(
    enrolled: tuple[Path, Path],
    lab,
    lab_hosts: dict[str, Any],
    broker: Broker,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, ZoneWorker]]:  # type: ignore[no-untyped-def]
    """One worker per zone; each zone file holds the lab key and only its own host's known-hosts entry."""
    _inventory, known_hosts = enrolled
    lines = known_hosts.read_text().splitlines()
    started: dict[str, ZoneWorker] = {}
    for zone, name in ZONES.items():
        folder = tmp_path_factory.mktemp(f"zone-{zone}")
        host = lab_hosts[name]
        spec = host_spec(host.address, host.port)
        own = [line for line in lines if line.split(" ", 1)[0].split(",").count(spec)]
        assert own, f"{name} is not enrolled"
        (folder / "known_hosts").write_text("\n".join(own) + "\n")
        key = folder / "id_zone"
        shutil.copyfile(lab.key_file, key)
        key.chmod(0o600)
        config = folder / "zone.yml"
        config.write_text(yaml.safe_dump({"zone": zone, "known_hosts": "known_hosts", "key_file": "id_zone"}))
        started[zone] = ZoneWorker(zone, host, config, folder / "worker.log")
    try:
        for worker in started.values():
            _start(worker, broker)
        yield started
    finally:
        for worker in started.values():
            _stop(worker)


def _reaches(netns: str, address: str, port: int) -> bool:
    code = f"import socket; socket.create_connection(({address!r}, {port}), timeout=3).close()"
    done = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", code], capture_output=True, check=False)
    return done.returncode == 0


def _zoned_inventory(enrolled: tuple[Path, Path], path: Path) -> Path:
    """The lab's inventory with labh1 and labh2 in their zones, no credential of theirs kept here."""
    data = yaml.safe_load(enrolled[0].read_text())
    zone_of = {host: zone for zone, host in ZONES.items()}
    for host in data["agencies"][0]["hosts"]:
        if host["name"] in zone_of:
            host["zone"] = zone_of[host["name"]]
            del host["key_file"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def _evidence_identity(row: EvidenceRow) -> tuple[Any, ...]:
    # byte for byte, every probe: source.sysctl_all leaves the kernel's counters out, so that an unchanged
    # host gives the same record whoever collects it (tests/unit/test_sysctl_stable.py)
    return (row.probe_id, row.sha256)


def _findings(store: Store, run_id: str) -> list[tuple[Any, ...]]:
    """Verdicts, words and evidence: what must not depend on the path that collected."""
    rows = store.list_findings(run_id)
    evidence = store.evidence([r.evidence_id for r in rows if r.evidence_id is not None])
    return sorted(
        (r.host_name, r.check_id, r.status.value, r.observed, r.expected, r.reason_vi, r.reason_en)
        + (_evidence_identity(evidence[r.evidence_id]) if r.evidence_id is not None else ())
        for r in rows
    )


@pytest.fixture(scope="module")
def content() -> Content:
    """One content for every run compared here: findings are compared, not checklists."""
    return load_content()


def _audit(content: Content, inventory: Path, known_hosts: Path, db: Path, **service: Any) -> tuple[Store, str]:
    """An SSH audit through the service, as the CLI runs it (zones through ``service["zones"]`` when given)."""
    store = open_store(f"sqlite:///{db}")
    scope = AuditScope(inventory=load_inventory(inventory), inventory_sha256="0" * 64, only=Only.ssh)
    options = AuditOptions(known_hosts=known_hosts, connect_timeout_s=5, deadline_s=40)
    return store, AuditService(store, content, **service).start_audit(scope, options)


def _dispatcher(broker: Broker) -> CeleryDispatcher:
    app = make_app(f"redis://:{broker.password}@127.0.0.1:{broker.port}/0")
    return CeleryDispatcher(app, attempts=2, grace_s=3)


@pytest.fixture(scope="module")
def local_run(enrolled: tuple[Path, Path], content: Content, workdir: Path) -> tuple[Store, str]:
    return _audit(content, enrolled[0], enrolled[1], workdir / "zones-local.db")


def test_each_worker_reaches_its_own_host_and_the_broker_only(
    workers: dict[str, ZoneWorker], lab_hosts: dict[str, Any], broker: Broker
) -> None:
    for zone, worker in workers.items():
        own = worker.host
        assert _reaches(own.netns, own.address, own.port), zone
        assert _reaches(own.netns, _gateway(own), broker.port), zone
        others = [h for h in lab_hosts.values() if h.name != own.name][:3]
        assert others and not any(_reaches(own.netns, h.address, h.port) for h in others), zone


def test_an_audit_through_zone_workers_equals_a_local_audit(
    workers: dict[str, ZoneWorker],
    broker: Broker,
    local_run: tuple[Store, str],
    enrolled: tuple[Path, Path],
    content: Content,
    workdir: Path,
) -> None:
    inventory = _zoned_inventory(enrolled, workdir / "zoned.yml")
    dispatcher = _dispatcher(broker)
    store, run_id = _audit(content, inventory, enrolled[1], workdir / "zones-remote.db", zones=lambda _o: dispatcher)
    hosts = {h.host_name: h for h in store.list_run_hosts(run_id) if h.kind == "host"}
    assert {name: h.status for name, h in hosts.items()} == {"labh1": "ok", "labh2": "ok", "labh3": "ok"}
    assert all(h.exec_requests == 1 for h in hosts.values())
    for zone, worker in workers.items():  # each host was collected by its own zone's worker
        assert f"collected {ZONES[zone]} (zone {zone})" in worker.log_text()
        assert broker.password not in worker.log_text()
    local_store, local_id = local_run
    zoned, local = _findings(store, run_id), _findings(local_store, local_id)
    assert len(zoned) > 100
    assert zoned == local
    with_evidence = [f for f in zoned if len(f) > 7]
    assert len(with_evidence) > 0.5 * len(zoned)  # evidence behind most findings, all compared byte for byte
    assert "source.sysctl_all" in {f[7] for f in with_evidence}  # the kernel parameters compared by hash too


def test_the_audit_command_reaches_the_zones_through_the_broker_it_is_given(
    workers: dict[str, ZoneWorker], broker: Broker, enrolled: tuple[Path, Path], workdir: Path
) -> None:
    inventory = _zoned_inventory(enrolled, workdir / "zoned-cli.yml")
    db = workdir / "zones-cli.db"
    env = {"AUDITOR_BROKER_URL": broker.url(), PASSWORD_ENV: broker.password}
    call = run_cli(
        "audit", "--inventory", str(inventory), "--known-hosts", str(enrolled[1]), "--db", f"sqlite:///{db}",
        "--only", "ssh", "--check", "sshd_permit_root_login_disabled", env=env,
    )  # fmt: skip
    assert call.returncode in (0, 1), call.stdout + call.stderr  # labh2 fails the check; no host in error
    assert broker.password not in call.stdout + call.stderr
    store = open_store(f"sqlite:///{db}")
    run_id = store.list_runs(1)[0].id
    statuses = {
        f.host_name: f.status.value for f in store.list_findings(run_id, check_id="sshd_permit_root_login_disabled")
    }
    assert (statuses["labh1"], statuses["labh2"]) == ("pass", "fail")  # hardened and weak, as the lab's tests say
    assert statuses["labh3"] in ("pass", "fail")  # the local host, judged too: not in error


def _wait_for_task(worker: ZoneWorker, since: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while "auditor.zones.collect" not in worker.log_text()[since:]:
        assert time.monotonic() < deadline, f"zone {worker.zone} never received its task"
        time.sleep(0.02)


def test_a_worker_killed_mid_run_costs_a_retry_or_an_error_never_a_stuck_run(
    workers: dict[str, ZoneWorker],
    broker: Broker,
    local_run: tuple[Store, str],
    enrolled: tuple[Path, Path],
    content: Content,
    workdir: Path,
) -> None:
    """Both workers are killed (SIGKILL) as their task arrives; north's is started again and takes the task
    sent again, south's stays dead: labh1 is retried and equals the local audit, labh2 ends as an error that
    says why, and the run ends within its bound."""
    inventory = _zoned_inventory(enrolled, workdir / "zoned-killed.yml")
    dispatcher = _dispatcher(broker)
    bound = 2 * (5 + 40 + 3) + 60  # two attempts per host, and the local host and the store
    marks = {zone: len(worker.log_text()) for zone, worker in workers.items()}
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["run"] = _audit(
            content, inventory, enrolled[1], workdir / "zones-killed.db", zones=lambda _o: dispatcher
        )

    thread = threading.Thread(target=run, daemon=True)
    began = time.monotonic()
    thread.start()
    for zone, worker in workers.items():
        _wait_for_task(worker, marks[zone])
        assert worker.process is not None
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait()
    _start(workers["north"], broker)
    thread.join(bound)
    assert not thread.is_alive(), f"the run did not end within {bound} s"
    took = time.monotonic() - began
    store, run_id = outcome["run"]
    run = store.get_run(run_id)
    assert run.status.value == "completed_with_errors"
    hosts = {h.host_name: h for h in store.list_run_hosts(run_id) if h.kind == "host"}
    assert (hosts["labh1"].status, hosts["labh3"].status) == ("ok", "ok")
    assert hosts["labh2"].status == "error" and hosts["labh2"].error_reason == "zone_worker_lost"
    assert "zone south" in (hosts["labh2"].error_detail or "")
    labh2 = [f for f in store.list_findings(run_id, host_name="labh2") if f.evidence_id is not None]
    assert labh2 == []  # nothing is judged without observations
    errors = [f for f in store.list_findings(run_id, host_name="labh2") if f.status.value == "error"]
    assert errors and all("zone" in f.reason_en for f in errors)
    local_store, local_id = local_run
    retried = [f for f in _findings(store, run_id) if f[0] == "labh1"]
    assert retried == [f for f in _findings(local_store, local_id) if f[0] == "labh1"]
    assert took < bound
