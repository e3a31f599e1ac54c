"""Agency report and department summary from synthetic store data: roll-ups, diff, escaping, size, PDF."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from auditor.content.catalogue import Catalogue
from auditor.governance.resolve import VerdictOutcome
from auditor.inventory import Agency
from auditor.reports import build_agency_report, build_summary_report, render_html, render_pdf
from auditor.reports.agency import remediation_steps
from auditor.reports.inert import inert_bytes
from auditor.reports.locale import catalogue as string_catalogue
from auditor.reports.locale import strings
from auditor.reports.rollup import assess
from auditor.store import Store, open_store
from auditor.vocabulary import LocalizedText, Status
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

F, P = Status.failed, Status.passed


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'audit.db'}")


def two_runs(store: Store) -> tuple[str, str, list[str]]:
    """Run 1 then run 2 of the same agency: a fixed, b regressed, c still failing, d not re-checked, e new."""
    a, b, c, d, e = automated_checks(5)
    first = store_run(store, [host_result("web-01", {a: F, b: P, c: F, d: F})], {AGENCY.id: AGENCY}, T0)
    second = store_run(
        store, [host_result("web-01", {a: P, b: F, c: F, e: F})], {AGENCY.id: AGENCY}, T0 + timedelta(days=30)
    )
    return first, second, [a, b, c, d, e]


def test_diff_across_two_runs_names_fixed_regressed_new_and_still_failing(store: Store) -> None:
    first, second, (a, b, c, d, e) = two_runs(store)
    report = build_agency_report(store, content(), second, AGENCY.id)
    diff = report.diff
    assert diff is not None and diff.previous_run_id == first
    assert [x.check_id for x in diff.fixed] == [a]
    assert [(x.check_id, x.before, x.after) for x in diff.regressed] == [(b, "pass", "fail")]
    assert [x.check_id for x in diff.still_failing] == [c]
    assert [x.check_id for x in diff.not_rechecked] == [d]
    assert [(x.check_id, x.before) for x in diff.new] == [(e, "")]
    html = render_html(report)
    assert first in html and 'id="diff-fixed"' in html and 'id="diff-regressed"' in html
    # the first run has no previous audit
    assert build_agency_report(store, content(), first, AGENCY.id).diff is None


def test_previous_run_is_the_same_agencys(store: Store) -> None:
    other = Agency(id="other", name=LocalizedText(vi="Đài Khác", en="Other"))
    first, second, _ = two_runs(store)
    third = store_run(
        store,
        [host_result("x-01", dict.fromkeys(automated_checks(2), F), agency=other)],
        {"other": other},
        T0 + timedelta(days=31),
    )
    assert build_agency_report(store, content(), third, "other").diff is None
    summary = build_summary_report(store, content(), [first, second, third])
    assert [a.agency_id for a in summary.agencies] == ["baosoctrang", "other"]
    assert [p.run_id for p in summary.trend] == [first, second, third]
    assert summary.recurring and summary.recurring[0].check_id in automated_checks(5)


def small_catalogue() -> Catalogue:
    check, manual = automated_checks(1)[0], "mgmt_policy_document"
    return Catalogue.model_validate(
        {
            "framework": "TEST 1:2026",
            "title": {"vi": "Thử", "en": "Test"},
            "source": "test",
            "groups": [{"id": "1", "heading": {"vi": "Nhóm", "en": "Group"}}],
            "clauses": [
                {"id": "1.1", "group": "1", "heading": {"vi": "A", "en": "A"}, "confidence": "confirmed",
                 "summary": {"vi": "a", "en": "a"}, "checks": [check]},
                {"id": "1.2", "group": "1", "heading": {"vi": "B", "en": "B"}, "confidence": "confirmed",
                 "summary": {"vi": "b", "en": "b"}, "manual": [manual]},
            ],
        }
    )  # fmt: skip


@pytest.mark.parametrize(
    ("check_status", "manual_status", "verdict"),
    [
        (Status.passed, Status.passed, VerdictOutcome.meets),
        (Status.failed, Status.passed, VerdictOutcome.not_met),
        (Status.passed, Status.manual, VerdictOutcome.not_demonstrated),  # manual item awaiting evidence
        (Status.error, Status.passed, VerdictOutcome.not_demonstrated),  # could not observe: not demonstrated
    ],
)
def test_level3_verdict(store: Store, check_status: Status, manual_status: Status, verdict: VerdictOutcome) -> None:
    check = automated_checks(1)[0]
    agency_row = agency_result()
    agency_row = agency_row.model_copy(
        update={
            "findings": tuple(
                f.model_copy(update={"status": manual_status})
                for f in agency_row.findings
                if f.check_id == "mgmt_policy_document"
            )
        }
    )
    run = store_run(store, [host_result("web-01", {check: check_status}), agency_row], {AGENCY.id: AGENCY}, T0)
    summary = store.get_run(run)
    result = assess(
        summary,
        AGENCY.id,
        store.list_run_hosts(run),
        store.list_findings(run),
        {},
        small_catalogue(),
        "vi",
        strings("vi"),
        content(),
    )
    assert result.verdict is verdict
    assert result.clauses_total == 2
    assert result.groups[0].score_pct == (100 if verdict is VerdictOutcome.meets else 50)  # one of two clauses shown


def test_findings_are_ordered_by_severity_then_clause(store: Store) -> None:
    checks = automated_checks(25)
    run = store_run(store, [host_result("web-01", dict.fromkeys(checks, F))], {AGENCY.id: AGENCY}, T0)
    report = build_agency_report(store, content(), run, AGENCY.id)
    order = ("critical", "high", "medium", "low")
    ranks = [order.index(f.severity) for f in report.findings]
    assert ranks == sorted(ranks)
    assert all(f.steps for f in report.findings)  # the fix as numbered steps, from the content


HIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_hostile_output_stays_inert_in_html(store: Store) -> None:
    check = automated_checks(1)[0]
    run = store_run(store, [host_result("web-01", {check: F}, stdout=HOSTILE)], {AGENCY.id: AGENCY}, T0)
    html = render_html(build_agency_report(store, content(), run, AGENCY.id))
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in html
    assert "\\x1b[31mRED" in html and "\\xff\\xfe" in html and "\\u202eevil-rtl" in html
    assert not HIDDEN.search(html.replace("\n", "").replace("\t", ""))
    assert "<script" not in html.lower()
    assert "default-src 'none'" in html  # a browser would refuse to fetch or run anything anyway


def test_html_is_self_contained(store: Store) -> None:
    first, second, _ = two_runs(store)
    for report in (
        build_agency_report(store, content(), second, AGENCY.id, "en"),
        build_summary_report(store, content(), [first, second], "en"),
    ):
        html = render_html(report)
        assert "<style>" in html and "<svg" in html
        assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:|//|file:)""", html)
        assert "@import" not in html and "url(" not in html
        assert "<link" not in html


