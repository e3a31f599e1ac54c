"""The portal's pages over realistic store data (several agencies and runs, built with the report test support):
what each role sees, agency isolation, uploads and the officer's decisions, downloads, accounts, the activity log,
escaping of what targets printed, Vietnamese pages and CSRF on every change."""

from __future__ import annotations

import csv
import importlib
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from auditor.governance.records import Answer, AttestationEntry, PreparedAttestation, PreparedDocument, WaiverRequest
from auditor.governance.resolve import ClauseState
from auditor.inventory import Agency, Contact
from auditor.portal.access import FORM_OVERHEAD_BYTES, rule_of
from auditor.portal.standings import all_standings
from auditor.reports import build_summary_report
from auditor.reports.locale import catalogue as report_catalogue
from auditor.reports.models import AgencyAssessment
from auditor.reports.render import RenderError
from auditor.store import open_store
from auditor.vocabulary import LocalizedText, Status
from tests.portal.support import PASSWORD, PortalHarness, csrf_of, make_portal, sign_in
from tests.unit.test_reports_support import (
    AGENCY,
    HOSTILE,
    T0,
    agency_result,
    automated_checks,
    content,
    host_result,
    store_run,
)

F, P, E = Status.failed, Status.passed, Status.error
DAI = Agency(id="dai-ptth", name=LocalizedText(vi="Đài PT-TH Sóc Trăng", en="Soc Trang Radio"))
OTHER = Agency(id="other", name=LocalizedText(vi="Tạp chí Khác", en="Other Magazine"))
AGENCIES = {a.id: a for a in (AGENCY, DAI, OTHER)}
PAGE_MODULES = ("dashboard", "agencies", "findings", "submissions", "users", "activity", "exports")


@dataclass
class World:
    portal: PortalHarness
    first: str  # baosoctrang and dai-ptth, 2026-10-01
    second: str  # baosoctrang and dai-ptth, 2026-11-05 (the latest of both)
    other_run: str  # the agency "other" alone
    checks: list[str]

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.portal.store

    def finding(self, run_id: str, agency_id: str, check_id: str, host: str | None = None):  # type: ignore[no-untyped-def]
        return next(
            f
            for f in self.store.list_findings(run_id, agency_id=agency_id, check_id=check_id)
            if host is None or f.host_name == host
        )


@pytest.fixture
def world(tmp_path: Path) -> World:
    """Three agencies: baosoctrang (failures, one of them hostile, and a regression), dai-ptth (everything passes,
    manual items pending), "other" (in the store only); and "tapchi", listed in the inventory, never audited."""
    store = open_store(f"sqlite:///{tmp_path / 'portal.db'}")
    a, b, c, d = automated_checks(4)
    first = store_run(
        store,
        [
            host_result("web-01", {a: F, b: P, c: F, d: P}),
            agency_result(AGENCY, T0),
            host_result("dai-web", {a: P, b: P, c: P, d: P}, agency=DAI, address="10.200.2.2"),
            agency_result(DAI, T0),
        ],
        AGENCIES,
        T0,
    )
    later = T0 + timedelta(days=35)
    second = store_run(
        store,
        [
            host_result("web-01", {a: F, b: F, c: P, d: E}, stdout={a: HOSTILE}, started=later),
            agency_result(AGENCY, later),
            host_result("dai-web", {a: P, b: P, c: P, d: P}, agency=DAI, address="10.200.2.2", started=later),
            agency_result(DAI, later),
        ],
        AGENCIES,
        later,
    )
    other_run = store_run(
        store, [host_result("x-01", {a: F, b: P}, agency=OTHER, address="10.9.9.9")], AGENCIES, T0 + timedelta(days=40)
    )
    portal = make_portal(tmp_path, store=store)
    inventory = yaml.safe_load((tmp_path / "inventory.yml").read_text(encoding="utf-8"))
    inventory["agencies"].append({"id": "tapchi", "name": {"vi": "Tạp chí Mới", "en": "New Magazine"}})
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory, allow_unicode=True), encoding="utf-8")
    return World(portal=portal, first=first, second=second, other_run=other_run, checks=[a, b, c, d])


def _visible(html: str) -> str:
    """The text a reader sees: no tags, no attribute values."""
    return re.sub(r"<[^>]+>", " ", html)


def _english_state_names() -> set[str]:
    """The English names of statuses, verdicts, run states, severities, answers and decisions."""
    report = report_catalogue("report")
    names = {e.en for k, e in report.items() if k.startswith(("status_", "verdict_", "run_status_", "severity_"))}
    pages = yaml.safe_load((Path("auditor/locale/portal_pages.yml")).read_text(encoding="utf-8"))
    names |= {v["en"] for k, v in pages.items() if k.startswith(("sub_decision_", "sub_answer_", "usr_state_"))}
    return names


def _post(client: TestClient, path: str, data: dict[str, str] | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf_of(client), **(data or {})}, **kwargs)  # type: ignore[arg-type]


def _upload(client: TestClient, check_id: str, name: str = "quy-che.pdf", body: bytes = b"%PDF-1.4 test\n"):  # type: ignore[no-untyped-def]
    return _post(
        client,
        "/agencies/baosoctrang/submissions",
        {"check_id": check_id, "note": "Quy chế đã ban hành"},
        files={"file": (name, body, "application/octet-stream")},
    )


