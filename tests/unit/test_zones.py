"""Zone workers without a network: the payload and outcome round trip, the worker's zone check, the broker
URL's password handling, and the whole dispatch path through a real Celery worker running in this process
(in-memory broker), down to findings identical to a local collection's."""

from __future__ import annotations

import re
import socket
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.collectors.ssh.connect import _open_socket
from auditor.errors import CollectorError, ConfigError, ConnectError
from auditor.evaluation.observations import HostFacts, HostObservations, Observation, ProbeOutcome, ProbeRequest
from auditor.foreign import foreign, verbatim
from auditor.inventory import Agency, Host, Inventory, load_inventory
from auditor.inventory_check import check_inventory
from auditor.service.audit import AuditOptions, AuditScope, AuditService
from auditor.service.hosts import audit_host
from auditor.service.plan import HostPlan
from auditor.store import Store, open_store
from auditor.vocabulary import LocalizedText
from auditor.zones.broker import broker_url, make_app, redacted
from auditor.zones.dispatch import CeleryDispatcher, ZoneCollector
from auditor.zones.payload import WORDS_DEPTH, CollectOutcome, CollectTask, Words, ZoneHost, queue_name, task_id
from auditor.zones.tasks import collect_in_zone, register_collect_task
from auditor.zones.worker_config import ZoneConfig, load_zone_config
from tests.unit.test_service import CONTENT, OUTPUTS

celery_worker = pytest.importorskip("celery.contrib.testing.worker")

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
REQUESTS = (
    ProbeRequest(probe_id="source.sshd_effective", command="sshd -T"),
    ProbeRequest(probe_id="files_motd_present", command="cat /etc/motd", timeout_s=5),
)


def observed_for(host: Host, requests: Sequence[ProbeRequest]) -> HostObservations:
    """What a host answers: canned outputs, with bytes that are not UTF-8 and a NUL to cross the wire intact."""
    observations = {
        r.probe_id: Observation(
            probe_id=r.probe_id,
            command=r.command,
            outcome=ProbeOutcome.completed,
            exit_code=0,
            stdout=OUTPUTS.get(r.probe_id, b"") + b"\xff\x00\xc3(",
            stderr=b"warn\n",
            duration_s=0.25,
            collected_at=NOW,
        )
        for r in requests
    }
    facts = HostFacts(hostname=host.name, os_family="debian", uid=0, has_systemd=True)
    return HostObservations(
        facts=facts, observations=observations, exec_requests=1, started_at=NOW, finished_at=NOW, probes_wall_s=0.5
    )


class CannedCollector:
    """A collector answering from canned outputs; records which host (with which key) it was asked for."""

    def __init__(self, fail: dict[str, Exception] | None = None) -> None:
        self.fail = fail or {}
        self.asked: list[Host] = []
        self.lock = threading.Lock()

    def collect(self, host: Host, requests: Sequence[ProbeRequest]) -> HostObservations:
        with self.lock:
            self.asked.append(host)
        if host.name in self.fail:
            raise self.fail[host.name]
        return observed_for(host, requests)


def zone_task(zone: str = "north", name: str = "web1", deadline_s: float = 5.0, run_id: str = "") -> CollectTask:
    """A task of a new run unless ``run_id`` is given (the in-memory result store outlives each test's worker)."""
    host = ZoneHost(name=name, address="10.0.0.2", port=22, user="audit", sudo=True, os_family="debian")
    return CollectTask(
        run_id=run_id or f"r-20260301-080000-{uuid.uuid4().hex[:8]}",
        zone=zone,
        host=host,
        requests=REQUESTS,
        connect_timeout_s=1.0,
        deadline_s=deadline_s,
    )


@pytest.fixture(scope="module")
def zone_config(tmp_path_factory: pytest.TempPathFactory) -> ZoneConfig:
    tmp_path = tmp_path_factory.mktemp("zone")
    known = tmp_path / "known_hosts"
    known.write_text("")
    key = tmp_path / "id_zone"
    key.write_text("not used by the canned collector")
    key.chmod(0o600)
    return ZoneConfig(zone="north", known_hosts=known, key_file=key, host_keys={"db1": tmp_path / "id_db"})


