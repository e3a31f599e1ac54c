"""Build the department summary over one or more runs: every agency's latest standing and the trend."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from auditor.content.loader import Content
from auditor.errors import NotFoundError
from auditor.foreign import foreign
from auditor.governance.resolve import VerdictOutcome
from auditor.reports.agency import pick_catalogue
from auditor.reports.external import imported_results, imported_sources, source_words
from auditor.reports.locale import strings
from auditor.reports.models import (
    FAILING,
    SEVERITY_ORDER,
    AgencyAssessment,
    Lang,
    RecurringFailure,
    SummaryReport,
    TrendPoint,
)
from auditor.reports.rollup import assess, effective_status
from auditor.reports.timing import ReportSettings, report_settings
from auditor.store import FindingRow, RunSummary, Store

TREND_WIDTH = 640
TREND_HEIGHT = 160
TOP_RECURRING = 10


def build_summary_report(
    store: Store,
    content: Content,
    run_refs: Sequence[str],
    lang: Lang = "vi",
    framework: str | None = None,
    now: datetime | None = None,
    as_of: datetime | None = None,
    settings: ReportSettings | None = None,
) -> SummaryReport:
    """``settings``: time zone and reporting day (default: the profile's inputs)."""
    if not run_refs:
        raise NotFoundError(foreign("report_give_a_run"))
    runs = sorted({r.id: r for r in (store.get_run(ref) for ref in run_refs)}.values(), key=lambda r: r.started_at)
    catalogue = pick_catalogue(content, framework)
    settings = settings or report_settings(content.profile)
    moment = now or datetime.now(UTC)
    deadline = settings.next_reporting_date(moment)
    t = strings(lang)
    latest: dict[str, AgencyAssessment] = {}
    latest_findings: dict[str, list[FindingRow]] = {}
    per_run: list[tuple[RunSummary, list[AgencyAssessment], list[FindingRow]]] = []
    for run in runs:
        hosts = store.list_run_hosts(run.id)
        findings = store.list_findings(run.id)
        resolved = store.resolved_findings(findings, as_of or moment)
        assessments = []
        for agency_id in sorted({h.agency_id for h in hosts}):
            imported = imported_results(store, agency_id, as_of or moment, exclude_run=run.id)  # as the agency report
            assessment = assess(
                run, agency_id, hosts, findings, resolved, catalogue, lang, t, content, external=imported.judged
            )
            assessments.append(assessment)
            latest[agency_id] = assessment  # runs are in time order: the last one wins
            latest_findings[agency_id] = [
                f for f in findings if f.agency_id == agency_id and effective_status(f, resolved) in FAILING
            ]
        per_run.append((run, assessments, findings))
    agencies = tuple(sorted(latest.values(), key=lambda a: a.agency_id))
    trend_points = _trend(per_run)
    return SummaryReport(
        lang=lang,
        generated_at=moment,
        timezone=settings.timezone,
        tool_version=runs[-1].tool_version,
        framework=catalogue.framework,
        framework_title=catalogue.title.get(lang),
        framework_provisional=catalogue.provisional,
        run_ids=tuple(r.id for r in runs),
        groups=tuple((g.id, g.heading.get(lang)) for g in catalogue.groups),
        agencies=agencies,
        meeting=tuple(a.agency_id for a in agencies if a.verdict is VerdictOutcome.meets),
        trend=trend_points,
        trend_width=TREND_WIDTH,
        trend_height=TREND_HEIGHT,
        recurring=recurring_failures(latest_findings, content, lang),
        report_year=deadline.year,
        reporting_deadline=deadline,
        source_words={s: source_words(s, lang) for a in agencies for s in imported_sources(a.sources)},
    )


def _trend(
    per_run: Sequence[tuple[RunSummary, Sequence[AgencyAssessment], Sequence[FindingRow]]],
) -> tuple[TrendPoint, ...]:
    slot = TREND_WIDTH // max(1, len(per_run))
    chart_height = TREND_HEIGHT - 40  # room for the labels under the bars
    points = []
    for index, (run, assessments, findings) in enumerate(per_run):
        rate = pass_rate(Counter(f.status.value for f in findings)) or 0
        height = rate * chart_height // 100
        points.append(
            TrendPoint(
                run_id=run.id,
                started_at=run.started_at,
                agencies_total=len(assessments),
                agencies_meeting=sum(1 for a in assessments if a.verdict is VerdictOutcome.meets),
                pass_rate_pct=rate,
                x=index * slot + slot // 6,
                bar_width=slot * 2 // 3,
                label_x=index * slot + slot // 2,
                height=height,
                y=chart_height - height + 16,
                value_y=chart_height - height + 12,
            )
        )
    return tuple(points)


def pass_rate(counts: Mapping[str, int]) -> int | None:
    """Automated results passing, raw (before attestations and waivers), in whole percent of those passing, failing
    or in error; None when there is none."""
    judged = counts.get("pass", 0) + counts.get("fail", 0) + counts.get("error", 0)
    return counts.get("pass", 0) * 100 // judged if judged else None


def recurring_failures(
    findings_by_agency: Mapping[str, Sequence[FindingRow]], content: Content, lang: Lang
) -> tuple[RecurringFailure, ...]:
    """The checks failing in the most agencies (then on the most targets, the most severe first), at most
    TOP_RECURRING; ``findings_by_agency`` holds each agency's failing findings only."""
    agencies_of: dict[str, set[str]] = {}
    hosts_of: dict[str, set[tuple[str, str]]] = {}
    severity_of: dict[str, str] = {}
    for agency_id, findings in findings_by_agency.items():
        for finding in findings:
            agencies_of.setdefault(finding.check_id, set()).add(agency_id)
            hosts_of.setdefault(finding.check_id, set()).add((agency_id, finding.host_name))
            severity_of[finding.check_id] = finding.severity.value
    ranked = sorted(
        agencies_of,
        key=lambda c: (-len(agencies_of[c]), -len(hosts_of[c]), SEVERITY_ORDER.index(severity_of[c]), c),
    )
    return tuple(
        RecurringFailure(
            check_id=check_id,
            title=content.checks[check_id].title.get(lang) if check_id in content.checks else check_id,
            severity=severity_of[check_id],
            agencies=tuple(sorted(agencies_of[check_id])),
            hosts=len(hosts_of[check_id]),
        )
        for check_id in ranked[:TOP_RECURRING]
    )
