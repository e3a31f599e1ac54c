"""Every figure a report shows comes from the roll-up; exposure findings of one port are one cause; the fix-first
plan; local time and the reporting date; the PDF of a large agency prints on few pages with whole header words."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.errors import ConfigError
from auditor.evaluation.findings import HostResult
from auditor.inventory import Agency, Contact
from auditor.reports import build_agency_report, build_summary_report, render_html, render_pdf
from auditor.reports.causes import PORT_CAUSE_PREFIX, cause_keys, exposed_ports
from auditor.reports.locale import strings
from auditor.reports.models import AgencyAssessment, AgencyReport, Lang
from auditor.reports.timing import ReportSettings, report_settings
from auditor.store import FindingRow, Store, open_store
from auditor.vocabulary import LocalizedText, Status
from tests.unit.test_reports_support import (
    AGENCY,
    T0,
    agency_result,
    automated_checks,
    content,
    host_result,
    store_run,
)

F, P, E = Status.failed, Status.passed, Status.error
OTHER = Agency(id="baokhac", name=LocalizedText(vi="Báo Khác", en="Other Paper"))
EXPOSURE = {
    "net_remote_admin_not_exposed": (b"22\n", "subset of [2222]"),
    "net_unexpected_services_absent": (b"22\n80\n443\n", "subset of [2222, 80, 443]"),
    "net_exposure_matches_inside_view": (
        b"exposed beyond role: 22 listens inside and answers the scanner\n"
        b"reachable, allowed for the host's roles: 443 listens inside and answers the scanner\n",
        "none(~ /^exposed beyond role/)",
    ),
}
CIPHERS = (
    b"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,TLS_RSA_WITH_3DES_EDE_CBC_SHA,"
    b"TLS_RSA_WITH_AES_128_CBC_SHA,TLS_RSA_WITH_AES_256_CBC_SHA,TLS_RSA_WITH_RC4_128_SHA\n"
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'figures.db'}")


def exposed_host(name: str, address: str, statuses: dict[str, Status], agency: Agency = AGENCY) -> HostResult:
    """A server whose SSH port 22 answers the scanner although the admin port is 2222: three network checks
    see that one cause, besides its own SSH results."""
    stdout = {check_id: out for check_id, (out, _expected) in EXPOSURE.items()}
    stdout["tls_weak_ciphers_absent"] = CIPHERS
    result = host_result(
        name,
        {**statuses, **dict.fromkeys(EXPOSURE, F), "tls_weak_ciphers_absent": F},
        agency=agency,
        stdout={k: stdout.get(k, b"value\n") for k in [*statuses, *EXPOSURE, "tls_weak_ciphers_absent"]},
        address=address,
    )
    findings = tuple(
        f.model_copy(update={"expected": EXPOSURE[f.check_id][1]}) if f.check_id in EXPOSURE else f
        for f in result.findings
    )
    return result.model_copy(update={"findings": findings})


def worst_agency_run(store: Store, hosts: int = 4, checks: int = 60) -> str:
    """Like the demo's worst agency: several servers failing most SSH checks, exposures, a website, documents."""
    ids = automated_checks(checks)
    results = []
    for index in range(hosts):
        statuses = {c: (F if i % 5 else P) for i, c in enumerate(ids)}
        statuses[ids[1]] = E  # could not check
        results.append(exposed_host(f"web-{index + 1:02d}", f"10.200.3.{index + 2}", statuses))
    website = host_result("https://baosoctrang.example.vn", {"web_hsts_enabled": F, "web_csp_present": P})
    results.append(website.model_copy(update={"kind": "website", "address": "", "facts": None}))
    results.append(agency_result())
    results.append(exposed_host("other-01", "10.200.9.2", {ids[0]: F}, agency=OTHER))
    results.append(agency_result(OTHER))
    return store_run(store, results, {AGENCY.id: AGENCY, OTHER.id: OTHER}, T0)


