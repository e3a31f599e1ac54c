"""Two real portal processes (`auditor serve`) on one PostgreSQL database, auditing a real lab host.

Both processes find the same schedules due at start (slots missed while no server ran). Each slot is
claimed by one process only, and while the run of the lab agency is going no other run of that agency
starts, in either process: the second due schedule is skipped (logged) and "audit now" is refused by both.
Then an officer starts an audit through the HTTP API (sign in, CSRF, POST /runs), follows its progress
events and finds its findings stored. The lab host is reached through a delay proxy so that a run lasts
long enough (several seconds) to be overlapped on purpose."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from auditor.portal.security import hash_password
from auditor.store import RunStatus, Store, open_store
from bench.delay_proxy import DelayProxy
from tests.integration.conftest import run_cli
from tests.integration.serving import Server, serving
from tests.localnet import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.postgres]

PASSWORD = "correct horse battery staple"
DELAY_MS = 500  # each way: an SSH audit of the lab host takes several seconds instead of one
AGENCY = "lab"


@pytest.fixture
def slow_lab_host(lab, tmp_path: Path) -> Iterator[tuple[Path, Path]]:  # type: ignore[no-untyped-def]
    """An inventory of one agency with labh1 behind a delay proxy, and a known-hosts file enrolled for it."""
    labh1 = next(host for host in lab.hosts if host.name == "labh1")
    with DelayProxy((labh1.address, labh1.port), delay_ms=DELAY_MS) as proxy:
        host = {
            "name": "labh1",
            "address": "127.0.0.1",
            "port": proxy.port,
            "user": labh1.user,
            "key_file": str(lab.key_file),
            "sudo": True,
            "roles": ["web"],
        }
        agency = {"id": AGENCY, "name": {"vi": "Phòng thí nghiệm", "en": "Lab"}, "hosts": [host]}
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(yaml.safe_dump({"agencies": [agency]}, allow_unicode=True), encoding="utf-8")
        known_hosts = tmp_path / "known_hosts"
        call = run_cli("hosts", "trust", "--inventory", str(inventory), "--known-hosts", str(known_hosts), "--yes")
        assert call.returncode == 0, call.stderr
        yield inventory, known_hosts


@pytest.fixture
def servers(pg_url: str, slow_lab_host: tuple[Path, Path], tmp_path: Path) -> Iterator[list[Server]]:
    """Two `auditor serve` processes on one database; schedules and the officer are made before they start."""
    inventory, known_hosts = slow_lab_host
    store = open_store(pg_url)
    now = datetime.now(UTC)
    store.add_user("officer1", "Officer", "officer", hash_password(PASSWORD), now)
    # Two daily schedules of the same agency, made three days ago: both have a slot missed while no server ran.
    for cron in ("0 3 * * *", "0 4 * * *"):
        store.add_schedule(
            cron, "Asia/Ho_Chi_Minh", "officer1", now - timedelta(days=3), agency_id=AGENCY, only_agent="ssh"
        )
    store.close()
    arguments = [
        ["--inventory", str(inventory), "--known-hosts", str(known_hosts), "--db", pg_url,
         "--secret-file", str(tmp_path / "portal.key")]
    ] * 2  # fmt: skip
    with serving(arguments, tmp_path, env={"AUDITOR_SCHEDULER_INTERVAL_S": "1"}) as started:
        yield started


def _scheduler_entries(store: Store) -> list[Any]:
    return [a for a in store.list_activity() if a.actor == "scheduler"]


def _follow(client: httpx.Client, run_id: str, timeout: float = 90) -> list[tuple[str, dict[str, Any]]]:
    """The run's progress events until run_finished (reconnecting with Last-Event-ID, as a browser does)."""
    events: list[tuple[str, dict[str, Any]]] = []
    last_id = "0"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with client.stream("GET", f"/runs/{run_id}/events", headers={"last-event-id": last_id}) as answer:
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
            name = None
            for line in answer.iter_lines():
                if line.startswith("id: "):
                    last_id = line[4:]
                elif line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name is not None:
                    events.append((name, json.loads(line[6:])))
                    if name in ("run_finished", "elsewhere"):
                        return events
    raise AssertionError(f"no run_finished event within {timeout} s: {events}")


