"""Scheduled audits without the lab: cron in the schedule's timezone, the missed-slot rule (a backlog runs
once), slots claimed once and agency leases across two Store objects (one SQLite file; PostgreSQL when
AUDITOR_TEST_PG_URL is set), the launcher's heartbeat and after-run hooks, and the progress registry. The
audit service runs with a fake collector and no network agents; every clock is injected."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.errors import ConfigError
from auditor.evaluation.findings import HostResult
from auditor.evaluation.observations import HostFacts, HostObservations, Observation, ProbeOutcome, ProbeRequest
from auditor.inventory import Agency, Host
from auditor.portal.config import PortalConfig
from auditor.portal.context import Portal
from auditor.portal.security import CookieSigner
from auditor.scheduler.cron import due_slot, latest_slot, next_slot, validate_cron, validate_timezone
from auditor.scheduler.launcher import AgencyBusy, Launcher, RunRequest
from auditor.scheduler.progress import ProgressRegistry, progress_of
from auditor.scheduler.specs import next_due, resume_schedule, schedule_spec
from auditor.scheduler.worker import Scheduler, scheduler_worker
from auditor.service.audit import AuditOptions, AuditScope, AuditService
from auditor.service.events import EventSink, RunStarted
from auditor.service.plan import NetworkPlan
from auditor.store import RunStatus, Store, open_store
from auditor.vocabulary import Only
from tests.portal.support import Clock, content, write_inventory

HCM = "Asia/Ho_Chi_Minh"
T0 = datetime(2026, 12, 1, 2, 0, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Viet Nam
TTL = timedelta(minutes=3)


# -- fakes ---------------------------------------------------------------------------------------------------------


class FakeCollector:
    """Answers every probe with empty output; while ``gate`` is closed, hosts wait (a run "going on")."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.hosts: list[str] = []
        self.lock = threading.Lock()

    def collect(self, host: Host, requests: Sequence[ProbeRequest]) -> HostObservations:
        with self.lock:
            self.hosts.append(host.name)
        if self.gate is not None and not self.gate.wait(30):
            raise TimeoutError("the test never opened the gate")
        now = datetime.now(UTC)
        observations = {
            r.probe_id: Observation(
                probe_id=r.probe_id,
                command=r.command,
                outcome=ProbeOutcome.completed,
                exit_code=0,
                stdout=b"",
                collected_at=now,
            )
            for r in requests
        }
        return HostObservations(
            facts=HostFacts(hostname=host.name, os_family="debian"),
            observations=observations,
            exec_requests=1,
            started_at=now,
            finished_at=now,
        )


def no_network(
    _plan: NetworkPlan, _options: AuditOptions, _inside: Mapping[str, Any]
) -> Iterator[tuple[Agency, HostResult]]:
    return iter(())


def fake_launcher(portal: Portal, collector: FakeCollector | None = None, **kwargs: Any) -> Launcher:
    """A launcher whose runs use ``collector`` (a fresh open one by default); installed on the portal."""
    used = collector or FakeCollector()
    launcher = Launcher(
        portal,
        service_factory=lambda: AuditService(
            portal.store, portal.content, collector=lambda _o: used, network=no_network
        ),
        **kwargs,
    )
    portal.services["runs"] = launcher
    return launcher


def make_portal_context(workdir: Path, store: Store, clock: Clock) -> Portal:
    """The portal's shared state without the web app (what the scheduler and the launcher use)."""
    inventory = workdir / "inventory.yml"
    if not inventory.exists():
        write_inventory(inventory)
    config = PortalConfig(
        db_url="sqlite://", inventory=inventory, known_hosts=workdir / "known_hosts", secret_file=workdir / "key"
    )
    return Portal(config=config, store=store, content=content(), signer=CookieSigner(b"k" * 32), clock=clock)


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


# -- cron ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "empty cron expression"),
        ("0 2 * *", "4 fields, expected five"),
        ("0 2 * * * *", "6 fields, expected five"),
        ("61 2 * * *", "a value is out of range"),
        ("0 2 * * 8", "a value is out of range"),
        ("a b c d e", "a field holds a value cron does not know"),
        ("*/0 * * * *", "step '0'"),
        ("0 2 30 2 *", "this date never occurs"),
        ("@reboot", "unknown shortcut"),
    ],
)
def test_invalid_cron_says_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_cron(expression)


