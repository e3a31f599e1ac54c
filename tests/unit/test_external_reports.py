"""Imported results (auditor import) in the department summary and the yearly official reports: a clause that only
an imported result fails is not met there, as in the agency report and the verdict, and the tool is named. And
`checklist validate` checks the mapping files as the import loads them."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from auditor.cli.app import run as cli
from auditor.content.loader import builtin_content_dir
from auditor.external.mapping import mapping_path
from auditor.governance.resolve import ClauseState, VerdictOutcome
from auditor.reports.agency import build_agency_report
from auditor.reports.official import (
    Paragraph,
    Table,
    build_agency_yearly_report,
    build_yearly_report,
    report_moment,
    tally,
)
from auditor.reports.official_settings import default_settings
from auditor.reports.render import render_html
from auditor.reports.summary import build_summary_report
from auditor.store import Store, open_store
from auditor.vocabulary import Status
from tests.unit.test_external import AGENCY, ARF, _import
from tests.unit.test_reports_support import T0, content, host_result, store_run

FRAMEWORK = "TCVN 11930:2017"
CLAUSE = "7.2.2.2"  # the recorded ARF fails sshd_disable_root_login, mapped to it
OPENSCAP_WORDS = "OpenSCAP (nhập từ công cụ khác)"
REPORT_DAY = date(2026, 11, 25)  # after the audit (T0) and the import (T0 + 1 day), same year


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'x.db'}")


def _audit_passing_the_access_clauses(store: Store) -> str:
    """An audit of the agency where every check of clauses 7.2.2.1 and 7.2.2.2 passes."""
    clauses = {c.id: c for c in content().catalogues[FRAMEWORK].clauses}
    checks = [*clauses["7.2.2.1"].checks, *clauses[CLAUSE].checks, *clauses[CLAUSE].network_checks]
    result = host_result("labh2", dict.fromkeys(checks, Status.passed), agency=AGENCY, address="10.200.2.2")
    return store_run(store, [result], {AGENCY.id: AGENCY}, T0)


def _states(clauses) -> dict[str, ClauseState]:  # type: ignore[no-untyped-def]
    return {c.id: c.state for c in clauses}


def test_summary_counts_the_import_like_the_agency_report_and_names_the_tool(store: Store) -> None:
    run = _audit_passing_the_access_clauses(store)
    moment = T0 + timedelta(days=30)
    before = build_summary_report(store, content(), [run], now=moment, as_of=moment)
    (alone,) = before.agencies
    assert _states(alone.clauses)[CLAUSE] is ClauseState.met and alone.sources == ("auditor",)
    assert before.source_words == {}

    _import(store, content(), "openscap", ARF, "labh2", now=T0 + timedelta(days=1))
    summary = build_summary_report(store, content(), [run], now=moment, as_of=moment)
    (assessment,) = summary.agencies
    clause = next(c for c in assessment.clauses if c.id == CLAUSE)
    assert clause.state is ClauseState.failed and clause.sources == ("auditor", "external:openscap")
    assert assessment.verdict is VerdictOutcome.not_met and summary.meeting == ()
    assert assessment.sources == ("auditor", "external:openscap")
    # exactly what the agency report of the same run says, as of the same moment
    report = build_agency_report(store, content(), run, AGENCY.id, now=moment, as_of=moment)
    assert report.assessment == assessment
    assert summary.source_words == {"external:openscap": OPENSCAP_WORDS}
    html = render_html(summary)
    shown = html.split(f'data-agency="{AGENCY.id}" data-figure="sources">')[1].split("</span></span>")[0]
    assert "Có tính kết quả nhập từ" in shown and OPENSCAP_WORDS in shown
    # judged as of a moment before the import, the import is not counted
    earlier = build_summary_report(store, content(), [run], now=moment, as_of=T0 + timedelta(hours=12))
    assert _states(earlier.agencies[0].clauses)[CLAUSE] is ClauseState.met
    assert 'data-figure="sources"' not in render_html(earlier)


def _yearly_row(store: Store) -> tuple[str, ...]:
    document = build_yearly_report(store, content(), default_settings(), REPORT_DAY)
    (table,) = [b for b in document.blocks if isinstance(b, Table)]
    (row,) = table.rows
    return row


def _paragraphs(document) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(b.text for b in document.blocks if isinstance(b, Paragraph))


def test_yearly_table_counts_the_clause_failed_by_the_import_and_names_the_tool(store: Store) -> None:
    run = _audit_passing_the_access_clauses(store)
    before = _yearly_row(store)
    assert before[1] == AGENCY.name.vi and before[2] == "Chưa đủ căn cứ kết luận" and before[4] == "0"
    assert "OpenSCAP" not in before[7]

    _import(store, content(), "openscap", ARF, "labh2", now=T0 + timedelta(days=1))
    row = _yearly_row(store)
    assert row[2] == "Chưa đáp ứng cấp độ 3"
    # the summary roll-up's figures as of the report date, the import counted: 7.2.2.1 to 7.2.2.4 fail by it alone
    moment = report_moment(REPORT_DAY, default_settings())
    (assessment,) = build_summary_report(store, content(), [run], now=moment, as_of=moment).agencies
    clauses = tally(assessment.clauses)
    assert row[3:7] == (str(clauses.met), str(clauses.failed), str(clauses.awaiting), str(clauses.not_evaluated))
    assert clauses.failed == 4 and int(row[3]) < int(before[3])  # clauses the audit met are not met any more
    assert f"kết quả không đạt theo {OPENSCAP_WORDS}" in row[7]
    document = build_yearly_report(store, content(), default_settings(), REPORT_DAY)
    assert f"Kết luận có tính kết quả nhập từ công cụ khác: {OPENSCAP_WORDS}." in _paragraphs(document)


def test_agency_yearly_report_names_the_tool_and_lists_its_failures(store: Store) -> None:
    _audit_passing_the_access_clauses(store)
    _import(store, content(), "openscap", ARF, "labh2", now=T0 + timedelta(days=1))
    document = build_agency_yearly_report(store, content(), default_settings(), AGENCY.id, REPORT_DAY)
    text = _paragraphs(document)
    assert f"Kết luận có tính kết quả nhập từ công cụ khác: {OPENSCAP_WORDS}." in text
    rows = store.external_findings(AGENCY.id, T0 + timedelta(days=2))
    mapped_failures = sum(1 for r in rows if r.status is Status.failed and r.requirements)
    assert mapped_failures == 10  # eleven failures, one of them unmapped: it counts in nothing
    assert f"{mapped_failures} kết quả không đạt theo {OPENSCAP_WORDS}" in text
    assert "Chưa đáp ứng cấp độ 3" in text


def test_checklist_validate_checks_the_mapping_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["checklist", "validate", "--lang", "en"]) == 0
    assert _flat("2 mappings of other tools' results") in _flat(capsys.readouterr().out)
    own = tmp_path / "content" / "external"
    own.mkdir(parents=True)
    shipped = mapping_path(builtin_content_dir(), "lynis").read_text(encoding="utf-8")
    entry = shipped.index("  SSH-7408:")
    broken = shipped[:entry] + shipped[entry:].replace('clause: "7.2.2.2"', 'clause: "7.9.9"', 1)
    (own / "lynis.yml").write_text(broken, encoding="utf-8")
    (own / "nessus.yml").write_text("tool: nessus\n", encoding="utf-8")
    assert cli(["checklist", "validate", "--content-dir", str(tmp_path / "content"), "--lang", "en"]) == 3
    err = _flat(capsys.readouterr().err)  # the console wraps long lines, even inside a path
    assert _flat(f"{own / 'lynis.yml'}: mapping: 1 problem(s)") in err
    assert _flat("results → SSH-7408 → requirements[0] → clause: TCVN 11930:2017 has no clause '7.9.9'") in err
    assert _flat(f"{own / 'nessus.yml'}: no tool 'nessus'") in err


def _flat(text: str) -> str:
    return "".join(text.split())