# ----------------------------------------------------------------------------------------- the wire


def test_task_and_outcome_cross_as_json_unchanged() -> None:
    task = zone_task()
    assert CollectTask.model_validate_json(task.model_dump_json()) == task
    observed = observed_for(Host(name="web1", address="10.0.0.2", use_agent=True), REQUESTS)
    outcome = CollectOutcome(zone="north", host_name="web1", worker="zone-north@w", observations=observed)
    back = CollectOutcome.model_validate_json(outcome.model_dump_json())
    assert back.observed() == observed
    hashes = {k: o.sha256 for k, o in back.observed().observations.items()}
    assert hashes == {k: o.sha256 for k, o in observed.observations.items()}


def test_the_payload_carries_no_credential() -> None:
    host = Host(name="web1", address="10.0.0.2", key_file=Path("/secret/key"), password_env="SECRET_PW", zone="north")
    wire = zone_task().model_copy(update={"host": ZoneHost.of(host)}).model_dump_json()
    assert "/secret/key" not in wire and "SECRET_PW" not in wire
    assert set(ZoneHost.model_fields) == {"name", "address", "port", "user", "sudo", "os_family", "probe_jobs"}


def test_task_ids_are_one_per_run_and_host() -> None:
    assert (
        task_id("r-1", "web1")
        == task_id("r-1", "web1")
        == zone_task(name="web1").model_copy(update={"run_id": "r-1"}).task_id
    )
    assert len({task_id("r-1", "web1"), task_id("r-1", "web2"), task_id("r-2", "web1")}) == 3
    assert queue_name("north") == "zone.north"


def test_an_error_outcome_raises_the_collectors_error_with_its_reason() -> None:
    outcome = CollectOutcome(zone="north", host_name="web1", error_reason="auth_failed", error_detail="login refused")
    with pytest.raises(CollectorError, match="login refused") as raised:
        outcome.observed()
    assert raised.value.reason == "auth_failed"


def test_error_words_cross_as_json_and_are_said_here_in_each_language() -> None:
    cause = verbatim("ssh", "Error reading SSH protocol banner")
    error = ConnectError(foreign("ssh_other", where="web1 (10.0.0.2:22)", detail=cause), "unreachable")
    words = Words.of(error.said) if error.said is not None else None
    outcome = CollectOutcome(
        zone="north", host_name="web1", error_reason="unreachable", error_detail=str(error), error_words=words
    )
    wire = outcome.model_dump_json()
    with pytest.raises(CollectorError) as raised:
        CollectOutcome.model_validate_json(wire).observed()
    assert raised.value.reason == "unreachable"
    assert raised.value.text("vi") == error.text("vi") and raised.value.text("en") == error.text("en")
    assert "thư viện SSH" in raised.value.text("vi")


def deeply_nested() -> Words:
    words = Words(key="os_ECONNREFUSED")
    for _ in range(WORDS_DEPTH + 1):
        words = Words(key="ssh_other", values={"where": "web1", "detail": words})
    return words


def test_error_words_the_central_side_cannot_say_fall_back_to_the_detail() -> None:
    for words in (
        Words(key="no_such_sentence"),  # a worker of another version
        Words(key="ssh_timed_out"),  # a value the sentence names is missing
        Words(key="ssh_other", values={"where": "web1", "detail": Words(key="no_such_sentence")}),
        deeply_nested(),  # deeper than any collector's error
    ):
        outcome = CollectOutcome(
            zone="north", host_name="web1", error_reason="timeout", error_detail="web1: timed out", error_words=words
        )
        with pytest.raises(CollectorError, match="web1: timed out"):
            outcome.observed()


# ----------------------------------------------------------------------------------------- the worker's side


