"""Roll-ups of one agency in one run: per clause, per requirement group, per severity; the level-3 verdict."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from auditor.content.catalogue import Catalogue
from auditor.content.loader import Content
from auditor.governance.resolve import ClauseState, Resolved, VerdictOutcome, judge_agency
from auditor.reports.causes import group_by_cause
from auditor.reports.locale import Strings
from auditor.reports.models import (
    FAILING,
    SEVERITY_ORDER,
    AgencyAssessment,
    Bar,
    Chart,
    ClauseView,
    GroupView,
    Lang,
    Segment,
    StackedBar,
    StackedChart,
)
from auditor.store import FindingRow, RunHostRow, RunSummary
from auditor.vocabulary import RequirementRef

UNMAPPED_GROUP = "-"
_WORST_FIRST: tuple[ClauseState, ...] = tuple(ClauseState)  # the enum lists the states worst first


def clause_key(clause: str) -> tuple[int, ...]:
    """Natural order of clause numbers: 7.2.10 after 7.2.9."""
    return tuple(int(part) if part.isdigit() else 0 for part in clause.split("."))


def refs_of(finding: FindingRow, content: Content) -> tuple[RequirementRef, ...]:
    """The clauses stored with the finding; the current catalogues when the run recorded none."""
    return finding.requirements or content.requirements_of(finding.check_id)


def clause_labels(finding: FindingRow, content: Content) -> tuple[str, ...]:
    """The finding's clauses as people cite them (framework, then clause number)."""
    return tuple(f"{r.framework} {r.clause}" for r in refs_of(finding, content))


@dataclass(frozen=True)
class CheckFailures:
    """One failing check with its failing findings."""

    check_id: str
    severity: str  # the most severe of its findings
    refs: tuple[RequirementRef, ...]  # the clauses it is judged against (those of its first finding)
    findings: tuple[FindingRow, ...]  # by target name


def failing_by_check(failing: Iterable[FindingRow], framework: str, content: Content) -> tuple[CheckFailures, ...]:
    """Failing findings by check, in the order fixes are listed: the most severe first, then by the first clause
    of ``framework`` the check is judged against (checks outside it last), then by check id."""
    by_check: dict[str, list[FindingRow]] = {}
    for finding in failing:
        by_check.setdefault(finding.check_id, []).append(finding)
    ranked = []
    for check_id, rows in by_check.items():
        refs = refs_of(rows[0], content)
        severity = min((r.severity.value for r in rows), key=SEVERITY_ORDER.index)
        first_clause = min((clause_key(r.clause) for r in refs if r.framework == framework), default=(999,))
        ranked.append(
            (
                (SEVERITY_ORDER.index(severity), first_clause, check_id),
                CheckFailures(check_id, severity, refs, tuple(sorted(rows, key=lambda r: r.host_name))),
            )
        )
    return tuple(item for _key, item in sorted(ranked, key=lambda pair: pair[0]))


def effective_status(finding: FindingRow, resolved: Mapping[int, Resolved]) -> str:
    """The status after attestations (manual items) as resolved for the report's moment."""
    outcome = resolved.get(finding.id)
    return outcome.status.value if outcome is not None else finding.status.value


def resolved_keys(findings: Sequence[FindingRow], resolved: Mapping[int, Resolved]) -> list[Resolved]:
    """Each finding as the verdict judges it: its resolution, or its raw status when nothing resolved it."""
    return [
        resolved.get(f.id)
        or Resolved(
            finding_id=f.id,
            agency_id=f.agency_id,
            target=f.host_name,
            check_id=f.check_id,
            raw_status=f.status,
            status=f.status,
            source=f.source,
            requirements=f.requirements if f.source else (),
        )
        for f in findings
    ]