# -- what each role sees -----------------------------------------------------------------------------------------


def test_dashboard_shows_verdicts_progress_heatmap_and_overdue_work(world: World) -> None:
    for username in ("officer1", "lanhdao"):
        page = world.portal.signed_in(username).get("/dashboard")
        assert page.status_code == 200
        html = page.text
        assert "Chưa đáp ứng cấp độ 3" in html and "Chưa chứng minh được cấp độ 3" in html
        assert "0 trên 4 cơ quan đáp ứng cấp độ 3" in html  # three audited, one listed and never audited
        for agency_id in ("baosoctrang", "dai-ptth", "other", "tapchi"):
            assert f'href="/agencies/{agency_id}"' in html
        assert 'class="heat hs-' in html and "<svg" in html
        # overdue fixes: failing in the latest audit and already 35 days earlier (the rule says N = 30 days)
        assert "ít nhất 30 ngày" in html
        overdue = html.split('id="overdue-fixes"')[1].split("</section>")[0]
        a, b = world.checks[:2]
        assert f"/findings/{world.finding(world.second, 'baosoctrang', a).id}" in overdue
        assert f"/findings/{world.finding(world.second, 'baosoctrang', b).id}" not in overdue  # regressed: not overdue
        # overdue evidence: every manual item of both agencies, none attested
        evidence = html.split('id="overdue-evidence"')[1].split("</section>")[0]
        assert "baosoctrang" in evidence and "dai-ptth" in evidence
        # recurring: a check failing at two agencies
        recurring = html.split('id="recurring"')[1].split("</section>")[0]
        assert a in recurring
    assert "/submissions" in world.portal.signed_in("officer1").get("/dashboard").text
    assert 'href="/submissions"' not in world.portal.signed_in("lanhdao").get("/dashboard").text


def _expected_cells(assessment: AgencyAssessment) -> dict[str, tuple[str, dict[str, int]]]:
    """Each group's state and clause counts, from the roll-up's clause states (not from its group counters)."""
    bucket = {
        ClauseState.failed: "not_met",
        ClauseState.error: "not_met",
        ClauseState.awaiting_evidence: "awaiting_evidence",
        ClauseState.not_evaluated: "not_evaluated",
    }
    cells = {}
    for group in assessment.groups:
        counts = Counter(bucket.get(c.state, "met") for c in assessment.clauses if c.group_id == group.id)
        worst = next(
            (s for s in ("not_met", "awaiting_evidence", "not_evaluated", "met") if counts[s]), "not_evaluated"
        )
        cells[group.id] = (worst, {state: n for state, n in counts.items() if n})
    return cells


def _heat_rows(html: str) -> dict[str, dict[str, tuple[str, dict[str, int]]]]:
    """The heat-map as shown: per agency, per group, the cell's state and its counts per state."""
    section = html.split('id="heatmap"')[1].split("</section>")[0]
    rows = {}
    for row in section.split("<tr>")[2:]:  # after the header row
        agency_id = re.search(r'href="/agencies/([^"]+)"', row).group(1)  # type: ignore[union-attr]
        cells = {}
        for group, state, body in re.findall(r'data-group="([^"]+)" data-state="([^"]+)"[^>]*>(.*?)</td>', row, re.S):
            counts = {k: int(n) for k, n in re.findall(r'data-count="([^"]+)">[^<]*: (\d+)/\d+<', body)}
            cells[group] = (state, counts)
        rows[agency_id] = cells
    return rows


def test_the_heatmap_shows_each_groups_compliance_state_with_counts_from_the_roll_up(world: World) -> None:
    html = world.portal.signed_in("lanhdao").get("/dashboard").text
    section = html.split('id="heatmap"')[1].split("</section>")[0]
    assert "Tình trạng đáp ứng theo nhóm yêu cầu" in section and "Bản đồ nhiệt" not in section
    assert "%" not in _visible(section)  # states and clause counts, no evidence-coverage percentages
    for label in ("Đáp ứng", "Không đáp ứng", "Chờ bằng chứng", "Chưa đánh giá"):
        assert label in section
    portal = world.portal.app.state.portal
    judged = {s.agency_id: s.assessment for s in all_standings(portal, "vi") if s.assessment is not None}
    shown = _heat_rows(html)
    assert set(shown) == set(judged) == {"baosoctrang", "dai-ptth", "other"}
    for agency_id, assessment in judged.items():
        assert shown[agency_id] == _expected_cells(assessment), agency_id
    # the data says different things of the two agencies: a failing check is "not met", manual items "awaiting"
    states = {agency_id: {state for state, _counts in cells.values()} for agency_id, cells in shown.items()}
    assert "not_met" in states["baosoctrang"] and "not_met" not in states["dai-ptth"]
    assert "awaiting_evidence" in states["dai-ptth"]
    for cells in shown.values():  # each cell's counts add up to its group's clauses
        for group_id, (_state, counts) in cells.items():
            group = next(g for g in judged["baosoctrang"].groups if g.id == group_id)
            assert sum(counts.values()) == group.clauses_total