def test_valid_cron_is_normalised() -> None:
    assert validate_cron("  0  2 * *   1 ") == "0 2 * * 1"
    assert validate_cron("@Daily") == "@daily"
    assert validate_cron("30 1 * * mon-fri") == "30 1 * * mon-fri"


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "asia/ho_chi_minh", "Asia", "../etc/passwd", "/etc/localtime"])
def test_invalid_timezone(name: str) -> None:
    with pytest.raises(ConfigError, match="unknown timezone"):
        validate_timezone(name)


def test_valid_timezones() -> None:
    assert validate_timezone(" Asia/Ho_Chi_Minh ") == HCM
    assert validate_timezone("UTC") == "UTC"


def test_next_slot_is_read_in_the_schedules_timezone() -> None:
    # Mondays at 02:00 in Viet Nam (UTC+7) are Sundays at 19:00 UTC
    assert next_slot("0 2 * * 1", HCM, T0) == datetime(2026, 12, 6, 19, 0, tzinfo=UTC)
    assert next_slot("0 2 * * 1", "UTC", T0) == datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    # strictly after: a slot at `after` itself is not the next one
    assert next_slot("0 9 * * *", HCM, T0) == datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def test_slots_follow_daylight_saving_time() -> None:
    # 02:00 in Paris is 01:00 UTC in winter and 00:00 UTC in summer
    assert next_slot("0 2 * * *", "Europe/Paris", datetime(2026, 1, 10, tzinfo=UTC)).hour == 1
    assert next_slot("0 2 * * *", "Europe/Paris", datetime(2026, 7, 10, tzinfo=UTC)).hour == 0


def test_latest_slot_includes_now() -> None:
    assert latest_slot("0 9 * * *", HCM, T0) == T0
    assert latest_slot("0 9 * * *", HCM, T0 - timedelta(seconds=1)) == T0 - timedelta(days=1)
    assert latest_slot("* * * * *", "UTC", T0 + timedelta(seconds=59.5)) == T0


def test_many_missed_slots_give_one_due_slot_the_latest() -> None:
    since = T0 - timedelta(days=30)  # every minute for a month: one slot due, not 43 200
    assert due_slot("* * * * *", HCM, since, T0) == T0
    assert due_slot("0 2 * * 1", HCM, since, T0) == datetime(2026, 11, 29, 19, 0, tzinfo=UTC)


def test_nothing_is_due_before_the_next_slot() -> None:
    assert due_slot("0 9 * * *", HCM, T0, T0 + timedelta(hours=23)) is None
    assert due_slot("0 9 * * *", HCM, T0, T0 + timedelta(hours=24)) == T0 + timedelta(days=1)


def test_schedule_spec_checks_the_agency_and_agent() -> None:
    spec = schedule_spec("0 2 * * 1", None, "bst", "ssh", {"bst"})
    assert (spec.timezone, spec.agency_id, spec.only) == (HCM, "bst", Only.ssh)
    assert schedule_spec("0 2 * * 1", "UTC", "*", None, set()).agency_id is None
    with pytest.raises(ConfigError, match="unknown agency 'nope'"):
        schedule_spec("0 2 * * 1", None, "nope", None, {"bst"})
    with pytest.raises(ConfigError, match="unknown agent 'all'"):
        schedule_spec("0 2 * * 1", None, None, "all", set())


# -- the scheduler: missed slots, pause, busy agencies ------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'audit.db'}")
    yield opened
    opened.close()


@pytest.fixture
def portal(tmp_path: Path, store: Store) -> Portal:
    return make_portal_context(tmp_path, store, Clock(T0))