def test_a_worker_collects_with_its_own_zone_key(zone_config: ZoneConfig) -> None:
    canned = CannedCollector()
    outcome = collect_in_zone(zone_task(), zone_config, lambda _c, _t: canned)
    assert outcome.error_reason is None and outcome.observations is not None
    [asked] = canned.asked
    assert (asked.name, asked.user, asked.sudo, asked.key_file) == ("web1", "audit", True, zone_config.key_file)
    collect_in_zone(zone_task(name="db1"), zone_config, lambda _c, _t: canned)
    assert canned.asked[-1].key_file == zone_config.host_keys["db1"]


def test_a_worker_refuses_a_host_of_another_zone(zone_config: ZoneConfig) -> None:
    canned = CannedCollector()
    outcome = collect_in_zone(zone_task(zone="south"), zone_config, lambda _c, _t: canned)
    assert outcome.error_reason == "zone_refused" and "south" in (outcome.error_detail or "")
    assert canned.asked == []  # nothing was attempted


def test_a_collector_error_goes_back_with_its_reason(zone_config: ZoneConfig) -> None:
    canned = CannedCollector(fail={"web1": ConnectError("web1 (10.0.0.2:22): connection refused", "unreachable")})
    outcome = collect_in_zone(zone_task(), zone_config, lambda _c, _t: canned)
    assert (outcome.error_reason, outcome.error_detail) == ("unreachable", "web1 (10.0.0.2:22): connection refused")