def test_the_dashboard_counts_failures_and_errors_apart(world: World) -> None:
    html = world.portal.signed_in("officer1").get("/dashboard").text
    agencies = html.split('id="agencies"')[1].split("</section>")[0]
    row = agencies.split('href="/agencies/baosoctrang"')[1].split("</tr>")[0]
    # latest run of baosoctrang: a and b fail, d could not be checked (the agency's manual items aside)
    assert re.search(r'data-figure="results_failed">2\b', row) and re.search(r'data-figure="results_error">1\b', row)
    assert "Kết quả không đạt" in agencies and "Lỗi (không kiểm tra được)" in agencies


def test_agencies_lists_the_inventory_and_the_store(world: World) -> None:
    html = world.portal.signed_in("lanhdao").get("/agencies").text
    assert "Tạp chí Mới" in html and "Chưa được kiểm tra" in html  # listed, never audited
    assert "Tạp chí Khác" in html  # audited, not in the inventory
    assert f'href="/agencies/baosoctrang/runs/{world.second}"' in html
    assert world.portal.signed_in("bst-it").get("/agencies").status_code == 403
    assert world.portal.signed_in("bst-it").get("/dashboard").status_code == 403


def test_agency_page_prioritises_fixes_and_shows_history(world: World) -> None:
    a, b, c, d = world.checks
    html = world.portal.signed_in("bst-it").get("/agencies/baosoctrang").text
    assert "Chưa đáp ứng cấp độ 3" in html
    fixes = html.split('id="fixes"')[1].split("</section>")[0]
    order = [check for check in re.findall(r'<span class="mono">([a-z0-9_]+)</span>', fixes)]
    assert set(order) == {a, b, d} and c not in order  # c was fixed in the latest run
    severities = [content().checks[check].severity.value for check in order]
    rank = ("critical", "high", "medium", "low")
    assert severities == sorted(severities, key=rank.index)  # most severe first
    assert content().checks[a].remediation.vi.split(";")[0][:30] in html.replace("&#34;", '"').replace("&#39;", "'")
    assert "TCVN 11930:2017" in fixes
    history = html.split('id="history"')[1].split("</section>")[0]
    assert world.first in history and world.second in history
    assert "Tái phát / xấu đi: 2; Vẫn chưa đạt: 1; Đã khắc phục: 1" in history  # b and d regressed, a, c fixed
    assert "Lần kiểm tra đầu tiên" in history
    assert f"/agencies/baosoctrang/reports/{world.second}.pdf" in html
    assert "/exports/" not in html  # exports are for the officer and the department
    awaited = html.split('id="awaited"')[1].split("</section>")[0]
    assert awaited.count('enctype="multipart/form-data"') == len(
        [c for c in content().checks.values() if c.is_manual and c.scope == "agency"]
    )
    assert "/exports/" in world.portal.signed_in("lanhdao").get("/agencies/baosoctrang").text
    assert 'enctype="multipart/form-data"' not in world.portal.signed_in("lanhdao").get("/agencies/baosoctrang").text


def test_an_agency_without_a_run_says_so(world: World) -> None:
    page = world.portal.signed_in("officer1").get("/agencies/tapchi")
    assert page.status_code == 200
    assert "Cơ quan này chưa được kiểm tra lần nào." in page.text
    assert world.portal.signed_in("officer1").get("/agencies/nowhere").status_code == 404


def test_run_page_drills_down_from_targets_to_findings(world: World) -> None:
    officer = world.portal.signed_in("officer1")
    a = world.checks[0]
    page = officer.get(f"/agencies/baosoctrang/runs/{world.second}")
    assert page.status_code == 200
    assert f"/agencies/baosoctrang/runs/{world.second}?host=web-01" in page.text
    host = officer.get(f"/agencies/baosoctrang/runs/{world.second}", params={"host": "web-01"})
    finding = world.finding(world.second, "baosoctrang", a)
    assert f'href="/findings/{finding.id}"' in host.text
    assert "<script>alert" not in host.text
    assert officer.get(f"/agencies/baosoctrang/runs/{world.other_run}").status_code == 404  # did not cover it
    assert officer.get(f"/agencies/baosoctrang/runs/{world.second}?host=nope").status_code == 404
    assert officer.get("/agencies/baosoctrang/runs/r-19990101-000000-0000").status_code == 404
    assert officer.get(f"/agencies/baosoctrang/runs/{world.second[:12]}").status_code == 404  # no prefixes


def test_finding_page_shows_hostile_output_as_inert_text_and_the_verified_hash(world: World) -> None:
    finding = world.finding(world.second, "baosoctrang", world.checks[0])
    html = world.portal.signed_in("bst-it").get(f"/findings/{finding.id}").text
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in html
    assert "\x1b" not in html and "\x07" not in html and "\u202e" not in html and "\x00" not in html
    assert "\\x1b[31mRED" in html and "\\u202e" in html
    evidence = world.store.get_evidence(finding.id)
    assert evidence.sha256 in html and "đã xác minh" in html and "KHÔNG KHỚP" not in html
    assert "Không đạt" in html and "Giá trị thực tế không khớp" in html