def test_long_output_is_trimmed_with_a_visible_note(store: Store) -> None:
    check = automated_checks(1)[0]
    big = "Việt Nam ".encode() * 20000
    run = store_run(store, [host_result("web-01", {check: F}, stdout=big)], {AGENCY.id: AGENCY}, T0)
    report = build_agency_report(store, content(), run, AGENCY.id)
    shown = report.evidence[0].stdout
    assert shown.total_bytes == len(big) and shown.omitted_bytes > len(big) - 2000
    assert f"đã lược bỏ {shown.omitted_bytes} byte" in render_html(report)
    trimmed = inert_bytes("ắ".encode() * 3, 4)  # a character cut at the limit is left out whole
    assert (trimmed.text, trimmed.omitted_bytes) == ("ắ", 6)


def test_size_budget_five_hosts_hundred_checks(store: Store, tmp_path: Path) -> None:
    unique = list(dict.fromkeys(automated_checks(100)))
    unique += [f"synthetic_check_{i:03d}" for i in range(100 - len(unique))]  # own checks unknown to the content
    hosts = []
    for index in range(5):
        statuses = {check: (F if i % 2 else P) for i, check in enumerate(unique)}
        hosts.append(host_result(f"web-{index:02d}", statuses, stdout=HOSTILE * 700))  # ~120 KB per probe
    run = store_run(store, [*hosts, agency_result()], {AGENCY.id: AGENCY}, T0)
    html = render_html(build_agency_report(store, content(), run, AGENCY.id))
    size = len(html.encode("utf-8"))
    (tmp_path / "size.txt").write_text(f"{len(unique)} checks x 5 hosts: {size} bytes\n")
    print(f"agency report, 5 hosts x {len(unique)} checks, half failing with ~120 KB outputs: {size} bytes")
    assert size < 2 * 1024 * 1024