def refused_connection() -> ConnectError:
    """The SSH collector's own error for a port nothing listens on (a port of this machine, just closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    host = Host(name="web1", address="127.0.0.1", port=port, use_agent=True)
    with pytest.raises(ConnectError) as raised:
        _open_socket(host, f"web1 (127.0.0.1:{port})", 2.0)
    return raised.value


QUOTED = re.compile(r"thông báo gốc của [^:“]+: “[^”]*”")
ASCII_WORD = re.compile(
    r"\b(?:connection|refused|nothing|accepts|port|worker|zone|error|the|broker|attempts?|returned|sent)\b",
    re.IGNORECASE,
)


@pytest.mark.parametrize("fault", ["refused", "reset", "internal", "other_zone"])
def test_a_zoned_hosts_error_reads_as_a_local_ones_in_each_language(zone_config: ZoneConfig, fault: str) -> None:
    """The findings of a host whose worker could not reach it carry the reason a local collection gives, in
    Vietnamese and English, however the error crossed the wire."""
    faults: dict[str, Exception] = {
        "refused": refused_connection(),
        "reset": ConnectionResetError(104, "Connection reset by peer"),
        "internal": RuntimeError("the probe plan is broken"),
    }
    task = zone_task(zone="south" if fault == "other_zone" else "north")
    worker = CannedCollector(fail={"web1": faults["refused" if fault == "other_zone" else fault]})
    wire = collect_in_zone(task, zone_config, lambda _c, _t: worker).model_dump_json()
    assert str(zone_config.key_file) not in wire and "password" not in wire
    through_zone = CollectOutcome.model_validate_json(wire)

    class FromZone:
        def collect(self, host: Host, requests: Sequence[ProbeRequest]) -> HostObservations:
            return through_zone.observed()

    check = next(iter(CONTENT.checks.values()))
    agency = Agency(id="bst", name=LocalizedText(vi="Báo", en="Paper"))
    plan = HostPlan(
        agency=agency,
        host=Host(name="web1", address="127.0.0.1", use_agent=True),
        inputs={},
        to_probe=(check,),
        decided=(),
    )
    [zoned] = audit_host(plan, FromZone()).findings
    assert zoned.status == "error"
    vi = zoned.reason.vi
    assert not ASCII_WORD.search(QUOTED.sub("", vi)), vi  # another program's words only where quoted as its own
    if fault in ("refused", "reset"):
        [local] = audit_host(plan, CannedCollector(fail={"web1": faults[fault]})).findings
        assert (zoned.reason.vi, zoned.reason.en) == (local.reason.vi, local.reason.en)
        assert ("từ chối" if fault == "refused" else "ngắt kết nối") in vi


def test_the_zone_file_resolves_paths_and_refuses_a_key_others_can_read(tmp_path: Path) -> None:
    (tmp_path / "known_hosts").write_text("")
    key = tmp_path / "id_zone"
    key.write_text("k")
    key.chmod(0o600)
    path = tmp_path / "zone.yml"
    path.write_text(yaml.safe_dump({"zone": "north", "known_hosts": "known_hosts", "key_file": "id_zone"}))
    config = load_zone_config(path)
    assert (config.zone, config.known_hosts, config.key_file) == ("north", tmp_path / "known_hosts", key)
    key.chmod(0o644)
    with pytest.raises(ConfigError, match="can be read by other users"):
        load_zone_config(path)
    path.write_text(yaml.safe_dump({"zone": "North!", "known_hosts": "known_hosts", "key_file": "id_zone"}))
    with pytest.raises(ConfigError, match="zone"):
        load_zone_config(path)


# ----------------------------------------------------------------------------------------- the broker URL


def test_the_broker_password_comes_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_BROKER_PASSWORD", "s3cr/t@x")
    url = broker_url("rediss://auditor@broker.example:6380/0?ssl_cert_reqs=required")
    assert url == "rediss://auditor:s3cr%2Ft%40x@broker.example:6380/0?ssl_cert_reqs=required"
    assert "s3cr" not in redacted(url) and redacted(url).startswith("rediss://auditor:***@broker.example:6380")
    with pytest.raises(ConfigError, match="AUDITOR_BROKER_PASSWORD"):
        broker_url("redis://:inline@broker.example:6379/0")
    with pytest.raises(ConfigError, match="redis"):
        broker_url("amqp://broker.example//")
    monkeypatch.delenv("AUDITOR_BROKER_URL", raising=False)
    with pytest.raises(ConfigError, match="AUDITOR_BROKER_URL"):
        broker_url(None)


# ----------------------------------------------------------------------------------------- through Celery


@pytest.fixture(scope="module")
def memory_app() -> Any:
    return make_app("memory://", result_backend="cache+memory://")


@pytest.fixture(scope="module")
def module_canned() -> CannedCollector:
    return CannedCollector(fail={"web2": ConnectError("web2 (10.0.0.3:22): no route to host", "unreachable")})


@pytest.fixture
def canned(module_canned: CannedCollector) -> CannedCollector:
    """The worker's collector, with what it was asked for so far forgotten."""
    module_canned.asked.clear()
    return module_canned


@pytest.fixture(scope="module")
def north_worker(memory_app: Any, zone_config: ZoneConfig, module_canned: CannedCollector) -> Iterator[Any]:
    """A real Celery worker in this process, consuming zone.north only, collecting with canned outputs."""
    register_collect_task(memory_app, zone_config, lambda _c, _t: module_canned)
    import celery.contrib.testing.tasks  # noqa: F401 - the ping task the test worker waits for

    with celery_worker.start_worker(
        memory_app, pool="threads", concurrency=2, queues=[queue_name("north")], perform_ping_check=False
    ) as worker:
        yield worker


def test_observations_come_back_through_the_worker_unchanged(memory_app: Any, north_worker: Any) -> None:
    task = zone_task()
    observed = CeleryDispatcher(memory_app, attempts=1, grace_s=5).collect(task)
    assert observed == observed_for(Host(name="web1", address="10.0.0.2", use_agent=True), REQUESTS)


def test_a_task_sent_again_returns_the_first_outcome(
    memory_app: Any, north_worker: Any, canned: CannedCollector
) -> None:
    dispatcher = CeleryDispatcher(memory_app, attempts=1, grace_s=5)
    task = zone_task()
    first = dispatcher.collect(task)
    second = dispatcher.collect(task)  # the same (run, host): the same task, collected once
    assert first == second and [h.name for h in canned.asked] == ["web1"]