def test_a_schedule_missed_for_weeks_runs_once_then_waits_for_its_next_slot(portal: Portal) -> None:
    launcher = fake_launcher(portal)
    row = portal.store.add_schedule("* * * * *", HCM, "officer1", T0, agency_id="baosoctrang", only_agent="ssh")
    clock: Clock = portal.clock  # type: ignore[assignment]
    clock.advance(days=21)  # no server ran for three weeks
    scheduler = Scheduler(portal)
    (outcome,) = scheduler.tick()
    assert outcome.run_id is not None and outcome.slot == clock.now.replace(second=0)
    assert launcher.wait(10)
    run = portal.store.get_run(outcome.run_id)
    assert run.status is RunStatus.completed and run.options["schedule_id"] == row.id
    assert run.options["started_by"] == "scheduler" and run.options["only"] == "ssh"
    assert run.targets.servers_ok == 1 and run.targets.agencies == 1
    assert scheduler.tick() == []  # the backlog ran once
    assert portal.store.get_schedule(row.id).last_slot_at == outcome.slot
    clock.advance(minutes=1)
    assert len(scheduler.tick()) == 1
    assert launcher.wait(10)
    *_later, first = portal.store.list_activity(action="run_start")  # newest first
    assert (first.actor, first.target, first.detail["schedule_id"]) == ("scheduler", outcome.run_id, row.id)
    assert len(_later) == 1
    assert portal.store.list_leases() == []  # released when the runs ended


def test_first_slot_is_the_first_after_creation(portal: Portal) -> None:
    fake_launcher(portal)
    portal.store.add_schedule("0 9 * * *", HCM, "officer1", T0 + timedelta(seconds=1))
    assert Scheduler(portal).tick() == []  # 09:00 today passed a second before it was created
    portal.clock.advance(days=1)  # type: ignore[attr-defined]
    assert len(Scheduler(portal).tick()) == 1


def test_paused_schedules_do_not_run_and_resuming_skips_what_was_missed(portal: Portal) -> None:
    fake_launcher(portal)
    clock: Clock = portal.clock  # type: ignore[assignment]
    row = portal.store.add_schedule("0 * * * *", HCM, "officer1", T0, agency_id="baosoctrang")
    portal.store.set_schedule_paused(row.id, True)
    clock.advance(hours=5)
    assert Scheduler(portal).tick() == []
    assert next_due(portal.store.get_schedule(row.id)) is None
    resumed = resume_schedule(portal.store, row.id, clock.now)
    assert Scheduler(portal).tick() == []  # the five hours while paused are not made up
    assert next_due(resumed) == clock.now + timedelta(hours=1)


def test_a_busy_agency_skips_the_slot_and_the_log_says_so(portal: Portal) -> None:
    launcher = fake_launcher(portal)
    row = portal.store.add_schedule("0 * * * *", HCM, "officer1", T0, agency_id="baosoctrang")
    portal.clock.advance(hours=1)  # type: ignore[attr-defined]
    assert portal.store.acquire_leases(["baosoctrang"], "other-process:1", portal.now() - TTL / 2, TTL)
    portal.store.renew_leases("other-process:1", portal.now() - TTL / 2, TTL, "r-20261201-020000-abcd")
    (outcome,) = Scheduler(portal).tick()
    assert outcome.run_id is None and outcome.reason == "agency_busy"
    assert launcher.active() == 0 and portal.store.list_runs() == []
    (skipped,) = portal.store.list_activity(action="run_skipped")
    assert skipped.actor == "scheduler" and skipped.target == f"schedule:{row.id}"
    assert skipped.detail["busy"] == {"baosoctrang": "r-20261201-020000-abcd"}
    assert Scheduler(portal).tick() == []  # the slot was handled (skipped), not retried


def test_an_all_agencies_schedule_is_skipped_when_any_agency_is_busy(portal: Portal) -> None:
    fake_launcher(portal)
    portal.store.add_schedule("0 * * * *", HCM, "officer1", T0)
    portal.clock.advance(hours=1)  # type: ignore[attr-defined]
    assert portal.store.acquire_leases(["dai-ptth"], "other-process:1", portal.now(), TTL)
    (outcome,) = Scheduler(portal).tick()
    assert outcome.reason == "agency_busy"
    assert [lease.holder for lease in portal.store.list_leases()] == ["other-process:1"]  # all or none


def test_a_schedule_whose_scope_cannot_be_audited_is_skipped_with_the_reason(portal: Portal) -> None:
    fake_launcher(portal)
    portal.store.add_schedule("0 * * * *", HCM, "officer1", T0, agency_id="gone-agency")
    portal.clock.advance(hours=1)  # type: ignore[attr-defined]
    (outcome,) = Scheduler(portal).tick()
    assert outcome.reason == "error"
    (skipped,) = portal.store.list_activity(action="run_skipped")
    assert "not in the inventory" in skipped.detail["error"]
    assert portal.store.list_leases() == []