def test_every_string_has_both_languages_and_templates_use_only_known_keys() -> None:
    keys = set(string_catalogue())
    used = set()
    for template in Path("reports/templates").glob("*.j2"):
        used |= set(re.findall(r"\bt\.([a-z_]+)", template.read_text(encoding="utf-8")))
    assert used <= keys, used - keys
    assert strings("vi").get("fix") == "Khắc phục" and strings("en").get("fix") == "How to fix"


def test_remediation_steps() -> None:
    text = "Đặt “PermitRootLogin no” trong /etc/ssh/sshd_config, kiểm tra bằng “sshd -t”. Nạp lại sshd."
    assert remediation_steps(text) == ("Đặt “PermitRootLogin no” trong /etc/ssh/sshd_config, kiểm tra bằng “sshd -t”.",
                                       "Nạp lại sshd.")  # fmt: skip
    assert remediation_steps("- one\n- two\n") == ("one", "two")
    assert remediation_steps("Run “useradd -D -f 45” (or set INACTIVE=45).") == (
        "Run “useradd -D -f 45” (or set INACTIVE=45).",
    )


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_pdf_keeps_vietnamese_and_shows_hostile_text(store: Store, tmp_path: Path) -> None:
    check = automated_checks(1)[0]
    run = store_run(store, [host_result("web-01", {check: F}, stdout=HOSTILE)], {AGENCY.id: AGENCY}, T0)
    pdf = render_pdf(render_html(build_agency_report(store, content(), run, AGENCY.id)))
    assert pdf.startswith(b"%PDF")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True).stdout
    decoded = text.decode("utf-8")
    assert "Khắc phục" in decoded and "Báo Sóc Trăng" in decoded
    assert "<script>alert('xss')</script>" in decoded  # shown as text, never interpreted


def test_a_shared_source_is_one_evidence_entry_showing_the_lines_its_checks_read(store: Store) -> None:
    sshd_t = b"port 22\naddressfamily any\npermitrootlogin yes\nx11forwarding yes\nmaxsessions 10\n"
    shared = host_result(
        "web-01", {"sshd_permit_root_login_disabled": F, "sshd_x11_forwarding_disabled": F}, stdout=sshd_t
    )
    record = shared.observations[0].model_copy(update={"probe_id": "source.sshd_effective", "command": "sshd -T"})
    findings = tuple(f.model_copy(update={"evidence_probe_id": record.probe_id}) for f in shared.findings)
    shared = shared.model_copy(update={"observations": (record,), "findings": findings})
    run_id = store_run(store, [shared, agency_result()], {AGENCY.id: AGENCY}, T0)
    report = build_agency_report(store, content(), run_id, AGENCY.id, lang="vi")
    (evidence,) = report.evidence
    assert evidence.probe_id == "source.sshd_effective" and evidence.verified
    assert evidence.check_ids == ("sshd_permit_root_login_disabled", "sshd_x11_forwarding_disabled")
    assert evidence.stdout_excerpt and evidence.stdout_bytes == len(sshd_t)
    assert evidence.stdout.text == "permitrootlogin yes\nx11forwarding yes"  # not the whole sshd -T
    html = render_html(report)
    assert "“auditor evidence”" in html and html.count('class="evidence"') == 1