def test_a_tampered_evidence_shows_mismatch(world: World) -> None:
    finding = world.finding(world.second, "baosoctrang", world.checks[1])
    from sqlalchemy import text

    with world.store.engine.begin() as connection:
        connection.execute(
            text("UPDATE evidence SET stdout = :out WHERE id = :id"), {"out": b"edited", "id": finding.evidence_id}
        )
    html = world.portal.signed_in("officer1").get(f"/findings/{finding.id}").text
    assert "KHÔNG KHỚP" in html


def test_standings_say_what_the_summary_report_says_as_governance_changes(world: World) -> None:
    """The pages judge each agency once per governance state; what they say is what the summary report says."""
    portal = world.portal.app.state.portal
    item = _item()
    attested = AttestationEntry(
        agency="baosoctrang",
        item=item,
        answer=Answer.met,
        justification="Quy chế đã ban hành",
        attested_by="bst-it",
        attested_at=date(2026, 11, 20),
        valid_until=date(2026, 12, 10),
        documents=("a.pdf",),
    )
    document = PreparedDocument(file_name="a.pdf", content=b"%PDF a", media_type="application/pdf")
    world.store.record_attestations([PreparedAttestation(entry=attested, documents=(document,))], "test", portal.now())
    waiver = WaiverRequest(
        agency_id="baosoctrang",
        check_id=world.checks[1],
        justification="Máy chủ cũ chờ thay thế",
        compensating_control="Tường lửa chặn truy cập",
        requested_by="bst-it",
        approved_by="officer1",
        expires_on=date(2027, 1, 31),
    )
    world.store.add_waiver(waiver, portal.now())
    awaited = []
    for moment in (portal.now(), portal.now() + timedelta(days=15)):  # the attestation valid, then expired
        world.portal.clock.now = moment
        for lang in ("vi", "en"):
            standings = {s.agency_id: s for s in all_standings(portal, lang) if s.assessment is not None}
            runs = [world.first, world.second, world.other_run]
            summary = build_summary_report(world.store, content(), runs, lang, now=moment)
            assert {a.agency_id: a for a in summary.agencies} == {k: s.assessment for k, s in standings.items()}
        bst = standings["baosoctrang"]
        assert any(bst.waived(f) for f in bst.failing)
        awaited.append({f.check_id for f in bst.awaiting})
    assert item not in awaited[0] and item in awaited[1]


# -- an agency sees its own, and nothing else --------------------------------------------------------------------


def test_an_agency_user_sees_only_its_own_agency(world: World) -> None:
    dai = world.portal.signed_in("dai-it")
    document = world.store.submit_document(
        "dai-ptth",
        _item(),
        PreparedDocument(file_name="dai.pdf", content=b"%PDF dai", media_type="application/pdf"),
        "",
        "dai-it",
        T0,
    )
    dai_finding = world.finding(world.second, "dai-ptth", world.checks[0])
    bst = world.portal.signed_in("bst-it")
    for path in (
        "/agencies/dai-ptth",
        f"/agencies/dai-ptth/runs/{world.second}",
        f"/findings/{dai_finding.id}",
        f"/agencies/dai-ptth/reports/{world.second}.html",
        f"/agencies/dai-ptth/reports/{world.second}.pdf",
        f"/submissions/{document.id}/document",
        "/agencies/other",
        f"/agencies/other/runs/{world.other_run}",
    ):
        assert bst.get(path).status_code == 404, path
    for path in ("/exports/" + world.second + ".json", "/submissions", "/users", "/activity", "/activity.csv"):
        assert bst.get(path).status_code == 403, path
    assert dai.get(f"/submissions/{document.id}/document").status_code == 200
    for path in ("/agencies/baosoctrang", f"/agencies/baosoctrang/runs/{world.second}", "/"):
        html = bst.get(path, follow_redirects=True).text
        assert "dai-ptth" not in html and "/agencies/other" not in html and "/dashboard" not in html, path


# -- documents: upload, accept, reject ---------------------------------------------------------------------------


def _item() -> str:
    return sorted(c.id for c in content().checks.values() if c.is_manual and c.scope == "agency")[0]