FIGURE = re.compile(r'(?:data-agency="([^"]+)" )?data-figure="([a-z_]+)">(\d+)<')


def figures(html: str) -> list[tuple[str, str, int]]:
    return [(agency, name, int(value)) for agency, name, value in FIGURE.findall(html)]


def expected_figures(a: AgencyAssessment) -> dict[str, int]:
    return {
        "hosts_total": a.hosts_total,
        "hosts_error": a.hosts_error,
        "targets_total": a.targets_total,
        "causes": len(a.causes),
        "results_failed": a.results_failed,
        "results_failed_host": a.results_failed_by_scope["host"],
        "results_failed_network": a.results_failed_by_scope["network"],
        "results_error": a.results_error,
        "manual_pending": a.manual_pending,
        "clauses_demonstrated": a.clauses_demonstrated,
        "clauses_total": a.clauses_total,
        **{f"status_{status}": n for status, n in a.status_counts.items()},
    }


def agency_report(store: Store, run: str, lang: Lang = "vi", contact: Contact | None = None) -> AgencyReport:
    return build_agency_report(store, content(), run, AGENCY.id, lang, now=T0, contact=contact)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_figure_of_the_agency_report_is_the_roll_ups(store: Store, lang: Lang) -> None:
    run = worst_agency_run(store, hosts=3, checks=20)
    report = agency_report(store, run, lang)
    a = report.assessment
    html = render_html(report)
    shown = figures(html)
    want = expected_figures(a)
    assert {name for _agency, name, _n in shown} >= {"causes", "results_failed", "status_fail", "targets_total"}
    for _agency, name, value in shown:
        assert value == want[name], name
    # the targets table adds up to the totals: every target has a row, counted from the same findings
    rows = re.findall(r'<td data-count="([a-z_]+)">(\d+)</td>', html)
    summed: Counter[str] = Counter()
    for status, n in rows:
        summed[status] += int(n)
    assert dict(summed) == {s: a.status_counts.get(s, 0) for s in summed}
    assert len(re.findall(r'<tr class="target">', html)) == a.targets_total
    # one article per cause, and the sentences say the same numbers
    assert len(re.findall(r'<article class="finding', html)) == len(a.causes) == len(report.findings)
    assert strings(lang).format("reason_failed", n=a.results_failed) in a.verdict_reasons
    assert a.results_failed == a.status_counts["fail"] - a.waived
    assert a.results_failed == sum(a.results_failed_by_scope.values())
    assert sum(a.severity_failing.values()) == a.results_failed + a.waived + a.results_error
    assert len(report.manual_items) == a.manual_pending


def test_one_open_port_seen_by_three_checks_is_one_cause(store: Store) -> None:
    run = worst_agency_run(store, hosts=2, checks=5)
    report = agency_report(store, run)
    a = report.assessment
    port_causes = [c for c in a.causes if c.startswith(PORT_CAUSE_PREFIX)]
    assert port_causes == ["port:22"]  # 80 and 443 are allowed; 22 is seen by three checks on two hosts
    view = next(f for f in report.findings if f.cause == "port:22")
    assert {name for h in view.hosts for name in h.host_names} == {"web-01", "web-02"}
    assert sum(len(h.host_names) for h in view.hosts) == 6  # the observations that support it
    assert len(view.hosts) == 3  # the same observation on both hosts reads once
    assert not any(
        f.cause in {"net_remote_admin_not_exposed", "net_unexpected_services_absent"} for f in report.findings
    )
    assert "22" in view.title and "Cổng" in view.title


def test_summary_figures_are_each_agencys_roll_up(store: Store) -> None:
    run = worst_agency_run(store, hosts=2, checks=10)
    report = build_summary_report(store, content(), [run], "vi", now=T0)
    html = render_html(report)
    by_id = {a.agency_id: a for a in report.agencies}
    per_agency = [(agency, name, n) for agency, name, n in figures(html) if agency]
    assert {agency for agency, _name, _n in per_agency} == set(by_id)
    for agency, name, value in per_agency:
        assert value == expected_figures(by_id[agency])[name], (agency, name)
    overall = {name: n for agency, name, n in figures(html) if not agency}
    assert overall["agencies"] == len(by_id) and overall["meeting"] == len(report.meeting)