def test_two_servers_run_a_due_slot_once_and_never_overlap_runs_of_an_agency(
    servers: list[Server], pg_url: str
) -> None:
    store = open_store(pg_url)
    try:
        # -- the missed slots: exactly one run starts, the other due slot is skipped (the agency is busy)
        started = wait_for(lambda: [a for a in _scheduler_entries(store) if a.action == "run_start"], 60, "a run_start")
        run_id = started[0].target
        clients = [server.client("officer1", PASSWORD) for server in servers]
        # while that run goes on, neither process starts another run of the agency
        for client, csrf in clients:
            refused = client.post("/runs", data={"csrf_token": csrf, "agency": AGENCY, "only": "ssh"})
            assert refused.status_code == 409, refused.text
            assert f'href="/runs/{run_id}"' in refused.text
        assert store.get_run(run_id).status is RunStatus.running  # the refusals happened during the run
        (lease,) = store.list_leases()
        assert (lease.agency_id, lease.run_id) == (AGENCY, run_id)
        wait_for(lambda: store.get_run(run_id).status is not RunStatus.running, 90, "the scheduled run to end")
        time.sleep(3)  # several more checks of both schedulers: nothing else is due
        entries = _scheduler_entries(store)
        assert sorted(a.action for a in entries) == ["run_skipped", "run_start"], entries
        assert sorted(a.detail["schedule_id"] for a in entries) == [1, 2]  # each slot handled once, by one process
        (skipped,) = [a for a in entries if a.action == "run_skipped"]
        assert skipped.detail["reason"] == "agency_busy"
        assert skipped.detail["busy"] in ({AGENCY: run_id}, {AGENCY: None})  # None: the lease was taken, run starting
        runs = store.list_runs()
        assert [r.id for r in runs] == [run_id]
        scheduled = runs[0]
        assert scheduled.status is RunStatus.completed and scheduled.options["started_by"] == "scheduler"
        assert scheduled.targets.servers_ok == 1 and scheduled.finding_counts["pass"] > 0
        assert store.list_leases() == []

        # -- audit now, through the second process's HTTP API, followed live
        client, csrf = clients[1]
        answer = client.post("/runs", data={"csrf_token": csrf, "agency": AGENCY, "only": "ssh"})
        assert answer.status_code == 303, answer.text
        now_id = answer.headers["location"].removeprefix("/runs/")
        assert now_id != run_id
        events = _follow(client, now_id)
        kinds = [name for name, _data in events]
        assert kinds[0] == "run_started" and kinds[-1] == "run_finished", kinds
        (host,) = [data for name, data in events if name == "host_finished" and data["target_kind"] == "host"]
        assert host["host_name"] == "labh1" and host["status"] == "ok" and host["counts"]["pass"] > 0
        assert events[-1][1]["status"] == "completed"
        audited = store.get_run(now_id)
        assert audited.status is RunStatus.completed and audited.options["started_by"] == "officer1"
        findings = store.list_findings(now_id)
        assert {f.host_name for f in findings} >= {"labh1"}
        assert {f.status.value for f in findings if f.host_name == "labh1"} >= {"pass", "fail"}
        page = client.get(f"/runs/{now_id}")
        assert page.status_code == 200 and "labh1" in page.text
        (entry,) = [a for a in store.list_activity(action="run_start") if a.actor == "officer1"]
        assert entry.target == now_id
        assert len(_scheduler_entries(store)) == 2  # the schedulers started nothing meanwhile
        assert store.list_leases() == []
        for other, _csrf in clients:
            other.close()
    finally:
        store.close()