def assess(
    run: RunSummary,
    agency_id: str,
    hosts: Sequence[RunHostRow],
    findings: Sequence[FindingRow],
    resolved: Mapping[int, Resolved],
    catalogue: Catalogue,
    lang: Lang,
    strings: Strings,
    content: Content,
    external: Sequence[Resolved] = (),
) -> AgencyAssessment:
    """The roll-up of one agency's targets and findings in one run against one catalogue: every figure the
    reports show is read from it.

    Clause states and the verdict come from auditor.resolve.judge_agency (attestations and waivers applied), so
    the report says what `auditor verdict` says."""
    own_hosts = [h for h in hosts if h.agency_id == agency_id]
    own = [f for f in findings if f.agency_id == agency_id]
    keyed = resolved_keys(own, resolved)
    judged = judge_agency(agency_id, catalogue, [*keyed, *external])  # imported results evidence clauses too
    headings = {clause.id: clause.heading.get(lang) for clause in catalogue.clauses}
    clauses = tuple(
        ClauseView(
            id=c.clause,
            group_id=c.group,
            heading=headings[c.clause],
            state=c.state,
            failed=c.failed,
            errors=c.errors,
            waived=c.waived,
            pending=c.awaiting,
            findings=c.findings,
            sources=c.sources,
        )
        for c in sorted(judged.clauses, key=lambda c: clause_key(c.clause))
    )
    groups = tuple(_group(group.id, group.heading.get(lang), clauses) for group in catalogue.groups)
    statuses = [effective_status(f, resolved) for f in own]
    status_counts = Counter(statuses)
    severity_failing = Counter(f.severity.value for f, st in zip(own, statuses, strict=True) if st in FAILING)
    failing_checks = tuple(sorted({f.check_id for f, st in zip(own, statuses, strict=True) if st in FAILING}))
    waived = sum(1 for r in keyed if r.waived)
    waived_ids = {r.finding_id for r in keyed if r.waived}
    failed_rows = [f for f, st in zip(own, statuses, strict=True) if st == "fail" and f.id not in waived_ids]
    failing_rows = [f for f, st in zip(own, statuses, strict=True) if st in FAILING]
    by_scope = Counter(_scope_of(f.check_id, content) for f in failed_rows)
    demonstrated = sum(1 for c in clauses if c.state.demonstrated)
    reasons = _reasons(judged.outcome, status_counts, waived, clauses, strings)
    name = own_hosts[0].agency_name if own_hosts else None
    return AgencyAssessment(
        agency_id=agency_id,
        name_vi=name.vi if name else agency_id,
        name_en=name.en if name else agency_id,
        run_id=run.id,
        started_at=run.started_at,
        verdict=judged.outcome,
        verdict_reasons=reasons,
        groups=groups,
        clauses=clauses,
        status_counts={status: status_counts.get(status, 0) for status in run.finding_counts},
        severity_failing={severity: severity_failing.get(severity, 0) for severity in SEVERITY_ORDER},
        failing_checks=failing_checks,
        waived=waived,
        hosts_total=sum(1 for h in own_hosts if h.kind == "host"),
        hosts_error=sum(1 for h in own_hosts if h.kind == "host" and h.status.value == "error"),
        manual_pending=status_counts.get("manual", 0),
        clauses_demonstrated=demonstrated,
        clauses_total=len(clauses),
        results_failed=len(failed_rows),
        results_error=status_counts.get("error", 0),
        results_failed_by_scope={scope: by_scope.get(scope, 0) for scope in ("host", "network")},
        causes=tuple(group_by_cause(failing_rows, content)),
        targets_total=len(own_hosts),
        sources=tuple(sorted({source for c in judged.clauses for source in c.sources})),
    )


def _scope_of(check_id: str, content: Content) -> str:
    check = content.checks.get(check_id)
    return check.scope if check is not None else "host"


def _group(group_id: str, heading: str, clauses: Sequence[ClauseView]) -> GroupView:
    own = [c for c in clauses if c.group_id == group_id]
    demonstrated = sum(1 for c in own if c.state.demonstrated)
    score = demonstrated * 100 // len(own) if own else 0
    worst = next((state for state in _WORST_FIRST if any(c.state is state for c in own)), ClauseState.not_evaluated)
    failed = sum(1 for c in own if c.state in (ClauseState.failed, ClauseState.error))
    heat = 0 if failed else min(4, 1 + score // 25)
    return GroupView(
        id=group_id,
        heading=heading,
        clauses_total=len(own),
        clauses_demonstrated=demonstrated,
        clauses_failed=failed,
        clauses_met=demonstrated,
        clauses_not_met=failed,
        clauses_awaiting=sum(1 for c in own if c.state is ClauseState.awaiting_evidence),
        clauses_not_evaluated=sum(1 for c in own if c.state is ClauseState.not_evaluated),
        score_pct=score,
        state=worst,
        heat=heat,
    )


def _reasons(
    outcome: VerdictOutcome, status_counts: Counter[str], waived: int, clauses: Sequence[ClauseView], strings: Strings
) -> tuple[str, ...]:
    """What the verdict rests on, in sentences (the verdict itself comes from auditor.governance.resolve)."""
    reasons: list[str] = [strings.format("reason_meets")] if outcome is VerdictOutcome.meets else []
    failed = status_counts.get("fail", 0) - waived  # = AgencyAssessment.results_failed
    errors, pending = status_counts.get("error", 0), status_counts.get("manual", 0)
    missing = sum(1 for c in clauses if c.state is ClauseState.not_evaluated)
    if failed:
        reasons.append(strings.format("reason_failed", n=failed))
    if errors:
        reasons.append(strings.format("reason_errors", n=errors))
    if pending:
        reasons.append(strings.format("reason_pending", n=pending))
    if missing:
        reasons.append(strings.format("reason_no_evidence", n=missing))
    if waived:
        reasons.append(strings.format("reason_waived", n=waived))
    return tuple(reasons)


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


GROUP_STATES: tuple[str, ...] = ("met", "not_met", "awaiting_evidence", "not_evaluated")


def group_state_chart(
    groups: Sequence[GroupView], width: int = 640, label_width: int = 250, row: int = 22
) -> StackedChart:
    """One bar per requirement group, split into its clauses met / not met / awaiting evidence / not evaluated."""
    span = width - label_width - 10
    bars = []
    for index, group in enumerate(groups):
        values = (group.clauses_met, group.clauses_not_met, group.clauses_awaiting, group.clauses_not_evaluated)
        segments, x = [], label_width
        for state, value in zip(GROUP_STATES, values, strict=True):
            length = value * span // group.clauses_total if group.clauses_total else 0
            segments.append(Segment(state=state, value=value, x=x, width=length))
            x += length
        bars.append(
            StackedBar(
                label=f"{group.id} {group.heading}",
                y=index * row + 4,
                text_y=index * row + 15,
                segments=tuple(segments),
            )
        )
    return StackedChart(
        width=width,
        height=max(row, len(bars) * row),
        label_width=label_width,
        track_width=span,
        states=GROUP_STATES,
        bars=tuple(bars),
    )
