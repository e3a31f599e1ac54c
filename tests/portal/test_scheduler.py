"""Schedules, "audit now", the run pages and their live progress, through the portal's pages (no lab: the
audit service runs with a fake collector and no network agents)."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from auditor.portal.context import Portal
from auditor.scheduler.launcher import Launcher
from auditor.scheduler.progress import progress_of
from auditor.store import RunStatus
from tests.portal.support import PortalHarness, csrf_of, make_portal
from tests.unit.test_schedule_cron import FakeCollector, fake_launcher, wait_for


@pytest.fixture
def harness(tmp_path: Path) -> PortalHarness:
    return make_portal(tmp_path)


def _portal(harness: PortalHarness) -> Portal:
    portal: Portal = harness.app.state.portal
    return portal


def _launcher(harness: PortalHarness, gate: threading.Event | None = None) -> Launcher:
    return fake_launcher(_portal(harness), FakeCollector(gate))


def _events(body: str) -> list[tuple[str, dict[str, Any], int | None]]:
    """(event name, data, id) of each server-sent event in a stream's body."""
    found = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"]), int(fields["id"]) if "id" in fields else None))
    return found


def _has_event(harness: PortalHarness, run_id: str, kind: str) -> bool:
    snapshot = progress_of(_portal(harness)).read(run_id)
    return snapshot is not None and any(event["kind"] == kind for _seq, event in snapshot.events)


# -- schedules -----------------------------------------------------------------------------------------------------