def test_a_host_without_a_worker_ends_as_zone_worker_lost(memory_app: Any, north_worker: Any) -> None:
    dispatcher = CeleryDispatcher(memory_app, attempts=2, grace_s=0.3)
    with pytest.raises(CollectorError, match="no worker of zone south") as raised:
        dispatcher.collect(zone_task(zone="south", deadline_s=0.2))  # nobody consumes zone.south
    assert raised.value.reason == "zone_worker_lost" and "2 attempt(s)" in str(raised.value)
    vi = raised.value.text("vi")
    assert "bộ thu thập nào của vùng south" in vi and "2 lần gửi" in vi and not ASCII_WORD.search(vi), vi


def test_findings_through_a_zone_equal_a_local_collection(
    memory_app: Any, north_worker: Any, canned: CannedCollector, tmp_path: Path
) -> None:
    def audit(inventory: Inventory, db: str) -> tuple[Store, str]:
        store = open_store(f"sqlite:///{tmp_path / db}")
        service = AuditService(
            store,
            CONTENT,
            collector=lambda _options: local,
            network=lambda *_args: iter(()),
            zones=lambda _options: CeleryDispatcher(memory_app, attempts=1, grace_s=5),
        )
        scope = AuditScope(inventory=inventory, inventory_sha256="0" * 64, only=None)
        options = AuditOptions(known_hosts=tmp_path / "known_hosts", concurrency=2, deadline_s=5)
        return store, service.start_audit(scope, options)

    local = CannedCollector(fail={"web2": ConnectError("web2 (10.0.0.3:22): no route to host", "unreachable")})
    hosts = (
        Host(name="web1", address="10.0.0.2", use_agent=True, roles=("web",)),
        Host(name="web2", address="10.0.0.3", use_agent=True, roles=("web",)),
        Host(name="web3", address="10.0.0.4", use_agent=True, roles=("web",)),
    )
    name = LocalizedText(vi="Báo", en="Newspaper")
    here = Inventory(
        agencies=(Agency(id="bst", name=name, hosts=hosts[:2]), Agency(id="soc", name=name, hosts=hosts[2:]))
    )
    zoned = Inventory(
        agencies=(
            Agency.model_validate(
                {"id": "bst", "name": name, "zone": "north", "hosts": [h.model_dump() for h in hosts[:2]]}
            ),
            here.agencies[1],  # collected here: zones and local hosts mix
        )
    )
    local_store, local_run = audit(here, "local.db")
    zone_store, zone_run = audit(zoned, "zone.db")

    assert sorted(h.name for h in canned.asked) == ["web1", "web2"]  # the zoned hosts went to the worker
    assert [h.name for h in local.asked].count("web3") == 2

    assert findings(zone_store, zone_run) == findings(local_store, local_run)
    errors = {h.host_name: h for h in zone_store.list_run_hosts(zone_run) if h.status == "error"}
    assert set(errors) == {"web2"} and errors["web2"].error_reason == "unreachable"


def findings(store: Store, run_id: str) -> list[tuple[Any, ...]]:
    """A run's findings as compared across collection paths: verdicts, words and the evidence's hash."""
    rows = store.list_findings(run_id)
    evidence = store.evidence([r.evidence_id for r in rows if r.evidence_id is not None])
    return sorted(
        (r.host_name, r.check_id, r.status, r.observed, r.expected, r.reason_en, r.reason_vi)
        + ((evidence[r.evidence_id].sha256,) if r.evidence_id is not None else ())
        for r in rows
    )


# ----------------------------------------------------------------------------------------- the inventory