def test_the_worker_checks_at_start_and_then_every_interval(portal: Portal) -> None:
    fake_launcher(portal)
    clock: Clock = portal.clock  # type: ignore[assignment]
    portal.store.add_schedule("* * * * *", HCM, "officer1", T0 - timedelta(days=2), agency_id="baosoctrang")
    stop = scheduler_worker(interval_s=0.05)(portal)
    try:
        wait_for(lambda: len(portal.store.list_activity(action="run_start")) == 1)  # the missed slot, at start
        time.sleep(0.2)
        assert len(portal.store.list_activity(action="run_start")) == 1  # the clock has not moved
        clock.advance(minutes=1)
        wait_for(lambda: len(portal.store.list_activity(action="run_start")) == 2)
    finally:
        stop()
    assert isinstance(portal.services["scheduler"], Scheduler)
    assert portal.services["runs"].wait(10)


# -- the launcher: leases with a heartbeat, after-run hooks, progress ----------------------------------------------


def test_a_run_holds_its_leases_renews_them_and_releases_them_at_the_end(portal: Portal) -> None:
    gate = threading.Event()
    launcher = fake_launcher(portal, FakeCollector(gate), heartbeat_s=0.05)
    hooks: list[tuple[str, tuple[str, ...]]] = []
    portal.after_run_hooks.append(lambda run_id, agencies: hooks.append((run_id, agencies)))
    run_id = launcher.start(RunRequest("baosoctrang", Only.ssh, "officer1"))
    (lease,) = portal.store.list_leases()
    assert (lease.agency_id, lease.run_id) == ("baosoctrang", run_id)
    portal.clock.advance(minutes=2)  # type: ignore[attr-defined]
    wait_for(lambda: portal.store.list_leases()[0].expires_at == portal.now() + TTL)  # the heartbeat renewed it
    with pytest.raises(AgencyBusy) as busy:
        launcher.start(RunRequest(None, Only.ssh, "officer1"))
    assert busy.value.runs() == {"baosoctrang": run_id}
    assert progress_of(portal).running() == {run_id}
    gate.set()
    assert launcher.wait(10)
    assert portal.store.list_leases() == [] and hooks == [(run_id, ("baosoctrang",))]
    assert portal.store.get_run(run_id).status is RunStatus.completed
    assert progress_of(portal).running() == frozenset()


class FailingService(AuditService):
    """Records the run, reports it started, then breaks (a bug in an agent)."""

    def start_audit(self, scope: AuditScope, options: AuditOptions, on_event: EventSink | None = None) -> str:
        run_id = self.store.start_run("test", "test", scope.inventory_sha256, {})
        assert on_event is not None
        on_event(RunStarted(run_id=run_id, servers=1, agencies=1, checks=1, network_agencies=0))
        self.store.finish_run(run_id, RunStatus.failed)
        raise RuntimeError("agent bug")


def test_after_run_hooks_are_called_when_the_run_fails_and_a_failing_hook_stops_no_other(portal: Portal) -> None:
    calls: list[str] = []

    def bad_hook(_run_id: str, _agencies: tuple[str, ...]) -> None:
        raise RuntimeError("mail server away")

    portal.after_run_hooks.extend([bad_hook, lambda run_id, _agencies: calls.append(run_id)])
    launcher = Launcher(portal, service_factory=lambda: FailingService(portal.store, portal.content))
    run_id = launcher.start(RunRequest("baosoctrang", Only.ssh, "officer1"))
    assert launcher.wait(10)
    assert calls == [run_id]
    assert portal.store.get_run(run_id).status is RunStatus.failed
    assert portal.store.list_leases() == []
    final = progress_of(portal).read(run_id)
    assert final is not None and final.done and final.final is not None and final.final["status"] == "failed"