def test_fix_first_plan_ranks_by_severity_clauses_and_hosts(store: Store) -> None:
    run = worst_agency_run(store, hosts=3, checks=30)
    contact = Contact(name="Nguyễn Văn A", email="it@baosoctrang.example.vn")
    report = agency_report(store, run, contact=contact)
    plan = report.plan
    assert plan is not None and 1 <= len(plan.actions) <= 7
    scores = [action.score for action in plan.actions]
    assert scores == sorted(scores, reverse=True)
    weight = {"critical": 8, "high": 4, "medium": 2, "low": 1}
    deadlines = ReportSettings().fix_deadline_days
    causes = set(report.assessment.causes)
    for action in plan.actions:
        assert action.cause in causes
        assert action.score == weight[action.severity] * (len(action.clauses_unlocked) + 1) * len(action.hosts)
        assert (action.due - T0).days == deadlines[action.severity]
        assert action.owner.startswith("Nguyễn Văn A")
        assert action.steps
    html = render_html(report)
    assert html.index('id="plan"') < html.index('id="summary"') < html.index('id="findings"')


def test_clauses_unlocked_are_those_the_verdict_would_then_meet(store: Store) -> None:
    check = automated_checks(1)[0]
    run = store_run(store, [host_result("web-01", {check: F})], {AGENCY.id: AGENCY}, T0)
    report = agency_report(store, run)
    assert report.plan is not None
    (action,) = report.plan.actions
    clauses = {r.clause for r in content().requirements_of(check) if r.framework == report.framework}
    assert set(action.clauses_unlocked) == clauses  # the only evidence of those clauses, so they become met
    states = {c.id: c for c in report.assessment.clauses}
    assert all(states[c].state.value == "failed" for c in clauses)


def test_already_good_names_fully_met_groups(store: Store) -> None:
    run = worst_agency_run(store, hosts=1, checks=5)
    report = agency_report(store, run)
    assert report.plan is not None
    met = [g for g in report.assessment.groups if g.clauses_total and g.clauses_met == g.clauses_total]
    assert len(report.plan.already_good_groups) == len(met)
    group_rows = report.group_chart.bars
    for bar, group in zip(group_rows, report.assessment.groups, strict=True):
        assert sum(s.value for s in bar.segments) == group.clauses_total


def test_times_are_shown_in_local_time_and_the_deadline_is_the_next_reporting_day(store: Store) -> None:
    late = datetime(2026, 12, 1, 23, 16, tzinfo=UTC)  # 06:16 on 02/12 in Viet Nam
    run = store_run(
        store, [host_result("web-01", {automated_checks(1)[0]: F}, started=late)], {AGENCY.id: AGENCY}, late
    )
    html = render_html(build_agency_report(store, content(), run, AGENCY.id, "vi", now=late))
    assert "02/12/2026 06:16" in html and "UTC+07:00" in html
    assert "2026-12-01 23:16" not in html
    summary = build_summary_report(store, content(), [run], "vi", now=late)
    assert summary.reporting_deadline.date().isoformat() == "2027-11-25"
    assert "gửi trước ngày 25/11/2027" in render_html(summary)
    before = build_summary_report(store, content(), [run], "vi", now=datetime(2026, 11, 3, tzinfo=UTC))
    assert before.reporting_deadline.date().isoformat() == "2026-11-25"