def test_the_officer_adds_pauses_resumes_and_removes_a_schedule(harness: PortalHarness) -> None:
    client = harness.signed_in("officer1")
    csrf = csrf_of(client, "/schedules")
    answer = client.post(
        "/schedules",
        data={"csrf_token": csrf, "cron": "0 2 * * 1", "agency": "baosoctrang", "timezone": "", "only": "ssh"}
        | {"timezone": "Asia/Ho_Chi_Minh"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/schedules"
    (row,) = harness.store.list_schedules()
    assert (row.cron, row.agency_id, row.only_agent, row.created_by) == ("0 2 * * 1", "baosoctrang", "ssh", "officer1")
    page = client.get("/schedules").text
    assert "07/12/2026 02:00" in page  # the next Monday at 02:00, Viet Nam time (the clock says 1 Dec 2026)
    assert f'action="/schedules/{row.id}/pause"' in page

    for action in ("pause", "resume", "remove"):
        assert client.post(f"/schedules/{row.id}/{action}", data={"csrf_token": csrf}).status_code == 303
        if action == "pause":
            assert harness.store.get_schedule(row.id).paused
            assert f'action="/schedules/{row.id}/resume"' in client.get("/schedules").text
    assert harness.store.list_schedules() == []
    assert f'id="schedule-{row.id}"' not in client.get("/schedules").text
    entries = [a for a in harness.store.list_activity() if a.action.startswith("schedule_")]
    assert [a.action for a in reversed(entries)] == [
        "schedule_add",
        "schedule_pause",
        "schedule_resume",
        "schedule_remove",
    ]
    assert {(a.actor, a.target, a.role) for a in entries} == {("officer1", f"schedule:{row.id}", "officer")}
    assert entries[-1].detail == {
        "cron": "0 2 * * 1",
        "timezone": "Asia/Ho_Chi_Minh",
        "agency_id": "baosoctrang",
        "only": "ssh",
    }
    assert client.post(f"/schedules/{row.id}/pause", data={"csrf_token": csrf}).status_code == 404


def test_a_schedule_for_every_agency(harness: PortalHarness) -> None:
    client = harness.signed_in("officer1")
    answer = client.post(
        "/schedules", data={"csrf_token": csrf_of(client, "/schedules"), "cron": "@daily", "agency": "*"}
    )
    assert answer.status_code == 303
    (row,) = harness.store.list_schedules()
    assert (row.agency_id, row.timezone, row.only_agent) == (None, "Asia/Ho_Chi_Minh", None)


def test_a_wrong_schedule_is_refused_with_every_reason_in_the_pages_language(harness: PortalHarness) -> None:
    client = harness.signed_in("officer1")
    data = {"csrf_token": csrf_of(client, "/schedules"), "cron": "61 2 * *", "agency": "nowhere", "timezone": "Mars/X"}
    answer = client.post("/schedules", data=data | {"only": "everything"})
    assert answer.status_code == 422
    for words in ("Biểu thức cron không hợp lệ", "Múi giờ không hợp lệ", "không có trong danh mục", "Phần kiểm tra"):
        assert words in answer.text
    assert 'value="61 2 * *"' in answer.text  # what was typed is kept
    client.cookies.set("auditor_lang", "en")
    try:
        english = client.post("/schedules", data=data).text
    finally:
        client.cookies.delete("auditor_lang")
    assert "Invalid cron expression" in english and "Unknown timezone" in english
    assert harness.store.list_schedules() == []
    assert not [a for a in harness.store.list_activity() if a.action == "schedule_add"]


def test_schedules_belong_to_the_officer_and_changes_need_the_csrf_token(harness: PortalHarness) -> None:
    row = harness.store.add_schedule("0 2 * * 1", "Asia/Ho_Chi_Minh", "officer1", harness.clock.now)
    department = harness.signed_in("lanhdao")
    token = csrf_of(department, "/runs")
    assert department.get("/schedules").status_code == 403
    assert (
        department.post("/schedules", data={"csrf_token": token, "cron": "0 2 * * 1", "agency": "*"}).status_code == 403
    )
    assert department.post(f"/schedules/{row.id}/remove", data={"csrf_token": token}).status_code == 403
    agency = harness.signed_in("bst-it")
    assert agency.get("/schedules").status_code == 403
    officer = harness.signed_in("officer1")
    assert officer.post(f"/schedules/{row.id}/pause").status_code == 403
    assert officer.post(f"/schedules/{row.id}/remove", data={"csrf_token": "forged"}).status_code == 403
    assert harness.store.get_schedule(row.id).paused is False


# -- audit now -----------------------------------------------------------------------------------------------------


def test_audit_now_runs_in_the_background_and_calls_the_after_run_hooks(harness: PortalHarness) -> None:
    launcher = _launcher(harness)
    ended: list[tuple[str, tuple[str, ...]]] = []
    _portal(harness).after_run_hooks.append(lambda run_id, agencies: ended.append((run_id, agencies)))
    client = harness.signed_in("officer1")
    answer = client.post("/runs", data={"csrf_token": csrf_of(client, "/runs"), "agency": "baosoctrang", "only": "ssh"})
    assert answer.status_code == 303
    run_id = answer.headers["location"].removeprefix("/runs/")
    assert launcher.wait(10)
    run = harness.store.get_run(run_id)
    assert run.status is RunStatus.completed and run.options["started_by"] == "officer1"
    assert run.targets.servers_ok == 1 and sum(run.finding_counts.values()) > 0
    assert ended == [(run_id, ("baosoctrang",))]
    assert harness.store.list_leases() == []
    (entry,) = harness.store.list_activity(action="run_start")
    assert (entry.actor, entry.target, entry.agency_id) == ("officer1", run_id, "baosoctrang")
    assert entry.detail == {"agency_id": "baosoctrang", "only": "ssh"}
    runs_page = client.get("/runs").text
    assert f'href="/runs/{run_id}"' in runs_page and "officer1" in runs_page
    run_page = client.get(f"/runs/{run_id}")
    assert run_page.status_code == 200 and "baosoctrang-web" in run_page.text
    assert 'id="live"' not in run_page.text  # finished: no live section


def test_audit_now_of_an_agency_being_audited_is_refused(harness: PortalHarness) -> None:
    gate = threading.Event()
    launcher = _launcher(harness, gate)
    client = harness.signed_in("officer1")
    csrf = csrf_of(client, "/runs")
    first = client.post("/runs", data={"csrf_token": csrf, "agency": "baosoctrang", "only": "ssh"})
    run_id = first.headers["location"].removeprefix("/runs/")
    try:
        again = client.post("/runs", data={"csrf_token": csrf, "agency": "baosoctrang", "only": "ssh"})
        assert again.status_code == 409
        assert "đang được một lượt kiểm tra khác thực hiện" in again.text and f'href="/runs/{run_id}"' in again.text
        everyone = client.post("/runs", data={"csrf_token": csrf, "agency": "*", "only": "ssh"})
        assert everyone.status_code == 409  # all agencies include the busy one: none is taken
        other = client.post("/runs", data={"csrf_token": csrf, "agency": "dai-ptth", "only": "ssh"})
        assert other.status_code == 303  # another agency may be audited at the same time
        listing = client.get("/runs").text
        assert listing.count("đang chạy tại máy chủ này") == 2  # both runs are marked as running here
        assert 'id="leases"' in listing
    finally:
        gate.set()
    assert launcher.wait(10)
    assert len(harness.store.list_activity(action="run_start")) == 2


def test_audit_now_refuses_unknown_agencies_and_agents(harness: PortalHarness) -> None:
    _launcher(harness)
    client = harness.signed_in("officer1")
    csrf = csrf_of(client, "/runs")
    assert client.post("/runs", data={"csrf_token": csrf, "agency": "nowhere"}).status_code == 422
    assert client.post("/runs", data={"csrf_token": csrf, "agency": "*", "only": "nmap"}).status_code == 422
    assert client.post("/runs", data={"csrf_token": csrf}).status_code == 422
    assert len(harness.store.list_runs()) == 1  # the harness's own run only


def test_audit_now_with_an_unreadable_inventory_says_so(harness: PortalHarness) -> None:
    _launcher(harness)
    client = harness.signed_in("officer1")
    csrf = csrf_of(client, "/runs")
    _portal(harness).config.inventory.write_text("agencies: [oops", encoding="utf-8")
    assert "Không đọc được tệp danh mục cơ quan" in client.get("/runs").text
    answer = client.post("/runs", data={"csrf_token": csrf, "agency": "*"})
    assert answer.status_code == 422 and answer.text.count("Không đọc được tệp danh mục cơ quan") == 1
    assert harness.store.list_leases() == [] and len(harness.store.list_runs()) == 1


def test_the_department_reads_runs_but_cannot_start_one(harness: PortalHarness) -> None:
    launcher = _launcher(harness)
    department = harness.signed_in("lanhdao")
    page = department.get("/runs")
    assert page.status_code == 200 and 'action="/runs"' not in page.text  # no "audit now" form
    token = csrf_of(department, "/runs")
    assert department.post("/runs", data={"csrf_token": token, "agency": "baosoctrang"}).status_code == 403
    assert launcher.active() == 0 and harness.store.list_activity(action="run_start") == []
    run_id = harness.store.list_runs()[0].id
    assert department.get(f"/runs/{run_id}").status_code == 200
    agency = harness.signed_in("bst-it")
    assert agency.get("/runs").status_code == 403
    assert agency.get(f"/runs/{run_id}").status_code == 403
    assert agency.get(f"/runs/{run_id}/events").status_code == 403


# -- live progress -------------------------------------------------------------------------------------------------


def test_the_event_stream_follows_a_running_run_until_it_ends(harness: PortalHarness) -> None:
    gate = threading.Event()
    launcher = _launcher(harness, gate)
    officer = harness.signed_in("officer1")
    answer = officer.post("/runs", data={"csrf_token": csrf_of(officer, "/runs"), "agency": "*", "only": "ssh"})
    run_id = answer.headers["location"].removeprefix("/runs/")
    page = officer.get(f"/runs/{run_id}").text
    assert f'data-events="/runs/{run_id}/events"' in page and '<script src="/static/portal.js" defer></script>' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script (the CSP forbids it)

    streamed: dict[str, Any] = {}
    reader = harness.signed_in("lanhdao")  # the department follows it too

    def follow() -> None:
        response = reader.get(f"/runs/{run_id}/events")
        streamed.update(status=response.status_code, type=response.headers["content-type"], body=response.text)

    thread = threading.Thread(target=follow)
    try:
        wait_for(lambda: _has_event(harness, run_id, "host_started"))
        thread.start()
        time.sleep(1.0)
        assert thread.is_alive()  # the stream stays open while the run goes on
    finally:
        gate.set()
    thread.join(15)
    assert not thread.is_alive() and launcher.wait(10)
    assert streamed["status"] == 200 and streamed["type"].startswith("text/event-stream")
    events = _events(streamed["body"])
    kinds = [name for name, _data, _id in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.count("host_started") == 2 and kinds.count("host_finished") == 4  # 2 servers, 2 agencies' items
    finished = [data for name, data, _id in events if name == "host_finished" and data["target_kind"] == "host"]
    assert {d["host_name"] for d in finished} == {"baosoctrang-web", "dai-ptth-web"}
    assert all(d["status"] == "ok" and sum(d["counts"].values()) > 0 for d in finished)
    assert events[-1][1]["status"] == "completed" and events[-1][1]["tally"]["servers_ok"] == 2
    ids = [event_id for _name, _data, event_id in events if event_id is not None]
    assert len(ids) == len(events) and ids == sorted(ids) and len(set(ids)) == len(ids)

    # a browser reconnecting with the last id it saw gets only what came after it
    resumed = _events(reader.get(f"/runs/{run_id}/events", headers={"last-event-id": str(ids[-2])}).text)
    assert [name for name, _data, _id in resumed] == ["run_finished"]


def test_the_stream_of_a_run_not_running_here_ends_at_once(harness: PortalHarness) -> None:
    client = harness.signed_in("lanhdao")
    finished = harness.store.list_runs()[0].id
    (event,) = _events(client.get(f"/runs/{finished}/events").text)
    assert event[0] == "run_finished" and event[1]["status"] == "completed"
    running = harness.store.start_run("test", "test", "0" * 64, {})  # another server process's run
    (event,) = _events(client.get(f"/runs/{running}/events").text)
    assert event[0] == "elsewhere"
    page = client.get(f"/runs/{running}").text
    assert 'id="live"' in page and "trang tự tải lại sau 20 giây" in page
    assert client.get("/runs/r-19990101-000000-0000/events").status_code == 404
    assert client.get("/runs/r-19990101-000000-0000").status_code == 404


def test_the_run_pages_speak_english_too(harness: PortalHarness) -> None:
    _launcher(harness)
    client: TestClient = harness.signed_in("officer1")
    client.cookies.set("auditor_lang", "en")
    try:
        runs = client.get("/runs").text
        assert "Audit now" in runs and "Audit runs" in runs and "Kiểm tra ngay" not in runs
        run_id = harness.store.list_runs()[0].id
        assert "Servers observed" in client.get(f"/runs/{run_id}").text
        assert "Scheduled audits" in client.get("/schedules").text
    finally:
        client.cookies.delete("auditor_lang")


# -- how runs end, in each language --------------------------------------------------------------------------------


def test_a_run_left_running_by_a_stopped_portal_is_interrupted_when_the_portal_starts(harness: PortalHarness) -> None:
    store, now = harness.store, harness.clock.now
    orphan = store.start_run("test", "test", "0" * 64, {"started_by": "scheduler"})
    assert store.acquire_leases(["baosoctrang"], "old-portal:1:ab", now - timedelta(hours=2), timedelta(minutes=3))
    store.renew_leases("old-portal:1:ab", now - timedelta(hours=2), timedelta(minutes=3), orphan)
    from_cli = store.start_run("test", "test", "0" * 64, {})  # no lease: maybe alive elsewhere, left alone
    with harness.client():  # the app starts (its lifespan), as `auditor serve` does
        pass
    assert store.get_run(orphan).status is RunStatus.interrupted
    assert store.get_run(orphan).status_detail == "process_stopped"
    assert store.get_run(from_cli).status is RunStatus.running
    assert store.list_leases() == []

    client = harness.signed_in("lanhdao")
    page = client.get(f"/runs/{orphan}").text
    assert ">bị gián đoạn<" in page and "tiến trình chạy lượt đánh giá đã dừng" in page
    assert "process_stopped" not in page and ">interrupted<" not in page
    client.cookies.set("auditor_lang", "en")
    try:
        page = client.get(f"/runs/{orphan}").text
        assert ">interrupted<" in page and "the process running it stopped" in page
    finally:
        client.cookies.delete("auditor_lang")


def test_every_final_status_has_its_name_in_each_language_and_reasons_are_inert(harness: PortalHarness) -> None:
    store = harness.store
    with_errors = store.start_run("test", "test", "0" * 64, {})
    store.finish_run(with_errors, RunStatus.completed_with_errors)
    failed = store.start_run("test", "test", "0" * 64, {})
    store.finish_run(failed, RunStatus.failed, "OperationalError: server \u202etxt.exe closed\x1b[2J")
    running = store.start_run("test", "test", "0" * 64, {})
    client = harness.signed_in("lanhdao")

    listing = client.get("/runs").text
    assert ">hoàn tất, có lỗi<" in listing and ">lỗi<" in listing
    assert ">completed_with_errors<" not in listing and ">failed<" not in listing
    page = client.get(f"/runs/{failed}").text
    assert "OperationalError: server \\u202etxt.exe closed\\x1b[2J" in page and "\u202e" not in page
    live = client.get(f"/runs/{running}").text  # what the live progress names a run's end with
    assert 'data-t-run-completed_with_errors="hoàn tất, có lỗi"' in live
    client.cookies.set("auditor_lang", "en")
    try:
        assert ">completed with errors<" in client.get("/runs").text
    finally:
        client.cookies.delete("auditor_lang")