def test_a_scope_with_nothing_to_audit_is_refused_before_anything_is_recorded(portal: Portal) -> None:
    data = yaml.safe_load(portal.config.inventory.read_text(encoding="utf-8"))
    data["agencies"].append({"id": "no-servers", "name": {"vi": "Chưa khai báo", "en": "Nothing declared"}})
    portal.config.inventory.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    launcher = fake_launcher(portal)
    with pytest.raises(ConfigError, match="no hosts selected"):
        launcher.start(RunRequest("no-servers", Only.ssh, "officer1"))
    assert portal.store.list_leases() == [] and len(portal.store.list_runs()) == 0


def test_the_progress_registry_is_bounded() -> None:
    registry = ProgressRegistry(max_runs=2, max_events=3)
    for n in range(4):
        registry.open(f"r{n}")
        for i in range(5):
            registry.add(f"r{n}", {"kind": "host_started", "i": i})
        if n < 3:
            registry.finish(f"r{n}", "completed")
    assert registry.read("r0") is None  # the oldest finished runs are forgotten
    running = registry.read("r3")
    assert running is not None and [e["i"] for _s, e in running.events] == [2, 3, 4] and not running.done
    finished = registry.read("r2", after=5)
    assert finished is not None and finished.done and finished.final is not None
    assert [e["kind"] for _s, e in finished.events] == ["run_finished"]
    assert registry.running() == {"r3"}


# -- claims and leases across two Store objects -------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two Store objects on one database, as two server processes would have."""
    url = f"sqlite:///{tmp_path / 'shared.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    first, second = open_store(url), open_store(url)
    yield first, second
    first.close()
    second.close()


