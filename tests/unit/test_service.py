"""The audit service, driven with fake collectors: no root, no lab, no network."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import DataError

from auditor.collectors.network.inside import InsideView
from auditor.content.checks import Check
from auditor.content.loader import Content, load_content
from auditor.content.sources import Source
from auditor.errors import ConfigError, ConnectError, StoreError
from auditor.evaluation.findings import HostResult, HostStatus
from auditor.evaluation.observations import HostFacts, HostObservations, Observation, ProbeOutcome, ProbeRequest
from auditor.foreign import foreign
from auditor.inventory import Agency, Host, Inventory
from auditor.run_end import run_end_text
from auditor.said import said
from auditor.service.audit import AuditOptions, AuditScope, AuditService
from auditor.service.events import AuditEvent, HostFinished, NetworkTargetFinished, RunFinished, RunStarted
from auditor.service.plan import NetworkPlan
from auditor.store import RunStatus, Store, open_store
from auditor.vocabulary import LocalizedText, Only, RequirementRef, Status
from tests.unit.test_store import any_url, sqlite_url

__all__ = ["any_url", "sqlite_url"]  # fixtures used here
TEXT = LocalizedText(vi="Kiểm tra", en="Check")
SHIPPED = load_content()


def _check(check_id: str, probe: dict[str, Any], expect: dict[str, Any], **extra: Any) -> Check:
    return Check.model_validate(
        {
            "id": check_id,
            "title": TEXT,
            "severity": "high",
            "probe": probe,
            "expect": expect,
            "rationale": TEXT,
            "remediation": {"vi": "Sửa", "en": "Fix"},
            **extra,
        }
    )


SSHD = Source(id="sshd_effective", title=TEXT, command="sshd -T")
SOCKETS = Source(id="listening_sockets", title=TEXT, command="ss -H -tlnu")
CHECKS = {
    "sshd_root_login_off": _check(
        "sshd_root_login_off", {"source": "sshd_effective", "select": {"key": "permitrootlogin"}}, {"equals": "no"}
    ),
    "sshd_x11_off": _check(
        "sshd_x11_off", {"source": "sshd_effective", "select": {"key": "x11forwarding"}}, {"equals": "no"}
    ),
    "files_motd_present": _check("files_motd_present", {"command": "cat /etc/motd"}, {"empty": False}),
    "net_exposure_ok": _check(
        "net_exposure_ok",
        {"kind": "network", "agent": "exposure", "observe": "inside_outside", "inside": "listening_sockets"},
        {"none": [{"regex": "^exposed beyond role"}]},
        scope="network",
    ),
    "mgmt_policy_doc": Check.model_validate(
        {
            "id": "mgmt_policy_doc",
            "title": TEXT,
            "severity": "medium",
            "scope": "agency",
            "evidence_required": TEXT,
            "rationale": TEXT,
            "remediation": {"vi": "Sửa", "en": "Fix"},
        }
    ),
}
REFS = {
    "sshd_root_login_off": (RequirementRef(framework="TCVN 11930:2017", clause="7.2.3.1"),),
    "mgmt_policy_doc": (RequirementRef(framework="TCVN 11930:2017", clause="7.1.1.1"),),
}
CONTENT = Content(
    checks=CHECKS,
    files={},
    profile=SHIPPED.profile,
    version="test-1",
    catalogues={},
    requirements=REFS,
    sources={"sshd_effective": SSHD, "listening_sockets": SOCKETS},
)
KEY = Path("/nonexistent/key")
AGENCY = Agency(
    id="bst",
    name=LocalizedText(vi="Báo Sóc Trăng", en="Soc Trang Newspaper"),
    hosts=(
        Host(name="web1", address="10.0.0.2", key_file=KEY, roles=("web",)),
        Host(name="web2", address="10.0.0.3", key_file=KEY, roles=("web",)),
    ),
)
INVENTORY = Inventory(agencies=(AGENCY,))
OUTPUTS = {
    "source.sshd_effective": b"port 22\npermitrootlogin yes\nx11forwarding no\n",
    "source.listening_sockets": b"tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\ntcp LISTEN 0 80 0.0.0.0:3306 0.0.0.0:*\n",
    "files_motd_present": b"welcome\n",
}


class FakeCollector:
    """Answers every request from canned outputs; hosts listed in `fail` are unreachable."""

    def __init__(self, fail: Mapping[str, Exception] | None = None) -> None:
        self.fail = dict(fail or {})
        self.requests: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def collect(self, host: Host, requests: Sequence[ProbeRequest]) -> HostObservations:
        with self.lock:
            self.requests[host.name] = [r.probe_id for r in requests]
        if host.name in self.fail:
            raise self.fail[host.name]
        now = datetime.now(UTC)
        observations = {
            r.probe_id: Observation(
                probe_id=r.probe_id,
                command=r.command,
                outcome=ProbeOutcome.completed,
                exit_code=0,
                stdout=OUTPUTS[r.probe_id],
                collected_at=now,
            )
            for r in requests
        }
        facts = HostFacts(hostname=host.name, os_family="debian")
        return HostObservations(
            facts=facts, observations=observations, exec_requests=1, started_at=now, finished_at=now
        )


class FakeNetwork:
    """Stands in for the network agents: records the inside view it was given, returns one service target."""

    def __init__(self, raise_after: BaseException | None = None) -> None:
        self.inside: dict[str, InsideView] = {}
        self.raise_after = raise_after

    def __call__(self, plan: NetworkPlan, options: AuditOptions, inside: Mapping[str, InsideView]) -> Any:
        self.inside = dict(inside)
        now = datetime.now(UTC)
        for agency in plan.agencies:
            yield (
                agency,
                HostResult(
                    agency_id=agency.id,
                    host_name="tcp://10.0.0.2",
                    kind="service",
                    address="10.0.0.2",
                    status=HostStatus.ok,
                    started_at=now,
                    finished_at=now,
                ),
            )
            if self.raise_after is not None:
                raise self.raise_after


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'audit.db'}")


def _service(store: Store, collector: FakeCollector, network: FakeNetwork | None = None) -> AuditService:
    return AuditService(store, CONTENT, collector=lambda _options: collector, network=network or FakeNetwork())


def _scope(**narrowing: Any) -> AuditScope:
    return AuditScope(inventory=INVENTORY, inventory_sha256="0" * 64, **narrowing)


OPTIONS = AuditOptions(known_hosts=Path("/nonexistent/known_hosts"), concurrency=2)


def test_a_run_plans_collects_judges_stores_and_reports_in_order(store: Store) -> None:
    events: list[AuditEvent] = []
    network = FakeNetwork()
    collector = FakeCollector()
    run_id = _service(store, collector, network).start_audit(_scope(), OPTIONS, on_event=events.append)

    assert isinstance(events[0], RunStarted) and (events[0].servers, events[0].agencies) == (2, 1)
    assert isinstance(events[-1], RunFinished) and events[-1].status is RunStatus.completed
    finished = [e for e in events if isinstance(e, HostFinished | NetworkTargetFinished)]
    assert [e.target_kind for e in finished] == ["agency", "host", "host", "service"]  # agency items first
    assert {e.kind for e in events} >= {"host_started"}
    tally = events[-1].tally
    assert (tally.servers_ok, tally.servers_error, tally.network_ok) == (2, 0, 1)
    assert tally.by_status[Status.failed] == 2  # root login on both servers

    run = store.get_run(run_id)
    assert run.status is RunStatus.completed
    assert (run.targets.servers_ok, run.targets.network_ok, run.targets.agencies) == (2, 1, 1)
    # one record per shared source, each read by every check that selects from it
    assert collector.requests["web1"] == ["source.sshd_effective", "source.listening_sockets", "files_motd_present"]
    rows = {(r.host_name, r.check_id): r for r in store.list_findings(run_id)}
    root, x11 = rows[("web1", "sshd_root_login_off")], rows[("web1", "sshd_x11_off")]
    assert (root.status, root.observed, x11.status) == (Status.failed, "yes", Status.passed)
    assert root.evidence_id == x11.evidence_id is not None
    evidence = store.evidence([root.evidence_id])[root.evidence_id]
    assert evidence.probe_id == "source.sshd_effective" and evidence.verified
    assert evidence.stdout == OUTPUTS["source.sshd_effective"]


def test_requirements_are_attached_to_every_kind_of_target(store: Store) -> None:
    run_id = _service(store, FakeCollector()).start_audit(_scope(), OPTIONS)
    rows = {(r.host_name, r.check_id): r for r in store.list_findings(run_id)}
    assert rows[("web2", "sshd_root_login_off")].requirements == REFS["sshd_root_login_off"]
    assert rows[("agency:bst", "mgmt_policy_doc")].requirements == REFS["mgmt_policy_doc"]
    assert rows[("web2", "files_motd_present")].requirements == ()


def test_the_network_agents_get_each_hosts_own_view_as_a_typed_fact(store: Store) -> None:
    network = FakeNetwork()
    _service(store, FakeCollector(), network).start_audit(_scope(), OPTIONS)
    view = network.inside["10.0.0.2"]
    assert view.ports == {"22", "3306"} and view.evidence == "source.listening_sockets"


def test_an_unreachable_host_is_an_error_result_and_the_run_goes_on(store: Store) -> None:
    collector = FakeCollector(fail={"web1": ConnectError("web1: connection refused", reason="unreachable")})
    events: list[AuditEvent] = []
    run_id = _service(store, collector).start_audit(_scope(only=Only.ssh), OPTIONS, on_event=events.append)
    finished = {e.host_name: e for e in events if isinstance(e, HostFinished)}
    assert finished["web1"].status is HostStatus.error and finished["web1"].error_reason == "unreachable"
    assert finished["web2"].status is HostStatus.ok
    assert isinstance(events[-1], RunFinished) and events[-1].status is RunStatus.completed_with_errors
    run = store.get_run(run_id)
    assert (run.status, run.targets.servers_ok, run.targets.servers_error) == (RunStatus.completed_with_errors, 1, 1)
    assert {r.status for r in store.list_findings(run_id, host_name="web1") if r.check_id.startswith("sshd")} == {
        Status.error
    }


def test_bad_scope_is_refused_before_a_run_is_recorded(store: Store) -> None:
    service = _service(store, FakeCollector())
    for scope in (_scope(hosts=("nosuch",)), _scope(checks=("nosuch_check_id",)), _scope(agencies=("nosuch",))):
        with pytest.raises(ConfigError):
            service.start_audit(scope, OPTIONS)
    assert store.list_runs() == []


def test_ctrl_c_ends_the_run_interrupted_with_what_finished(store: Store) -> None:
    collector = FakeCollector(fail={"web2": KeyboardInterrupt()})  # type: ignore[dict-item]
    events: list[AuditEvent] = []
    service = AuditService(store, CONTENT, collector=lambda _o: collector, network=FakeNetwork())
    options = OPTIONS.model_copy(update={"concurrency": 1})
    run_id = service.start_audit(_scope(), options, on_event=events.append)
    assert isinstance(events[-1], RunFinished) and events[-1].status is RunStatus.interrupted
    assert events[-1].tally.interrupted
    assert store.get_run(run_id).status is RunStatus.interrupted
    assert store.get_run(run_id).status_detail == "stopped_by_user"
    hosts = {h.host_name: h for h in store.list_run_hosts(run_id)}
    assert hosts["web1"].status is HostStatus.ok  # finished before the interrupt: kept
    assert hosts["web2"].error_reason == "interrupted"
    assert "tcp://10.0.0.2" not in hosts  # the network phase never started


def test_a_crash_marks_the_run_failed_and_keeps_finished_targets(store: Store) -> None:
    network = FakeNetwork(raise_after=RuntimeError("agent bug"))
    with pytest.raises(RuntimeError, match="agent bug"):
        _service(store, FakeCollector(), network).start_audit(_scope(), OPTIONS)
    (run,) = store.list_runs()
    assert run.status is RunStatus.failed and run.status_detail is not None
    assert run_end_text(run.status_detail, "en") == "RuntimeError: agent bug"
    assert run_end_text(run.status_detail, "vi") == "(thông báo gốc của Python: “RuntimeError: agent bug”)"
    assert (run.targets.servers_ok, run.targets.network_ok) == (2, 1)


def test_reverification_appends_only_the_touched_checks_to_an_open_run(store: Store) -> None:
    collector = FakeCollector()
    service = _service(store, collector)
    scope = _scope(only=Only.ssh, host_checks={"web2": ("sshd_x11_off",)})
    run_id = service.start_audit(scope, OPTIONS.model_copy(update={"leave_open": True}))
    assert store.get_run(run_id).status is RunStatus.running
    assert collector.requests == {"web2": ["source.sshd_effective"]}
    again = service.start_audit(
        _scope(only=Only.ssh, host_checks={"web1": ("files_motd_present",)}),
        OPTIONS.model_copy(update={"append_to": run_id}),
    )
    assert again == run_id and store.get_run(run_id).status is RunStatus.running
    assert [(r.host_name, r.check_id) for r in store.list_findings(run_id)] == [
        ("web1", "files_motd_present"),
        ("web2", "sshd_x11_off"),
    ]
    assert store.get_run(run_id).options["hosts"] == ["web2"]


def test_only_ssh_and_only_network_select_the_phases(store: Store) -> None:
    collector, network = FakeCollector(), FakeNetwork()
    run_id = _service(store, collector, network).start_audit(_scope(only=Only.network), OPTIONS)
    assert collector.requests == {}  # no server was asked anything
    assert store.get_run(run_id).targets.network_ok == 1
    ssh_only = _service(store, FakeCollector(), FakeNetwork()).start_audit(_scope(only=Only.ssh), OPTIONS)
    assert store.get_run(ssh_only).targets.network_ok == 0


def test_recorded_options_name_the_scope_without_secrets(store: Store) -> None:
    run_id = _service(store, FakeCollector()).start_audit(_scope(hosts=("web1",)), OPTIONS)
    options = store.get_run(run_id).options
    assert options["scope"]["bst"]["hosts"] == ["web1 (10.0.0.2:22)"]
    assert "key_file" not in str(options) and str(KEY) not in str(options)


def test_a_store_opener_is_opened_once_and_every_host_start_names_the_run(tmp_path: Path) -> None:
    opened: list[Store] = []

    def opener() -> Store:
        opened.append(open_store(f"sqlite:///{tmp_path / 'late.db'}"))
        return opened[-1]

    events: list[AuditEvent] = []
    service = AuditService(opener, CONTENT, collector=lambda _o: FakeCollector(), network=FakeNetwork())
    run_id = service.start_audit(_scope(only=Only.ssh), OPTIONS, on_event=events.append)
    assert len(opened) == 1 and service.store is opened[0]
    started = [e for e in events if e.kind == "host_started"]
    assert sorted(e.host_name for e in started) == ["web1", "web2"] and {e.run_id for e in started} == {run_id}
    first_started = next(i for i, e in enumerate(events) if e.kind == "host_started")
    assert isinstance(events[0], RunStarted) and first_started > 0  # never before the run is known
    assert opened[0].get_run(run_id).targets.servers_ok == 2


def test_a_run_that_cannot_be_recorded_raises(tmp_path: Path) -> None:
    def opener() -> Store:
        raise StoreError("cannot open the audit store at sqlite:///nowhere: disk I/O error")

    service = AuditService(opener, CONTENT, collector=lambda _o: FakeCollector(), network=FakeNetwork())
    with pytest.raises(StoreError, match="cannot open"):
        service.start_audit(_scope(only=Only.ssh), OPTIONS)


# -- what the store refuses costs one target, never the run ---------------------------------------------------------


class RefusingStore:
    """Wraps a store: saving the named targets raises ``error`` (the first ``times`` attempts for each)."""

    def __init__(self, store: Store, refuse: set[str], error: BaseException, times: int = 1) -> None:
        self.store, self.refuse, self.error, self.times = store, refuse, error, times
        self.attempts: dict[str, int] = {}
        self._save = store.save_host_result
        self._save_all = store.save_host_results
        store.save_host_result = self.save  # type: ignore[method-assign]
        store.save_host_results = self.save_all  # type: ignore[method-assign]

    def save_all(self, run_id: str, items: list[tuple[Agency, HostResult]]) -> list[int]:
        """Several targets in one transaction: refused as a whole while one of them is refused (not counted:
        the service then stores each on its own, which is what counts)."""
        if any(r.host_name in self.refuse and self.attempts.get(r.host_name, 0) < self.times for _, r in items):
            raise self.error
        return self._save_all(run_id, items)

    def save(self, run_id: str, agency: Agency, result: HostResult) -> int:
        tried = self.attempts[result.host_name] = self.attempts.get(result.host_name, 0) + 1
        if result.host_name in self.refuse and tried <= self.times:
            raise self.error
        return self._save(run_id, agency, result)


QUOTED = re.compile(r"thông báo gốc của [^:“]+: “[^”]*”")  # another program's own words, marked as such
ENGLISH = re.compile(r"\b(?:cannot|write|store|value|invalid|duplicate|error|the)\b", re.IGNORECASE)


@pytest.mark.parametrize(
    "error",
    [
        StoreError("cannot write to the audit store at postgresql://auditor:***@db/audit: value too long"),
        DataError("INSERT INTO findings ...", {"observed": "hunter2"}, Exception("invalid byte sequence")),
        ValueError("host 'web1': duplicate observation probe ids: x"),
    ],
)
def test_a_target_the_store_refuses_is_stored_as_an_error_and_the_run_goes_on(
    store: Store, error: BaseException
) -> None:
    refusing = RefusingStore(store, {"web1"}, error)
    events: list[AuditEvent] = []
    run_id = _service(store, FakeCollector()).start_audit(_scope(), OPTIONS, on_event=events.append)

    assert refusing.attempts["web1"] == 2  # refused, then stored as an error
    finished = {e.host_name: e for e in events if isinstance(e, HostFinished)}
    assert finished["web1"].status is HostStatus.error and finished["web1"].error_reason == "store_failed"
    assert finished["web2"].status is HostStatus.ok
    assert isinstance(events[-1], RunFinished) and events[-1].status is RunStatus.completed_with_errors
    assert events[-1].tally.servers_error == 1  # what makes `auditor audit` exit 2
    run = store.get_run(run_id)
    assert run.status is RunStatus.completed_with_errors and run.targets.network_ok == 1  # the rest went on
    hosts = {h.host_name: h for h in store.list_run_hosts(run_id)}
    web1 = hosts["web1"]
    assert web1.error_reason == "store_failed" and web1.facts is None
    assert web1.error_detail is not None and type(error).__name__ in web1.error_detail
    assert "hunter2" not in web1.error_detail and "INSERT" not in web1.error_detail  # no data, no SQL
    findings = store.list_findings(run_id, host_name="web1")
    assert findings and {f.status for f in findings} == {Status.error}
    assert {f.evidence_id for f in findings} == {None} and {f.observed for f in findings} == {""}
    assert all(f.reason_en.startswith("Error: the database could not store") for f in findings)
    assert all("cơ sở dữ liệu" in f.reason_vi for f in findings)
    for finding in findings:  # the refusal itself in words, or quoted as another program's own
        assert not ENGLISH.search(QUOTED.sub("", finding.reason_vi)), finding.reason_vi
        assert "hunter2" not in finding.reason_vi and "INSERT" not in finding.reason_vi
    assert len(store.list_findings(run_id, host_name="web2")) == 3


def test_when_even_the_error_cannot_be_stored_the_run_fails_with_the_reason(store: Store) -> None:
    refused = StoreError(said("err_db_write", url="sqlite:///a.db", problem=foreign("db_io")))
    RefusingStore(store, {"web1"}, refused, 2)
    with pytest.raises(StoreError, match="disk input/output"):
        _service(store, FakeCollector()).start_audit(
            _scope(only=Only.ssh), OPTIONS.model_copy(update={"concurrency": 1})
        )
    (run,) = store.list_runs()
    assert run.status is RunStatus.failed and run.status_detail is not None
    english = "StoreError: cannot write to the audit store at sqlite:///a.db: a disk input/output error in the database"
    assert run_end_text(run.status_detail, "en") == english
    vi = run_end_text(run.status_detail, "vi")
    assert vi == "không ghi được vào kho dữ liệu đánh giá tại sqlite:///a.db: lỗi đọc/ghi đĩa của cơ sở dữ liệu"


def test_ctrl_c_outside_the_host_pool_ends_the_run_interrupted(store: Store) -> None:
    RefusingStore(store, {"agency:bst"}, KeyboardInterrupt())  # while the agency's items are stored, first
    with pytest.raises(KeyboardInterrupt):
        _service(store, FakeCollector()).start_audit(_scope(), OPTIONS)
    (run,) = store.list_runs()
    assert run.status is RunStatus.interrupted and run.finished_at is not None
    assert run.status_detail == "stopped_by_user"


def test_a_nul_byte_from_a_target_is_stored_on_every_database(any_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A target printing NUL (which PostgreSQL text cannot hold) is judged, stored and read back like any other."""
    monkeypatch.setitem(OUTPUTS, "files_motd_present", b"welcome\x00\xff \xe2\x80\xae\n")
    monkeypatch.setitem(OUTPUTS, "source.sshd_effective", b"permitrootlogin y\x00es\nx11forwarding no\n")
    with open_store(any_url) as store:
        run_id = _service(store, FakeCollector()).start_audit(_scope(only=Only.ssh), OPTIONS)
        run = store.get_run(run_id)
        assert run.status is RunStatus.completed and run.targets.servers_ok == 2
        root = store.list_findings(run_id, host_name="web1", check_id="sshd_root_login_off")[0]
        assert root.status is Status.failed and root.observed == "y\x00es"
        assert "y\x00es" in root.reason_en
        evidence = store.get_evidence(root.id)
        assert evidence.verified and evidence.stdout == OUTPUTS["source.sshd_effective"]
