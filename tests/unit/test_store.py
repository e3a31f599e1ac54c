"""Tests for auditor.store: SQLite always; PostgreSQL when AUDITOR_TEST_PG_URL is set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, String, text, update
from sqlalchemy.exc import IntegrityError

from auditor.errors import NotFoundError, StoreError
from auditor.evaluation.findings import Finding, HostResult, HostStatus
from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome
from auditor.inventory import Agency
from auditor.store import RunStatus, Store, open_store
from auditor.store.db import HEAD_REVISION, head_revision, mask_url
from auditor.store.schema import Base, EvidenceRecord
from auditor.vocabulary import LocalizedText, RequirementRef, Severity, Status

REPO_ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 11, 30, 6, 15, 2, tzinfo=UTC)  # in the past: hosts look finished
NASTY = b"\x00\xff\xfe ok \xc3\x28 \x00\x00 Vi\xe1\xbb\x87t Nam \x80\n" + bytes(range(256))


# -- fixtures ------------------------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'audit.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    opened = open_store(sqlite_url)
    try:
        yield opened
    finally:
        opened.close()


# -- builders ------------------------------------------------------------------------------------------------------


def make_agency(agency_id: str = "vtv", vi: str = "Đài Truyền hình Việt Nam", en: str = "Vietnam Television") -> Agency:
    return Agency(id=agency_id, name=LocalizedText(vi=vi, en=en))


def observation(probe_id: str, stdout: bytes = b"", stderr: bytes = b"", exit_code: int | None = 0) -> Observation:
    return Observation(
        probe_id=probe_id,
        command=f"cat /etc/{probe_id}",
        outcome=ProbeOutcome.completed if exit_code is not None else ProbeOutcome.timed_out,
        exit_code=exit_code,
        stdout=stdout,
        stderr=stderr,
        duration_s=0.25,
        truncated=False,
        collected_at=T0 + timedelta(seconds=1),
    )


def finding(check_id: str, status: Status, probe_id: str | None) -> Finding:
    return Finding(
        check_id=check_id,
        status=status,
        severity=Severity.high,
        observed=f"observed {check_id}",
        expected="PermitRootLogin == no",
        reason=LocalizedText(vi=f"Lý do {check_id}", en=f"Reason {check_id}"),
        requirements=(RequirementRef(framework="TCVN 11930:2017", clause="7.2.2.1"),),
        evidence_probe_id=probe_id,
    )


def ok_host(agency_id: str = "vtv", host_name: str = "web-01") -> HostResult:
    return HostResult(
        agency_id=agency_id,
        host_name=host_name,
        address="10.0.0.1",
        status=HostStatus.ok,
        facts=HostFacts(hostname=host_name, os_id="debian", os_version="12", os_family="debian", uid=0),
        exec_requests=1,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=3),
        observations=(
            observation("sshd", stdout=b"PermitRootLogin yes\n"),
            observation("nasty", stdout=NASTY, stderr=NASTY[::-1], exit_code=3),
            observation("empty", exit_code=None),
        ),
        findings=(
            finding("ssh.root_login", Status.failed, "sshd"),
            finding("fs.weird", Status.passed, "nasty"),
            finding("policy.doc", Status.manual, None),
        ),
    )


def error_host(agency_id: str = "vtv", host_name: str = "db-01") -> HostResult:
    return HostResult(
        agency_id=agency_id,
        host_name=host_name,
        address="10.0.0.2",
        status=HostStatus.error,
        error_reason="host_key_unknown",
        error_detail="host key for 10.0.0.2 is not in known_hosts",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=1),
        findings=(
            finding("ssh.root_login", Status.error, None),
            finding("fs.weird", Status.error, None),
        ),
    )


def start(store: Store, started_at: datetime | None = None) -> str:
    return store.start_run(
        "0.1.0", "2026.11", "ab" * 32, {"concurrency": 4, "filters": ["ssh.*"]}, started_at=started_at
    )


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


# -- round trip (SQLite and PostgreSQL) ------------------------------------------------------------------------------


def test_round_trip(any_url: str) -> None:
    with open_store(any_url) as store:
        run_id = start(store)
        store.save_host_result(run_id, make_agency(), ok_host())
        store.save_host_result(run_id, make_agency(vi="Đài THVN", en="VTV"), error_host())
        # a target ended in error: "completed" is recorded as completed_with_errors, whoever closes the run
        assert store.finish_run(run_id, RunStatus.completed) is RunStatus.completed_with_errors

        run = store.get_run(run_id)
        assert run.status is RunStatus.completed_with_errors and run.status_detail is None
        assert (run.targets.servers_ok, run.targets.servers_error) == (1, 1)
        assert run.finding_counts == {"pass": 1, "fail": 1, "error": 2, "not_applicable": 0, "manual": 1}
        assert run.options == {"concurrency": 4, "filters": ["ssh.*"]}
        assert_utc(run.started_at)
        assert_utc(run.finished_at)

        hosts = store.list_run_hosts(run_id)
        assert [h.host_name for h in hosts] == ["db-01", "web-01"]
        db, web = hosts
        assert db.status is HostStatus.error and db.error_reason == "host_key_unknown" and db.facts is None
        assert web.facts is not None and web.facts.os_family == "debian" and web.exec_requests == 1
        assert web.agency_name.en == "VTV"  # the latest names win
        assert web.started_at == T0 and web.finished_at == T0 + timedelta(seconds=3)
        assert_utc(web.started_at)
        assert web.finding_counts["fail"] == 1 and db.finding_counts["error"] == 2

        findings = store.list_findings(run_id)
        assert len(findings) == 5
        assert {f.host_name for f in store.list_findings(run_id, status=Status.error)} == {"db-01"}
        assert [f.check_id for f in store.list_findings(run_id, host_name="web-01")] == [
            "fs.weird",
            "policy.doc",
            "ssh.root_login",
        ]
        assert len(store.list_findings(run_id, check_id="ssh.root_login", agency_id="vtv")) == 2
        assert store.list_findings(run_id, agency_id="nobody") == []

        failed = store.list_findings(run_id, status="fail")[0]
        assert failed.reason == LocalizedText(vi="Lý do ssh.root_login", en="Reason ssh.root_login")
        assert failed.requirements == (RequirementRef(framework="TCVN 11930:2017", clause="7.2.2.1"),)
        evidence = store.get_evidence(failed.id)
        assert (
            evidence.probe_id == "sshd"
            and evidence.host_name == "web-01"
            and evidence.host == "web-01"
            and evidence.run_id == run_id
        )
        assert evidence.stdout == b"PermitRootLogin yes\n" and evidence.exit_code == 0
        assert evidence.sha256 == observation("sshd", stdout=b"PermitRootLogin yes\n").sha256
        assert_utc(evidence.collected_at)
        assert store.verify_evidence(evidence.id)

        weird = store.list_findings(run_id, check_id="fs.weird", status=Status.passed)[0]
        raw = store.get_evidence(weird.id)
        assert raw.stdout == NASTY and raw.stderr == NASTY[::-1] and raw.exit_code == 3
        assert store.verify_evidence(raw.id)

        manual = store.list_findings(run_id, status=Status.manual)[0]
        assert manual.evidence_id is None
        with pytest.raises(NotFoundError):
            store.get_evidence(manual.id)

        exported = store.export_run(run_id)
        json.dumps(exported, ensure_ascii=False, allow_nan=False)
        assert exported["run"]["id"] == run_id
        assert len(exported["evidence"]) == 3 and len(exported["hosts"]) == 2 and len(exported["findings"]) == 5


# -- isolation, resolution, lifecycle -------------------------------------------------------------------------------


def test_second_run_does_not_touch_first(store: Store) -> None:
    first = start(store, T0)
    store.save_host_result(first, make_agency(), ok_host())
    store.finish_run(first, "completed")
    before = (store.get_run(first), store.list_run_hosts(first), store.list_findings(first), store.export_run(first))

    second = start(store, T0 + timedelta(days=1))
    store.save_host_result(second, make_agency(), ok_host())  # same host name in another run is fine
    store.save_host_result(second, make_agency(), error_host())
    store.finish_run(second, "failed")

    after = (store.get_run(first), store.list_run_hosts(first), store.list_findings(first), store.export_run(first))
    assert before == after
    assert store.get_run(second).targets.servers_error == 1
    assert [r.id for r in store.list_runs()] == [second, first]
    assert [r.id for r in store.list_runs(limit=1)] == [second]


def test_run_id_resolution(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no runs"):
        store.resolve_run_id("latest")
    assert store.latest_run_id() is None
    older = start(store, T0)
    newer = start(store, T0 + timedelta(hours=2))
    assert older.startswith("r-20251130-061502-") and len(older) == len("r-20251130-061502-ab12")
    assert store.latest_run_id() == newer
    assert store.resolve_run_id("latest") == newer
    assert store.resolve_run_id("LATEST") == newer
    assert store.resolve_run_id(older) == older
    assert store.resolve_run_id("r-20251130-06") == older
    assert store.resolve_run_id(newer[:-2]) == newer
    assert store.get_run("r-20251130-08").id == newer
    with pytest.raises(NotFoundError, match="ambiguous"):
        store.resolve_run_id("r-20251130")
    for unknown in ("r-1999", "nope", "%", "_", ""):
        with pytest.raises(NotFoundError):
            store.resolve_run_id(unknown)
    with pytest.raises(NotFoundError):
        store.list_findings("r-1999")


def test_finish_run_checks(store: Store) -> None:
    run_id = start(store)
    with pytest.raises(NotFoundError):
        store.finish_run("r-unknown", "completed")
    with pytest.raises(ValueError, match="finishes"):
        store.finish_run(run_id, "running")
    with pytest.raises(ValueError):
        store.finish_run(run_id, "bogus")
    assert store.finish_run(run_id, "interrupted", "stopped by Ctrl-C") is RunStatus.interrupted
    run = store.get_run(run_id)
    assert run.status is RunStatus.interrupted and run.status_detail == "stopped by Ctrl-C"
    clean = start(store)
    store.save_host_result(clean, make_agency(), ok_host())
    assert store.finish_run(clean, "completed") is RunStatus.completed  # no target in error
    assert store.get_run(clean).status is RunStatus.completed and store.get_run(clean).status_detail is None


def test_every_final_status_is_accepted_by_the_database(any_url: str) -> None:
    """The CHECK constraint and the column width follow RunStatus (completed_with_errors is 21 characters)."""
    with open_store(any_url) as store:
        for status in RunStatus:
            if status is RunStatus.running:
                continue
            run_id = start(store)
            reason = "OperationalError: gone \x00 \ud800 \\x00" if status is RunStatus.failed else None
            store.finish_run(run_id, status, reason)
            run = store.get_run(run_id)
            assert (run.status, run.status_detail) == (status, reason)
        with pytest.raises(IntegrityError), store.engine.begin() as conn:  # anything else is refused
            conn.execute(text("UPDATE runs SET status = 'bogus'"))


def test_save_host_result_rejects_bad_input(store: Store) -> None:
    run_id = start(store)
    dangling = ok_host().model_copy(update={"findings": (finding("x", Status.failed, "no-such-probe"),)})
    with pytest.raises(ValueError, match="no-such-probe"):
        store.save_host_result(run_id, make_agency(), dangling)
    with pytest.raises(ValueError, match="belongs to agency"):
        store.save_host_result(run_id, make_agency("other"), ok_host())
    with pytest.raises(NotFoundError):
        store.save_host_result("r-unknown", make_agency(), ok_host())
    assert store.list_run_hosts(run_id) == []
    store.save_host_result(run_id, make_agency(), ok_host())
    with pytest.raises(StoreError, match="web-01"):
        store.save_host_result(run_id, make_agency(), ok_host())  # the same host twice in one run
    assert len(store.list_run_hosts(run_id)) == 1
    assert len(store.list_findings(run_id)) == 3


def test_options_must_not_carry_secrets(store: Store) -> None:
    with pytest.raises(ValueError, match="secrets"):
        store.start_run("0.1.0", "x", "0" * 64, {"ssh": {"password": "hunter2"}})
    with pytest.raises(ValueError, match="JSON"):
        store.start_run("0.1.0", "x", "0" * 64, {"when": datetime.now(UTC)})
    assert store.list_runs() == []


def test_mark_stale_runs(store: Store) -> None:
    old = start(store, datetime.now(UTC) - timedelta(days=2))
    fresh = start(store)
    done = start(store, datetime.now(UTC) - timedelta(days=3))
    store.finish_run(done, "completed")
    assert store.mark_stale_runs(timedelta(hours=6)) == [old]
    assert store.get_run(old).status is RunStatus.interrupted
    assert store.get_run(old).status_detail == "no_activity"
    assert store.get_run(fresh).status is RunStatus.running
    assert store.get_run(done).status is RunStatus.completed


def test_runs_whose_leases_expired_end_interrupted_and_others_are_left_alone(any_url: str) -> None:
    ttl, now = timedelta(minutes=3), datetime.now(UTC)
    with open_store(any_url) as store:
        dead, live, cli, done = start(store), start(store), start(store), start(store)
        assert store.acquire_leases(["vtv", "vov"], "host:1:dead", now - timedelta(hours=1), ttl)
        store.renew_leases("host:1:dead", now - timedelta(hours=1), ttl, dead)  # then its process died
        assert store.acquire_leases(["live"], "host:2:live", now, ttl)
        store.renew_leases("host:2:live", now, ttl, live)
        assert store.acquire_leases(["done"], "host:3:done", now - timedelta(hours=1), ttl)
        store.renew_leases("host:3:done", now - timedelta(hours=1), ttl, done)
        store.finish_run(done, "completed")  # ended, but its lease was never released
        assert store.acquire_leases(["starting"], "host:4:starting", now - timedelta(hours=1), ttl)  # no run yet

        assert store.interrupt_orphaned_runs(now) == [dead]
        ended = store.get_run(dead)
        assert ended.status is RunStatus.interrupted and ended.finished_at is not None
        assert ended.status_detail == "process_stopped"
        assert store.get_run(live).status is RunStatus.running  # its process renews its lease
        assert store.get_run(cli).status is RunStatus.running  # no lease: nothing tells it is gone
        assert store.get_run(done).status is RunStatus.completed
        assert {lease.holder for lease in store.list_leases()} == {"host:2:live", "host:4:starting"}
        assert store.interrupt_orphaned_runs(now) == []


def test_taking_over_an_expired_lease_ends_the_run_that_held_it(any_url: str) -> None:
    ttl, now = timedelta(minutes=3), datetime.now(UTC)
    with open_store(any_url) as store:
        dead = start(store)
        assert store.acquire_leases(["vtv"], "host:1:dead", now - timedelta(hours=1), ttl)
        store.renew_leases("host:1:dead", now - timedelta(hours=1), ttl, dead)
        assert store.acquire_leases(["vtv"], "host:2:new", now, ttl)
        assert store.get_run(dead).status is RunStatus.interrupted
        assert [lease.holder for lease in store.list_leases()] == ["host:2:new"]


# -- durability and concurrency -------------------------------------------------------------------------------------

_KILLED_WORKER = """
import os, signal, sys
from datetime import UTC, datetime
sys.path.insert(0, {tests!r})
from test_store import error_host, make_agency, ok_host
from auditor.store import open_store
store = open_store({url!r})
run_id = store.start_run("0.1.0", "2026.11", "ab" * 32, {{}})
store.save_host_result(run_id, make_agency(), ok_host())
store.save_host_result(run_id, make_agency(), error_host())
print(run_id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_finished_hosts_survive_kill_9(sqlite_url: str) -> None:
    code = _KILLED_WORKER.format(tests=str(Path(__file__).parent), url=sqlite_url)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert proc.returncode == -9, proc.stderr
    run_id = proc.stdout.strip()
    with open_store(sqlite_url) as store:
        run = store.get_run("latest")
        assert run.id == run_id and run.status is RunStatus.running and run.finished_at is None
        assert (run.targets.servers_ok, run.targets.servers_error) == (1, 1)
        assert len(store.list_findings(run_id)) == 5
        evidence = store.get_evidence(store.list_findings(run_id, check_id="fs.weird", status="pass")[0].id)
        assert evidence.stdout == NASTY and store.verify_evidence(evidence.id)
        assert store.mark_stale_runs(timedelta(0)) == [run_id]
        assert store.get_run(run_id).status is RunStatus.interrupted


def test_host_visible_to_new_store_without_finish(sqlite_url: str) -> None:
    writer = open_store(sqlite_url)
    run_id = start(writer)
    writer.save_host_result(run_id, make_agency(), ok_host())
    # no finish_run and no close: another Store on the same file sees the committed host
    with open_store(sqlite_url) as reader:
        assert [h.host_name for h in reader.list_run_hosts("latest")] == ["web-01"]
        assert reader.get_run(run_id).status is RunStatus.running
    writer.close()


@pytest.mark.parametrize("stores", [1, 2], ids=["one-store", "two-stores"])
def test_concurrent_saves_from_8_threads(any_url: str, stores: int) -> None:
    opened = [open_store(any_url) for _ in range(stores)]
    run_id = start(opened[0])
    per_thread = 6
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(index: int) -> None:
        store = opened[index % stores]
        agency = make_agency(f"agency-{index % 3}", vi=f"Cơ quan {index}", en=f"Agency {index}")
        try:
            barrier.wait()
            for n in range(per_thread):
                name = f"h-{index}-{n}"
                store.save_host_result(
                    run_id, agency, ok_host(agency.id, name) if n % 2 else error_host(agency.id, name)
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    store = opened[0]
    run = store.get_run(run_id)
    assert (run.targets.servers_ok, run.targets.servers_error) == (8 * per_thread // 2, 8 * per_thread // 2)
    assert run.finding_counts["fail"] == 8 * per_thread // 2 and run.finding_counts["error"] == 8 * per_thread
    for row in store.list_findings(run_id, status="fail"):
        evidence = store.get_evidence(row.id)
        assert evidence.host_name == row.host_name and evidence.probe_id == "sshd"
    for each in opened:
        each.close()


_OPENER = """
import sys
from auditor.store import open_store
with open_store(sys.argv[1]) as store:
    print(store.start_run("0.1.0", "2026.11", "0" * 64, {}), flush=True)
"""


def test_concurrent_first_open_migrates_once(any_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, any_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, [err.decode() for _, err in outputs]
    with open_store(any_url) as store:
        assert sorted(r.id for r in store.list_runs()) == sorted(out.decode().strip() for out, _ in outputs)


def test_timestamps_are_stored_as_utc(any_url: str) -> None:
    hanoi = timezone(timedelta(hours=7))
    local = datetime(2025, 11, 30, 13, 15, 2, tzinfo=hanoi)
    naive = datetime(2025, 11, 30, 6, 15, 2)  # taken as UTC
    host = ok_host().model_copy(update={"started_at": local, "finished_at": naive})
    with open_store(any_url) as store:
        run_id = start(store, local)
        store.save_host_result(run_id, make_agency(), host)
        assert store.get_run(run_id).started_at == T0
        (row,) = store.list_run_hosts(run_id)
        assert row.started_at == T0 and row.finished_at == T0
        assert row.started_at.tzinfo == UTC and row.finished_at.tzinfo == UTC


# -- schema and migrations ------------------------------------------------------------------------------------------


def test_migrated_database_matches_orm_metadata(any_url: str) -> None:
    with open_store(any_url) as store, store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
        drifted = MetaData()
        for table in Base.metadata.sorted_tables:
            table.to_metadata(drifted)
        drifted.tables["findings"].append_column(Column("extra", Integer()))
        drifted.tables["runs"].c.tool_version.type = String(10)
        diffs = compare_metadata(MigrationContext.configure(conn), drifted)
        assert diffs, "compare_metadata must notice a drifted model"


def test_reopen_is_idempotent_and_sqlite_pragmas(sqlite_url: str) -> None:
    with open_store(sqlite_url) as first:
        run_id = start(first)
    with open_store(sqlite_url) as again, again.engine.connect() as conn:
        assert again.get_run(run_id).id == run_id
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 1000


def test_newer_schema_is_refused(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store, store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="newer"):
        open_store(sqlite_url)


def test_default_url_is_auditor_db_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store(None) as store:
        start(store)
    assert (tmp_path / "auditor.db").is_file()


def test_errors_never_show_the_password(tmp_path: Path) -> None:
    password = "s3cr3t-Pw"
    with pytest.raises(StoreError) as refused:
        open_store(f"postgresql://auditor:{password}@127.0.0.1:1/nowhere?connect_timeout=2")
    assert password not in str(refused.value) and "***" in str(refused.value)
    with pytest.raises(StoreError) as garbled:
        open_store(f"postgresql://auditor:{password}@[::1/x")
    assert password not in str(garbled.value)
    with pytest.raises(StoreError, match="unsupported"):
        open_store(f"mysql://auditor:{password}@localhost/x")
    with pytest.raises(StoreError, match="cannot open"):
        open_store(f"sqlite:///{tmp_path / 'missing-dir' / 'a.db'}")
    assert password not in mask_url(f"postgresql://auditor:{password}@db/x")
    assert password not in mask_url(f"weird url auditor:{password}@db")


# -- evidence bytes, integrity, export ------------------------------------------------------------------------------


def test_bytes_survive_exactly_and_tampering_is_detected(store: Store) -> None:
    run_id = start(store)
    blobs = {"zeros": b"\x00" * 1000, "all": bytes(range(256)) * 4, "empty": b"", "nasty": NASTY}
    host = ok_host().model_copy(
        update={
            "observations": tuple(observation(k, stdout=v, stderr=v[::-1]) for k, v in blobs.items()),
            "findings": tuple(finding(f"c.{k}", Status.passed, k) for k in blobs),
        }
    )
    store.save_host_result(run_id, make_agency(), host)
    for row in store.list_findings(run_id):
        evidence = store.get_evidence(row.id)
        assert evidence.stdout == blobs[evidence.probe_id]
        assert evidence.stderr == blobs[evidence.probe_id][::-1]
        assert store.verify_evidence(evidence.id)
    target = store.get_evidence(store.list_findings(run_id, check_id="c.nasty")[0].id)
    with store.engine.begin() as conn:
        conn.execute(update(EvidenceRecord).where(EvidenceRecord.id == target.id).values(stdout=NASTY + b"\x00"))
    assert not store.verify_evidence(target.id)
    with pytest.raises(NotFoundError):
        store.verify_evidence(10**9)
    with pytest.raises(NotFoundError):
        store.get_evidence(10**9)


def test_export_is_json_and_caps_text(store: Store) -> None:
    run_id = start(store)
    big = "ệ".encode() * 30_000  # 90,000 bytes, 3 bytes per character: the 64 KiB cut falls inside one
    host = ok_host().model_copy(
        update={
            "observations": (observation("big", stdout=big, stderr=b"\xff\x00tail"), observation("sshd")),
            "findings": (finding("c.big", Status.failed, "big"),),
        }
    )
    store.save_host_result(run_id, make_agency(), host)
    store.save_host_result(run_id, make_agency("vov", "Đài Tiếng nói Việt Nam", "Voice of Vietnam"), error_host("vov"))
    store.finish_run(run_id, "completed")

    exported = store.export_run("latest")
    encoded = json.dumps(exported, ensure_ascii=False, sort_keys=True, allow_nan=False)
    assert json.loads(encoded) == exported
    assert exported["format"] == "auditor-run-export"
    assert [a["id"] for a in exported["agencies"]] == ["vov", "vtv"]
    assert exported["agencies"][0]["name"]["vi"] == "Đài Tiếng nói Việt Nam"
    web = next(h for h in exported["hosts"] if h["host_name"] == "web-01")
    assert web["facts"]["os_id"] == "debian" and web["started_at"].startswith("2025-11-30T06:15:02")
    big_row = next(e for e in exported["evidence"] if e["probe_id"] == "big")
    assert big_row["sha256"] == observation("big", stdout=big, stderr=b"\xff\x00tail").sha256
    assert big_row["stdout"]["size"] == len(big)
    assert big_row["collected_at"] == "2025-11-30T06:15:03Z" and exported["hosts"][0]["started_at"].endswith("Z")
    kept_chars = 65536 // 3
    assert big_row["stdout"]["text"] == "ệ" * kept_chars
    assert big_row["stdout"]["omitted_bytes"] == len(big) - kept_chars * 3
    assert big_row["stderr"] == {"size": 6, "text": "\ufffd\x00tail", "omitted_bytes": 0}
    assert next(f for f in exported["findings"] if f["check_id"] == "c.big")["evidence_id"] == big_row["id"]
    assert [f["agency_id"] for f in exported["findings"]] == ["vov", "vov", "vtv"]
    assert store.export_run(run_id) == exported  # canonical: the same dump every time


# -- the queries every caller goes through (reports, CLI, portal) -----------------------------------------------------


def test_evidence_in_one_batch_says_which_rows_were_edited(store: Store) -> None:
    run_id = start(store)
    store.save_host_result(run_id, make_agency(), ok_host())
    ids = [row.evidence_id for row in store.list_findings(run_id) if row.evidence_id is not None]
    with store.engine.begin() as conn:
        conn.execute(update(EvidenceRecord).where(EvidenceRecord.id == ids[0]).values(stderr=b"edited"))
    batch = store.evidence([*ids, *ids, 10**9], verify=True)
    assert sorted(batch) == sorted(ids)  # unknown ids are simply absent, duplicates asked once
    assert [batch[i].verified for i in ids] == [False, True]
    assert {row.verified for row in store.evidence(ids, verify=False).values()} == {None}


def test_run_counts_keep_servers_apart_from_network_targets_and_agency_items(store: Store) -> None:
    run_id = start(store)
    agency = make_agency()
    store.save_host_result(run_id, agency, ok_host())
    store.save_host_result(run_id, agency, error_host())
    for name, kind, status in (
        ("agency:vtv", "agency", HostStatus.ok),
        ("tcp://10.0.0.1", "service", HostStatus.ok),
        ("tcp://10.0.0.1:443", "service", HostStatus.ok),
        ("https://vtv.example/", "website", HostStatus.error),
    ):
        target = HostResult(
            agency_id="vtv", host_name=name, kind=kind, address="", status=status, started_at=T0, finished_at=T0
        )
        store.save_host_result(run_id, agency, target)
    store.finish_run(run_id)
    (run,) = store.list_runs()
    assert run.targets.model_dump() == {
        "servers_ok": 1,
        "servers_error": 1,
        "network_ok": 2,
        "network_error": 1,
        "agencies": 1,
    }
    assert run.targets.servers == 2


def test_diff_between_runs_and_the_previous_run_of_an_agency(store: Store) -> None:
    agency = make_agency()
    first = start(store, T0)
    second = start(store, T0 + timedelta(days=7))

    def host(name: str, statuses: dict[str, Status]) -> HostResult:
        findings = tuple(finding(check, status, None) for check, status in statuses.items())
        return ok_host(host_name=name).model_copy(update={"findings": findings, "observations": ()})

    store.save_host_result(
        first, agency, host("web-01", {"a": Status.failed, "b": Status.failed, "c": Status.passed, "d": Status.failed})
    )
    store.save_host_result(second, agency, host("web-01", {"a": Status.failed, "b": Status.passed, "c": Status.error}))
    store.save_host_result(second, agency, host("web-02", {"a": Status.failed}))
    assert store.previous_run(second, "vtv") == first
    assert store.previous_run(first, "vtv") is None
    diff = store.diff_runs(second, first, "vtv")
    changes = {(e.host_name, e.check_id): (e.change, e.before, e.after) for e in diff.entries}
    assert changes == {
        ("web-01", "a"): ("still_failing", Status.failed, Status.failed),
        ("web-01", "b"): ("fixed", Status.failed, Status.passed),
        ("web-01", "c"): ("regressed", Status.passed, Status.error),
        ("web-01", "d"): ("not_rechecked", Status.failed, None),
        ("web-02", "a"): ("new", None, Status.failed),
    }
    assert [e.check_id for e in diff.of("fixed")] == ["b"]


def test_resolved_findings_apply_only_what_was_recorded_by_the_moment(store: Store) -> None:
    from auditor.governance.records import WaiverRequest

    run_id = start(store)
    store.save_host_result(run_id, make_agency(), ok_host())
    request = WaiverRequest(
        agency_id="vtv",
        host_pattern="web-*",
        check_id="ssh.root_login",
        justification="Legacy admin tool needs it until the migration.",
        compensating_control="Only reachable from the management VLAN.",
        requested_by="A",
        approved_by="B",
        expires_on=(T0 + timedelta(days=400)).date(),
    )
    waiver_id = store.add_waiver(request, T0 + timedelta(days=30))
    rows = store.list_findings(run_id)
    root = next(r for r in rows if r.check_id == "ssh.root_login")
    assert not store.resolved_findings(rows, T0 + timedelta(days=29))[root.id].waived
    later = store.resolved_findings(rows, T0 + timedelta(days=31))[root.id]
    assert later.waived and later.waiver_id == waiver_id and later.status is Status.failed


def test_the_fast_open_path_knows_the_newest_migration() -> None:
    """A store at HEAD_REVISION opens without Alembic: the constant must name the newest shipped revision."""
    assert head_revision() == HEAD_REVISION


def test_a_host_saved_twice_is_refused_in_words(store: Store) -> None:
    run_id = start(store, T0)
    store.save_host_result(run_id, make_agency(), ok_host())
    with pytest.raises(StoreError) as caught:
        store.save_host_result(run_id, make_agency(), ok_host())
    english, vietnamese = caught.value.text("en"), caught.value.text("vi")
    assert english.startswith(
        f"cannot save host '{ok_host().host_name}' for run '{run_id}' (already saved, or inconsistent"
    )
    assert vietnamese.startswith(f"không lưu được máy chủ '{ok_host().host_name}' cho lượt '{run_id}'")
    assert "cannot save" not in vietnamese and "already saved" not in vietnamese