def test_a_slot_is_claimed_by_exactly_one_store(two_stores: tuple[Store, Store]) -> None:
    first, second = two_stores
    row = first.add_schedule("0 2 * * 1", HCM, "officer1", T0)
    slot = T0 + timedelta(days=5)
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim(store: Store) -> None:
        barrier.wait()
        results.append(store.claim_slot(row.id, slot))

    threads = [threading.Thread(target=claim, args=(s,)) for s in (first, second) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    assert not second.claim_slot(row.id, slot - timedelta(days=7))  # an older slot is never claimed again
    assert second.claim_slot(row.id, slot + timedelta(days=7))


def test_leases_live_block_expired_are_taken_over_all_or_none(two_stores: tuple[Store, Store]) -> None:
    first, second = two_stores
    assert first.acquire_leases(["a", "b"], "p1:run1", T0, TTL)
    assert not second.acquire_leases(["b", "c"], "p2:run2", T0 + timedelta(minutes=1), TTL)  # b is held
    assert {lease.agency_id for lease in second.list_leases()} == {"a", "b"}  # c was not taken: all or none
    assert second.acquire_leases(["c"], "p2:run2", T0 + timedelta(minutes=1), TTL)
    # p1 renews (its heartbeat) and keeps b; once it stops renewing, its leases expire and are taken over
    assert first.renew_leases("p1:run1", T0 + timedelta(minutes=2), TTL, "r-1") == 2
    assert not second.acquire_leases(["b"], "p2:run3", T0 + timedelta(minutes=4), TTL)
    assert second.acquire_leases(["b"], "p2:run3", T0 + timedelta(minutes=5, seconds=1), TTL)
    holders = {lease.agency_id: lease.holder for lease in first.list_leases()}
    assert holders == {"a": "p1:run1", "b": "p2:run3", "c": "p2:run2"}
    assert first.renew_leases("p1:run1", T0 + timedelta(minutes=6), TTL) == 0  # a expired too: p1 holds nothing
    second.release_leases("p2:run3")
    assert {lease.agency_id for lease in first.list_leases()} == {"a", "c"}


def test_concurrent_acquirers_of_one_agency_one_wins(two_stores: tuple[Store, Store]) -> None:
    first, second = two_stores
    first.acquire_leases(["warm-up"], "w", T0, TTL)  # both stores have their tables and connections ready
    second.list_leases()
    results: list[tuple[str, bool]] = []
    barrier = threading.Barrier(6)

    def acquire(store: Store, holder: str) -> None:
        barrier.wait()
        results.append((holder, store.acquire_leases(["bst", "dai"], holder, T0, TTL)))

    threads = [threading.Thread(target=acquire, args=(s, f"h{i}")) for i, s in enumerate((first, second) * 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [holder for holder, won in results if won]
    assert len(winners) == 1
    assert {lease.holder for lease in first.list_leases() if lease.agency_id in ("bst", "dai")} == set(winners)


def test_two_schedulers_on_one_database_run_a_due_slot_once(two_stores: tuple[Store, Store], tmp_path: Path) -> None:
    first, second = two_stores
    clock = Clock(T0 + timedelta(days=1))
    portals = [make_portal_context(tmp_path, store, clock) for store in (first, second)]
    gates = [threading.Event(), threading.Event()]
    launchers = [fake_launcher(p, FakeCollector(g)) for p, g in zip(portals, gates, strict=True)]
    ids = [
        first.add_schedule(cron, HCM, "officer1", T0, agency_id="baosoctrang").id
        for cron in ("0 * * * *", "30 * * * *")  # the same agency, both due
    ]
    outcomes = []
    barrier = threading.Barrier(2)

    def tick(portal: Portal) -> None:
        barrier.wait()
        outcomes.extend(Scheduler(portal).tick())

    threads = [threading.Thread(target=tick, args=(p,)) for p in portals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for gate in gates:
        gate.set()
    assert all(launcher.wait(10) for launcher in launchers)
    assert sorted(o.schedule_id for o in outcomes) == ids  # each slot handled once, by one process
    assert [o.reason for o in outcomes if o.run_id is None] == ["agency_busy"]  # the second run would overlap
    assert len(first.list_runs()) == 1
    assert {a.action for a in first.list_activity() if a.actor == "scheduler"} == {"run_start", "run_skipped"}


# -- the command line ----------------------------------------------------------------------------------------------


def test_the_schedule_command_adds_lists_pauses_resumes_and_removes(tmp_path: Path) -> None:
    import getpass

    from typer.testing import CliRunner

    from auditor.cli.schedule import schedule_app

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    inventory = write_inventory(tmp_path / "inventory.yml")
    cli = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = cli.invoke(schedule_app, [*args, "--db", db, "--lang", "en"], env={"COLUMNS": "200"})
        return result.exit_code, result.output

    code, out = run(
        "add", "--cron", "0 2 * * 1", "--agency", "baosoctrang", "--only", "ssh", "--inventory", str(inventory)
    )
    assert code == 0 and "schedule 1 added: baosoctrang, ssh only, next" in out
    assert run("add", "--cron", "0 2 * * 1", "--agency", "nowhere", "--inventory", str(inventory))[0] == 3
    assert run("add", "--cron", "0 2 * * 1", "--agency", "baosoctrang")[0] == 3  # not in the store, no inventory given
    code, out = run("add", "--cron", "61 2 * * *")
    assert code == 3 and "a value is out of range" in out
    code, out = run("add", "--cron", "0 2 * * 1", "--timezone", "Mars/Olympus")
    assert code == 3 and "unknown timezone" in out
    code, out = run("add", "--cron", "@daily", "--timezone", "UTC")
    assert code == 0 and "every agency" in out
    code, out = run("list")
    assert code == 0 and "0 2 * * 1" in out and "Asia/Ho_Chi_Minh" in out and "+07" in out and "@daily" in out
    assert run("pause", "1") == (0, "schedule 1 paused\n")
    assert "paused" in run("list")[1]
    in_vietnamese = cli.invoke(schedule_app, ["list", "--db", db], env={"COLUMNS": "200", "AUDITOR_LANG": "vi"})
    assert "tạm dừng" in in_vietnamese.output and "(mọi cơ quan)" in in_vietnamese.output
    assert run("resume", "1")[0] == 0
    assert run("remove", "2") == (0, "schedule 2 removed\n")
    assert run("remove", "2")[0] == 3
    store = open_store(db)
    try:
        actions = [(a.action, a.target) for a in reversed(store.list_activity())]
        assert actions == [
            ("schedule_add", "schedule:1"),
            ("schedule_add", "schedule:2"),
            ("schedule_pause", "schedule:1"),
            ("schedule_resume", "schedule:1"),
            ("schedule_remove", "schedule:2"),
        ]
        assert {a.actor for a in store.list_activity()} == {f"cli:{getpass.getuser()}"}
        assert [s.id for s in store.list_schedules()] == [1]
    finally:
        store.close()