def test_report_inputs_are_validated() -> None:
    profile = content().profile
    assert report_settings(profile).timezone == "Asia/Ho_Chi_Minh"
    assert report_settings(profile).fix_deadline_days == {"critical": 7, "high": 30, "medium": 90, "low": 180}
    assert report_settings(profile, {"reporting_day": "12-31"}).reporting_day == "12-31"
    bad_inputs: list[dict[str, int | float | str | bool]] = [
        {"report_timezone": "Mars/Olympus"},
        {"reporting_day": "13-01"},
        {"fix_deadline_days_high": -1},
    ]
    for bad in bad_inputs:
        with pytest.raises(ConfigError):
            report_settings(profile, bad)


def _pdf_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} (poppler-utils) is not installed")
    return path


def _fragments(word: str) -> set[str]:
    """The pieces a word broken across lines leaves behind (at least 2 characters)."""
    return {word[:i] for i in range(2, len(word))} | {word[i:] for i in range(1, len(word) - 1)}


def test_pdf_of_a_large_agency_prints_on_few_pages_with_whole_headers(store: Store, tmp_path: Path) -> None:
    pytest.importorskip("weasyprint")
    run = worst_agency_run(store, hosts=3, checks=25)  # 70 failing results: more than the demo's worst agency
    report = agency_report(store, run)
    assert report.assessment.results_failed >= 60
    html = render_html(report)
    pdf_file = tmp_path / "agency.pdf"
    pdf_file.write_bytes(render_pdf(html))
    info = subprocess.run([_pdf_tool("pdfinfo"), str(pdf_file)], capture_output=True, text=True, check=True).stdout
    found = re.search(r"^Pages:\s+(\d+)", info, re.M)
    assert found is not None, info
    pages = int(found.group(1))
    print(f"agency PDF: {len(report.findings)} causes on {len(report.hosts)} targets, {pages} pages")
    assert pages <= 25
    subprocess.run(
        [_pdf_tool("pdftoppm"), "-r", "50", "-f", "1", "-l", "3", "-png", str(pdf_file), str(tmp_path / "page")],
        check=True,
    )
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == 3 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    text = subprocess.run(
        [_pdf_tool("pdftotext"), "-layout", str(pdf_file), "-"], capture_output=True, text=True, check=True
    ).stdout
    tokens = set(text.split())
    html_words = set(re.sub(r"<[^>]+>", " ", html).split())
    headers = {w for th in re.findall(r"<th[^>]*>([^<]+)</th>", html) for w in th.split() if len(w) >= 3}
    addresses = {address for _name, address in report.scope.hosts}
    assert {"Đạt", "Lỗi", "Địa", "chỉ"} & headers
    for word in headers | addresses:
        broken = (_fragments(word) - html_words) & tokens
        assert not broken, f"{word!r} is split across lines: {sorted(broken)}"
    for address in addresses:
        assert address in tokens


def test_exposed_ports_read_from_each_kind_of_exposure_check(store: Store) -> None:
    def finding(check_id: str, observed: bytes, expected: str, status: Status = F) -> FindingRow:
        run = store_run(
            store,
            [host_result(f"h-{len(observed)}-{check_id}", {check_id: status}, stdout=observed)],
            {AGENCY.id: AGENCY},
            T0,
        )
        row = store.list_findings(run)[0]
        return row.model_copy(update={"expected": expected})

    db = finding("net_db_ports_not_exposed", b"22\n3306\n443\n", "excludes [3306, 5432]")
    assert exposed_ports(db, content()) == ("3306",)
    admin = finding("net_remote_admin_not_exposed", b"22\n3389\n", "subset of [22]")
    assert exposed_ports(admin, content()) == ("3389",)
    udp = finding("net_unexpected_services_absent", b"80\n161/udp\n", "subset of [80, 443]")
    assert cause_keys(udp, content()) == ("port:161/udp",)
    errored = finding("net_remote_admin_not_exposed", b"nmap failed\n", "subset of [22]", status=E)
    assert cause_keys(errored, content()) == ("net_remote_admin_not_exposed",)  # no port to blame: its own cause
    other = finding(automated_checks(1)[0], b"22\n", "subset of [2222]")
    assert cause_keys(other, content()) == (other.check_id,)