def test_upload_then_accept_resolves_the_manual_item_as_met(world: World) -> None:
    item = _item()
    bst = world.portal.signed_in("bst-it")
    answer = _upload(bst, item)
    assert answer.status_code == 303 and answer.headers["location"].endswith("?notice=uploaded#submissions")
    (submission,) = world.store.list_submissions("baosoctrang")
    assert submission.check_id == item and submission.submitted_by == "bst-it" and submission.decision is None
    page = bst.get("/agencies/baosoctrang").text
    assert "Đã gửi tài liệu" in bst.get(answer.headers["location"]).text
    assert "quy-che.pdf" in page and "Chờ duyệt" in page
    officer = world.portal.signed_in("officer1")
    review = officer.get("/submissions").text
    assert f"/submissions/{submission.id}/accept" in review and "quy-che.pdf" in review
    accepted = _post(
        officer,
        f"/submissions/{submission.id}/accept",
        {"answer": "met", "valid_until": "2027-12-31", "justification": "Quy chế số 12/QĐ đã ban hành"},
    )
    assert accepted.status_code == 303 and accepted.headers["location"] == "/submissions?notice=accepted"
    decided = world.store.get_submission(submission.id)
    assert decided.decision == "accepted" and decided.decided_by == "officer1" and decided.attestation_id
    (attestation,) = world.store.list_attestations("baosoctrang")
    assert attestation.check_id == item and attestation.answer.value == "met"
    assert "bst-it" in attestation.attested_by and "officer1" in attestation.attested_by
    assert [d.file_name for d in attestation.documents] == ["quy-che.pdf"]
    manual = world.finding(world.second, "baosoctrang", item)
    resolved = world.store.resolved_findings([manual], world.portal.clock())[manual.id]
    assert resolved.status is Status.passed
    awaited = bst.get("/agencies/baosoctrang").text.split('id="awaited"')[1].split("</section>")[0]
    assert f">{item}<" not in awaited  # no longer awaiting evidence
    actions = [(a.action, a.actor) for a in world.store.list_activity()]
    assert ("upload", "bst-it") in actions and ("accept", "officer1") in actions
    # a decided submission cannot be decided again
    again = _post(
        officer,
        f"/submissions/{submission.id}/accept",
        {"answer": "not_met", "valid_until": "2027-12-31", "justification": "x"},
    )
    assert again.headers["location"] == "/submissions?error=decided_already"
    assert "đã được xử lý trước đó" in officer.get(again.headers["location"]).text
    rejected = _post(officer, f"/submissions/{submission.id}/reject", {"note": "muộn"})
    assert rejected.headers["location"] == "/submissions?error=decided_already"
    assert len(world.store.list_attestations("baosoctrang")) == 1
    assert world.store.get_submission(submission.id).decision == "accepted"


def test_reject_keeps_the_item_awaiting_and_says_why(world: World) -> None:
    item = _item()
    assert _upload(world.portal.signed_in("bst-it"), item, "bien-ban.docx", b"PK\x03\x04 docx").status_code == 303
    (submission,) = world.store.list_submissions("baosoctrang")
    assert submission.file_name == "bien-ban.docx"
    officer = world.portal.signed_in("officer1")
    assert (
        _post(officer, f"/submissions/{submission.id}/reject", {"note": " "})
        .headers["location"]
        .endswith("error=reject_note")
    )
    answer = _post(officer, f"/submissions/{submission.id}/reject", {"note": "Thiếu chữ ký của lãnh đạo"})
    assert answer.headers["location"] == "/submissions?notice=rejected"
    decided = world.store.get_submission(submission.id)
    assert decided.decision == "rejected" and decided.decision_note == "Thiếu chữ ký của lãnh đạo"
    assert world.store.list_attestations("baosoctrang") == []
    page = world.portal.signed_in("bst-it").get("/agencies/baosoctrang").text
    assert "Đã từ chối" in page and "Thiếu chữ ký của lãnh đạo" in page
    assert ("reject", "officer1") in [(a.action, a.actor) for a in world.store.list_activity()]


def test_uploads_are_checked(world: World) -> None:
    bst = world.portal.signed_in("bst-it")
    item = _item()
    assert _upload(bst, item, "run.exe", b"MZ").headers["location"].endswith("error=upload_type#upload")
    assert _upload(bst, world.checks[0]).headers["location"].endswith("error=upload_item#upload")  # automated
    assert _upload(bst, item, "empty.pdf", b"").headers["location"].endswith("error=upload_empty#upload")
    world.portal.app.state.portal.config = world.portal.app.state.portal.config.model_copy(
        update={"upload_max_bytes": 8}
    )
    assert _upload(bst, item, "big.pdf", b"%PDF-1.4 too big").headers["location"].endswith("error=upload_size#upload")
    assert world.store.list_submissions() == []
    # a body larger than the limit and its form overhead is refused before it is read (also for the CSRF token),
    # and so is one of unknown length; neither is stored nor reaches the page
    too_big = b"%PDF-1.4" + b"0" * (8 + FORM_OVERHEAD_BYTES)
    refused = _upload(bst, item, "huge.pdf", too_big)
    assert refused.status_code == 413 and "vượt quá giới hạn" in refused.text
    chunked = bst.post(
        "/agencies/baosoctrang/submissions",
        content=iter([b"--x\r\n", b"data"]),
        headers={"content-type": "multipart/form-data; boundary=x", "x-csrf-token": csrf_of(bst)},
    )
    assert chunked.status_code == 411
    assert world.store.list_submissions() == []
    # the department reads but does not write; another agency's upload address does not exist for this user
    dept = world.portal.signed_in("lanhdao")
    assert _upload(dept, item).status_code == 403
    assert (
        _post(bst, "/agencies/dai-ptth/submissions", {"check_id": item}, files={"file": ("a.pdf", b"%PDF")}).status_code
        == 404
    )
    # an agency listed in the inventory but never audited cannot attach documents yet
    answer = _post(
        world.portal.signed_in("officer1"),
        "/agencies/tapchi/submissions",
        {"check_id": item},
        files={"file": ("a.pdf", b"%PDF")},
    )
    assert answer.headers["location"].endswith("error=upload_not_audited#upload")


def test_a_folder_in_the_file_name_is_dropped(world: World) -> None:
    _upload(world.portal.signed_in("bst-it"), _item(), "..\\..\\etc/\x1b[31mpasswd.pdf")
    (submission,) = world.store.list_submissions()
    assert submission.file_name == "[31mpasswd.pdf"


# -- downloads ---------------------------------------------------------------------------------------------------


