"""Roll-ups of one agency in one run: per clause, per requirement group, per severity; the level-3 verdict."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from auditor.catalogue import Catalogue
from auditor.content import Content
from auditor.findings import RequirementRef
from auditor.reports.locale import Strings
from auditor.reports.models import (
    FAILING,
    SEVERITY_ORDER,
    AgencyAssessment,
    Bar,
    Chart,
    ClauseState,
    ClauseView,
    GroupView,
    Lang,
    Verdict,
)
from auditor.store import FindingRow, RunHostRow, RunSummary

UNMAPPED_GROUP = "-"
_WORST_FIRST: tuple[ClauseState, ...] = (
    ClauseState.failed,
    ClauseState.error,
    ClauseState.pending,
    ClauseState.no_evidence,
    ClauseState.passed,
    ClauseState.not_applicable,
)


def clause_key(clause: str) -> tuple[int, ...]:
    """Natural order of clause numbers: 7.2.10 after 7.2.9."""
    return tuple(int(part) if part.isdigit() else 0 for part in clause.split("."))


def refs_of(finding: FindingRow, content: Content) -> tuple[RequirementRef, ...]:
    """The clauses stored with the finding; the current catalogues when the run recorded none."""
    return finding.requirements or content.requirements_of(finding.check_id)


def clause_state(statuses: Sequence[str]) -> ClauseState:
    seen = set(statuses)
    if "fail" in seen:
        return ClauseState.failed
    if "error" in seen:
        return ClauseState.error
    if "manual" in seen:
        return ClauseState.pending
    if "pass" in seen:
        return ClauseState.passed
    if "not_applicable" in seen:
        return ClauseState.not_applicable
    return ClauseState.no_evidence


def assess(
    run: RunSummary,
    agency_id: str,
    hosts: Sequence[RunHostRow],
    findings: Sequence[FindingRow],
    catalogue: Catalogue,
    content: Content,
    lang: Lang,
    strings: Strings,
) -> AgencyAssessment:
    """The roll-up of one agency's targets and findings in one run against one catalogue."""
    own_hosts = [h for h in hosts if h.agency_id == agency_id]
    own = [f for f in findings if f.agency_id == agency_id]
    by_clause: dict[str, list[str]] = {clause.id: [] for clause in catalogue.clauses}
    for finding in own:
        for ref in refs_of(finding, content):
            if ref.framework == catalogue.framework and ref.clause in by_clause:
                by_clause[ref.clause].append(finding.status.value)
    clauses = tuple(
        ClauseView(
            id=clause.id,
            group_id=clause.group,
            heading=clause.heading.get(lang),
            state=clause_state(by_clause[clause.id]),
            failed=by_clause[clause.id].count("fail"),
            errors=by_clause[clause.id].count("error"),
            passed=by_clause[clause.id].count("pass"),
            pending=by_clause[clause.id].count("manual"),
        )
        for clause in sorted(catalogue.clauses, key=lambda c: clause_key(c.id))
    )
    groups = tuple(_group(group.id, group.heading.get(lang), clauses) for group in catalogue.groups)
    status_counts = Counter(f.status.value for f in own)
    severity_failing = Counter(f.severity.value for f in own if f.status.value in FAILING)
    failing_checks = tuple(sorted({f.check_id for f in own if f.status.value in FAILING}))
    demonstrated = sum(1 for c in clauses if c.state.demonstrated)
    verdict, reasons = _verdict(status_counts, clauses, strings)
    name = own_hosts[0].agency_name if own_hosts else None
    return AgencyAssessment(
        agency_id=agency_id,
        name_vi=name.vi if name else agency_id,
        name_en=name.en if name else agency_id,
        run_id=run.id,
        started_at=run.started_at,
        verdict=verdict,
        verdict_reasons=reasons,
        groups=groups,
        clauses=clauses,
        status_counts={status: status_counts.get(status, 0) for status in run.finding_counts},
        severity_failing={severity: severity_failing.get(severity, 0) for severity in SEVERITY_ORDER},
        failing_checks=failing_checks,
        hosts_total=sum(1 for h in own_hosts if h.kind == "host"),
        hosts_error=sum(1 for h in own_hosts if h.kind == "host" and h.status.value == "error"),
        manual_pending=status_counts.get("manual", 0),
        clauses_demonstrated=demonstrated,
        clauses_total=len(clauses),
    )


def _group(group_id: str, heading: str, clauses: Sequence[ClauseView]) -> GroupView:
    own = [c for c in clauses if c.group_id == group_id]
    demonstrated = sum(1 for c in own if c.state.demonstrated)
    score = demonstrated * 100 // len(own) if own else 0
    worst = next((state for state in _WORST_FIRST if any(c.state is state for c in own)), ClauseState.no_evidence)
    failed = sum(1 for c in own if c.state in (ClauseState.failed, ClauseState.error))
    heat = 0 if failed else min(4, 1 + score // 25)
    return GroupView(
        id=group_id,
        heading=heading,
        clauses_total=len(own),
        clauses_demonstrated=demonstrated,
        clauses_failed=failed,
        score_pct=score,
        state=worst,
        heat=heat,
    )


def _verdict(
    status_counts: Counter[str], clauses: Sequence[ClauseView], strings: Strings
) -> tuple[Verdict, tuple[str, ...]]:
    reasons: list[str] = []
    failed, errors, pending = (
        status_counts.get("fail", 0),
        status_counts.get("error", 0),
        status_counts.get("manual", 0),
    )
    missing = sum(1 for c in clauses if c.state is ClauseState.no_evidence)
    if failed:
        reasons.append(strings.format("reason_failed", n=failed))
    if errors:
        reasons.append(strings.format("reason_errors", n=errors))
    if pending:
        reasons.append(strings.format("reason_pending", n=pending))
    if missing:
        reasons.append(strings.format("reason_no_evidence", n=missing))
    if failed:
        return Verdict.not_met, tuple(reasons)
    if reasons:
        return Verdict.not_demonstrated, tuple(reasons)
    return Verdict.meets, (strings.format("reason_meets"),)


def bar_chart(items: Sequence[tuple[str, int, str]], maximum: int, width: int = 640, label_width: int = 300) -> Chart:
    """Horizontal bars: (label, value, css class); lengths scaled to ``maximum``."""
    row = 22
    span = width - label_width - 60
    bars = []
    for index, (label, value, css) in enumerate(items):
        length = max(0, min(span, value * span // maximum)) if maximum else 0
        bars.append(
            Bar(
                label=label,
                value=value,
                bar_y=index * row + 4,
                text_y=index * row + 15,
                width=length,
                value_x=label_width + length + 4,
                css=css,
            )
        )
    return Chart(
        width=width, height=max(row, len(bars) * row), label_width=label_width, track_width=span, bars=tuple(bars)
    )