def test_hosts_take_their_agency_zone_unless_they_name_their_own(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "agencies": [
                    {
                        "id": "bst",
                        "name": {"vi": "Báo", "en": "Paper"},
                        "zone": "north",
                        "hosts": [
                            {"name": "web1", "address": "10.0.0.2"},  # no credential: the zone's worker has it
                            {"name": "web2", "address": "10.0.0.3", "zone": "south"},
                            {"name": "web3", "address": "10.0.0.4", "zone": "south", "key_file": "/nonexistent"},
                        ],
                    },
                    {
                        "id": "soc",
                        "name": {"vi": "Sở", "en": "Dept"},
                        "hosts": [{"name": "db1", "address": "10.1.0.2"}],
                    },
                ]
            }
        )
    )
    with pytest.raises(ConfigError, match="give key_file"):  # a host collected here still needs a credential
        load_inventory(path)
    data = yaml.safe_load(path.read_text())
    data["agencies"][1]["hosts"][0]["use_agent"] = True
    path.write_text(yaml.safe_dump(data))
    inventory = load_inventory(path)  # web3's key file is the worker's, never looked for here
    zones = {host.name: host.zone for agency in inventory.agencies for host in agency.hosts}
    assert zones == {"web1": "north", "web2": "south", "web3": "south", "db1": None}
    report = check_inventory(path, resolve=False)
    [warning] = report.warnings
    assert warning.location[-1] == "key_file" and "south" in warning.message
    data["agencies"][0]["zone"] = "North Zone"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="zone"):
        load_inventory(path)


def test_an_audit_with_zones_and_no_broker_is_refused_before_anything_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUDITOR_BROKER_URL", raising=False)
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    host = Host(name="web1", address="10.0.0.2", zone="north", roles=("web",))
    inventory = Inventory(agencies=(Agency(id="bst", name=LocalizedText(vi="B", en="B"), hosts=(host,)),))
    service = AuditService(store, CONTENT, collector=lambda _o: CannedCollector(), network=lambda *_a: iter(()))
    with pytest.raises(ConfigError, match="no broker"):
        service.start_audit(
            AuditScope(inventory=inventory, inventory_sha256="0" * 64), AuditOptions(known_hosts=tmp_path / "k")
        )
    assert store.list_runs(5) == []


def test_a_zone_collector_sends_local_hosts_to_the_local_collector() -> None:
    local = CannedCollector()

    class Refuse:
        def collect(self, task: CollectTask) -> HostObservations:
            raise AssertionError("a local host was sent to a zone")

    collector = ZoneCollector(local, Refuse(), connect_timeout_s=1, deadline_s=1, run_id="r-1")
    collector.collect(Host(name="web1", address="10.0.0.2", use_agent=True), REQUESTS)
    assert [h.name for h in local.asked] == ["web1"]


def test_the_worker_command_refuses_another_zones_file_and_a_password_in_the_url(
    zone_config: ZoneConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditor.cli.app import run

    monkeypatch.setenv("AUDITOR_LANG", "en")  # the English words are asserted
    path = tmp_path / "zone.yml"
    path.write_text(
        yaml.safe_dump(
            {"zone": "north", "known_hosts": str(zone_config.known_hosts), "key_file": str(zone_config.key_file)}
        )
    )
    assert run(["worker", "--zone", "south", "--config", str(path), "--broker", "redis://127.0.0.1:1/0"]) == 3
    assert "zone north, not of zone south" in capsys.readouterr().err.replace("\n", " ")
    url = "redis://:hunter2@127.0.0.1:1/0"
    assert run(["worker", "--zone", "north", "--config", str(path), "--broker", url]) == 3
    err = capsys.readouterr().err
    assert "AUDITOR_BROKER_PASSWORD" in err and "hunter2" not in err


def test_runs_in_one_process_share_one_celery_app_per_broker() -> None:
    """A long-running portal dispatches many runs: each reuses the broker's app (and its connection pool)."""
    from auditor.zones.dispatch import celery_dispatcher

    first = celery_dispatcher("redis://127.0.0.1:1/0")
    again = celery_dispatcher("redis://127.0.0.1:1/0")
    other = celery_dispatcher("redis://127.0.0.1:1/1")
    assert first.app is again.app
    assert other.app is not first.app