def test_downloads_are_attachments_and_are_logged(world: World) -> None:
    bst = world.portal.signed_in("bst-it")
    html = bst.get(f"/agencies/baosoctrang/reports/{world.second}.html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert html.headers["content-disposition"].startswith("attachment;") and "Báo Sóc Trăng" in html.text
    english = TestClient(world.portal.app, base_url="https://portal.test", follow_redirects=False)
    sign_in(english, "bst-it")
    english.cookies.set("auditor_lang", "en", domain="portal.test")
    assert "Soc Trang Newspaper" in english.get(f"/agencies/baosoctrang/reports/{world.second}.html").text
    officer = world.portal.signed_in("officer1")
    exported = officer.get(f"/exports/{world.second}.json")
    assert exported.status_code == 200 and exported.json()["run"]["id"] == world.second
    assert (
        exported.headers["content-disposition"]
        == f"attachment; filename=\"{world.second}.json\"; filename*=UTF-8''{world.second}.json"
    )
    table = officer.get(f"/exports/{world.second}.csv")
    assert table.status_code == 200 and table.text.startswith("run_id,agency_id")
    assert officer.get(f"/exports/{world.second[:12]}.json").status_code == 404
    assert officer.get(f"/agencies/other/reports/{world.second}.html").status_code == 404  # not in that run
    _upload(bst, _item(), "quy chế mới.pdf")
    (submission,) = world.store.list_submissions()
    document = bst.get(f"/submissions/{submission.id}/document")
    assert document.content == b"%PDF-1.4 test\n" and document.headers["content-type"] == "application/pdf"
    assert document.headers["x-content-type-options"] == "nosniff"
    disposition = document.headers["content-disposition"]
    assert (
        disposition == "attachment; filename=\"quy_che_moi.pdf\"; filename*=UTF-8''quy%20ch%E1%BA%BF%20m%E1%BB%9Bi.pdf"
    )
    downloads = [a for a in world.store.list_activity(action="download")]
    kinds = sorted(a.detail["kind"] for a in downloads)
    assert kinds == ["document", "export_csv", "export_json", "report_html", "report_html"]
    assert {a.actor for a in downloads} == {"bst-it", "officer1"}
    assert all(
        a.agency_id == "baosoctrang"
        for a in downloads
        if a.detail["kind"] != "export_json" and a.detail["kind"] != "export_csv"
    )


def _set_agency(world: World, agency_id: str, **fields: object) -> None:
    """Change one agency of the inventory the portal reads (it reads the file on each use)."""
    path = world.portal.workdir / "inventory.yml"
    inventory = yaml.safe_load(path.read_text(encoding="utf-8"))
    for agency in inventory["agencies"]:
        if agency["id"] == agency_id:
            agency.update(fields)
    path.write_text(yaml.safe_dump(inventory, allow_unicode=True), encoding="utf-8")


def _report_times(html: str) -> list[str]:
    return re.findall(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", html)


def test_the_agency_page_names_the_owner_from_the_inventory_and_shows_its_local_time(world: World) -> None:
    bst = world.portal.signed_in("bst-it")
    default = bst.get("/agencies/baosoctrang").text
    owner = default.split('id="owner"')[1].split("</p>")[0]
    assert "Người phụ trách khắc phục" in owner and "Phòng Kỹ thuật · kythuat@baosoctrang.example" in owner
    assert "Asia/Ho_Chi_Minh" in owner
    assert "05/11/2026 15:00" in default  # the latest audit (08:00 UTC) in Viet Nam time, the profile's zone
    _set_agency(world, "baosoctrang", timezone="Asia/Tokyo", contact={"name": "Ông Trần Văn An", "phone": "0299 3821"})
    moved = bst.get("/agencies/baosoctrang").text
    owner = moved.split('id="owner"')[1].split("</p>")[0]
    assert "Ông Trần Văn An · 0299 3821" in owner and "kythuat@" not in owner and "Asia/Tokyo" in owner
    assert "05/11/2026 17:00" in moved and "05/11/2026 15:00" not in moved
    run_page = bst.get(f"/agencies/baosoctrang/runs/{world.second}").text
    assert "05/11/2026 17:00" in run_page
    listed_without_contact = world.portal.signed_in("officer1").get("/agencies/tapchi").text
    assert "chưa khai báo đầu mối liên hệ trong tệp kiểm kê" in listed_without_contact.split('id="owner"')[1]


def test_an_agency_the_inventory_does_not_list_shows_the_owner_and_zone_its_run_recorded(world: World) -> None:
    contact = Contact(name="Ông Trần Văn An", title="Trưởng phòng", email="an@other.example", phone="0299 3821")
    recorded = OTHER.model_copy(update={"contact": contact, "timezone": "Asia/Tokyo"})
    later = T0 + timedelta(days=45)  # 15/11/2026 08:00 UTC, 17:00 in Tokyo
    run_id = store_run(
        world.store,
        [host_result("x-01", {world.checks[0]: F}, agency=recorded, address="10.9.9.9")],
        {OTHER.id: recorded},
        later,
    )
    officer = world.portal.signed_in("officer1")
    page = officer.get("/agencies/other").text
    owner = page.split('id="owner"')[1].split("</p>")[0]
    assert "Ông Trần Văn An · Trưởng phòng" in owner and "Asia/Tokyo" in owner
    assert "15/11/2026 17:00" in page
    report = officer.get(f"/agencies/other/reports/{run_id}.html").text
    assert "Ông Trần Văn An · Trưởng phòng" in report and "Asia/Tokyo" in report
    assert "15/11/2026 17:00" in officer.get(f"/agencies/other/runs/{run_id}").text
    for html in (page, report):
        assert "an@other.example" not in html and "0299 3821" not in html


def test_the_downloaded_report_shows_the_agencys_owner_and_local_time(world: World) -> None:
    bst = world.portal.signed_in("bst-it")
    path = f"/agencies/baosoctrang/reports/{world.second}.html"
    default = bst.get(path).text
    assert "Phòng Kỹ thuật · kythuat@baosoctrang.example" in default  # the plan's owner, from the inventory
    assert "Asia/Ho_Chi_Minh" in default
    _set_agency(world, "baosoctrang", timezone="Asia/Bangkok")
    bangkok = bst.get(path).text
    assert "Asia/Bangkok" in bangkok and "Asia/Ho_Chi_Minh" not in bangkok
    assert _report_times(bangkok) == _report_times(default)  # Bangkok keeps Viet Nam's offset (UTC+7) all year
    _set_agency(world, "baosoctrang", timezone="Asia/Tokyo")
    tokyo = bst.get(path).text
    assert "Asia/Tokyo" in tokyo
    shifted = [
        (datetime.strptime(a, "%d/%m/%Y %H:%M"), datetime.strptime(b, "%d/%m/%Y %H:%M"))
        for a, b in zip(_report_times(default), _report_times(tokyo), strict=True)
    ]
    assert shifted and all(b - a == timedelta(hours=2) for a, b in shifted)  # every time shown, two hours later


def test_the_pdf_report_downloads(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The route's part (WeasyPrint itself is tested with the reports): the report's HTML printed, as a file."""
    printed: list[str] = []

    def fake_pdf(html: str) -> bytes:
        printed.append(html)
        return b"%PDF-1.7 printed"

    monkeypatch.setattr("auditor.portal.pages.exports.render_pdf", fake_pdf)
    answer = world.portal.signed_in("lanhdao").get(f"/agencies/dai-ptth/reports/{world.second}.pdf")
    assert answer.status_code == 200 and answer.content == b"%PDF-1.7 printed"
    assert answer.headers["content-type"] == "application/pdf" and "Đài PT-TH Sóc Trăng" in printed[0]
    assert answer.headers["content-disposition"].startswith('attachment; filename="bao-cao-dai-ptth-')
    assert [a.detail["kind"] for a in world.store.list_activity(action="download")] == ["report_pdf"]

    def broken(html: str) -> bytes:
        raise RenderError("no pango")

    monkeypatch.setattr("auditor.portal.pages.exports.render_pdf", broken)
    assert world.portal.signed_in("lanhdao").get(f"/agencies/dai-ptth/reports/{world.second}.pdf").status_code == 503
    assert len(world.store.list_activity(action="download")) == 1  # nothing was downloaded


# -- accounts ----------------------------------------------------------------------------------------------------


def test_the_officer_adds_and_changes_accounts(world: World) -> None:
    officer = world.portal.signed_in("officer1")
    assert "bst-it" in officer.get("/users").text
    form = {"username": "bst-lead", "display_name": "Trưởng phòng", "role": "agency", "agency_id": "baosoctrang"}
    assert _post(officer, "/users", {**form, "password": "short"}).headers["location"] == "/users?error=user_password"
    assert (
        _post(officer, "/users", {**form, "username": "Bad Name", "password": PASSWORD})
        .headers["location"]
        .endswith("error=user_name")
    )
    assert (
        _post(officer, "/users", {**form, "agency_id": "", "password": PASSWORD})
        .headers["location"]
        .endswith("error=user_agency")
    )
    assert _post(officer, "/users", {**form, "password": PASSWORD}).headers["location"] == "/users?notice=user_added"
    assert _post(officer, "/users", {**form, "password": PASSWORD}).headers["location"].endswith("error=user_exists")
    user = world.store.get_user("bst-lead")
    assert user.role == "agency" and user.agency_id == "baosoctrang"
    lead = world.portal.client()
    sign_in(lead, "bst-lead")
    assert lead.get("/agencies/baosoctrang").status_code == 200
    # a new password ends the sessions
    assert _post(officer, "/users/bst-lead/password", {"password": "another long password"}).status_code == 303
    assert lead.get("/agencies/baosoctrang").headers["location"].startswith("/login")
    sign_in(lead, "bst-lead", "another long password")
    # a new role ends the sessions
    changed = _post(officer, "/users/bst-lead/role", {"role": "department", "agency_id": ""})
    assert changed.headers["location"] == "/users?notice=user_role_changed"
    assert world.store.get_user("bst-lead").role == "department" and world.store.get_user("bst-lead").agency_id is None
    assert lead.get("/agencies/baosoctrang").headers["location"].startswith("/login")
    sign_in(lead, "bst-lead", "another long password")
    # disabling ends the sessions; enabling lets them sign in again
    assert _post(officer, "/users/bst-lead/disable").headers["location"] == "/users?notice=user_disabled"
    assert lead.get("/dashboard").headers["location"].startswith("/login")
    assert _post(officer, "/users/bst-lead/enable").headers["location"] == "/users?notice=user_enabled"
    sign_in(lead, "bst-lead", "another long password")
    actions = [a.action for a in world.store.list_activity(actor="officer1")]
    for action in ("user_add", "user_passwd", "user_role", "user_disable", "user_enable"):
        assert action in actions
    assert _post(officer, "/users/nobody/disable").status_code == 404


def test_an_officer_cannot_lock_themselves_out(world: World) -> None:
    officer = world.portal.signed_in("officer1")
    assert _post(officer, "/users/officer1/disable").headers["location"] == "/users?error=user_self"
    assert (
        _post(officer, "/users/officer1/role", {"role": "department"}).headers["location"] == "/users?error=user_self"
    )
    assert not world.store.get_user("officer1").disabled and world.store.get_user("officer1").role == "officer"
    assert officer.get("/users").status_code == 200


# -- the activity log --------------------------------------------------------------------------------------------


def test_activity_log_filters_and_exports_safe_csv(world: World) -> None:
    hostile = world.portal.client()
    page = hostile.get("/login").text
    token = re.search(r'name="login_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    hostile.post("/login", data={"username": '=HYPERLINK("x")', "password": "nope nope nope", "login_token": token})
    officer = world.portal.signed_in("officer1")
    officer.get(f"/agencies/baosoctrang/reports/{world.second}.html")
    everything = officer.get("/activity").text
    assert "Đăng nhập không thành công" in everything and "Tải xuống" in everything
    only = officer.get("/activity", params={"action": "download"}).text
    assert "Tải xuống" in only and "Đăng nhập không thành công" not in only.split("<tbody>")[1]
    by_agency = officer.get("/activity", params={"agency": "baosoctrang"}).text.split("<tbody>")[1]
    assert "officer1" in by_agency and "HYPERLINK" not in by_agency
    by_actor = officer.get("/activity", params={"actor": "bst-it"}).text.split("<tbody>")[1]
    assert "officer1" not in by_actor
    exported = officer.get("/activity.csv")
    assert exported.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    hostile_row = next(r for r in rows if "HYPERLINK" in r["actor"])
    assert hostile_row["actor"].startswith("'=") and hostile_row["action"] == "login_failed"
    narrowed = list(csv.DictReader(io.StringIO(officer.get("/activity.csv", params={"action": "download"}).text)))
    assert {r["action"] for r in narrowed} == {"download"}
    exports = world.store.list_activity(action="export")
    assert len(exports) == 2 and exports[0].detail["action"] == "download" and exports[0].actor == "officer1"


# -- Vietnamese first; CSRF on every change; every route declares its rule --------------------------------------


def test_vietnamese_pages_show_no_english_state_name(world: World) -> None:
    item = _item()
    _upload(world.portal.signed_in("bst-it"), item)
    officer = world.portal.signed_in("officer1")
    finding = world.finding(world.second, "baosoctrang", world.checks[0])
    english = _english_state_names()
    for path in (
        "/dashboard",
        "/agencies",
        "/agencies/baosoctrang",
        f"/agencies/baosoctrang/runs/{world.second}",
        f"/agencies/baosoctrang/runs/{world.second}?host=web-01",
        f"/findings/{finding.id}",
        "/submissions",
        "/users",
        "/activity",
    ):
        visible = _visible(officer.get(path).text)
        found = sorted(name for name in english if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", visible))
        assert not found, (path, found)
    assert "Đáp ứng" in officer.get("/submissions").text  # the answers, in Vietnamese
    officer.cookies.set("auditor_lang", "en", domain="portal.test")  # and every page has its English words too
    for path in ("/dashboard", "/agencies", "/agencies/baosoctrang", f"/findings/{finding.id}", "/submissions"):
        page = officer.get(path)
        assert page.status_code == 200 and 'lang="en"' in page.text, path
    assert "Does not meet level 3" in officer.get("/dashboard").text


def test_every_post_i_add_needs_the_csrf_token(world: World) -> None:
    officer = world.portal.signed_in("officer1")
    _upload(world.portal.signed_in("bst-it"), _item())
    (submission,) = world.store.list_submissions()
    for path in (
        "/agencies/baosoctrang/submissions",
        f"/submissions/{submission.id}/accept",
        f"/submissions/{submission.id}/reject",
        "/users",
        "/users/bst-it/disable",
        "/users/bst-it/enable",
        "/users/bst-it/role",
        "/users/bst-it/password",
    ):
        assert officer.post(path, data={"note": "x"}).status_code == 403, path
        assert officer.post(path, data={"csrf_token": "forged"}).status_code == 403, path
    assert world.store.get_submission(submission.id).decision is None
    assert not world.store.get_user("bst-it").disabled


def test_every_route_of_these_pages_declares_its_rule() -> None:
    routes = [
        route
        for name in PAGE_MODULES
        for route in importlib.import_module(f"auditor.portal.pages.{name}").router.routes
        if isinstance(route, APIRoute)
    ]
    assert len(routes) >= 20
    assert all(rule_of(route.endpoint) is not None for route in routes)
