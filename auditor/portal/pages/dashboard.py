"""The department's dashboard: every agency's standing, the verdicts in numbers, the trend, the checks failing
in several agencies, the fixes overdue and the evidence still awaited."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from auditor.governance.resolve import VerdictOutcome
from auditor.portal.access import Access, principal, route
from auditor.portal.context import portal_of
from auditor.portal.fixes import OVERDUE_FIX_DAYS, overdue_evidence, overdue_fixes
from auditor.portal.heatmap import heat_row, state_totals
from auditor.portal.standings import MAX_RUNS, TREND_RUNS, all_standings, spark
from auditor.portal.web import lang_of, render
from auditor.reports.agency import CheckTexts, pick_catalogue
from auditor.reports.external import imported_sources, source_words
from auditor.reports.models import SEVERITY_ORDER
from auditor.reports.rollup import GROUP_STATES, bar_chart
from auditor.reports.summary import pass_rate, recurring_failures

router = APIRouter()


@route(router, "/dashboard", access=Access.read_all)
def dashboard(request: Request) -> Response:
    portal, lang = portal_of(request), lang_of(request)
    every_run = portal.store.list_runs(MAX_RUNS)  # newest first
    standings = all_standings(portal, lang, every_run)
    judged = [s for s in standings if s.assessment is not None]
    verdicts = [s.assessment.verdict for s in judged if s.assessment is not None]
    fixes = [fix for s in judged for fix in overdue_fixes(portal.store, s, portal.now())]
    fixes.sort(key=lambda x: (SEVERITY_ORDER.index(x.finding.severity.value), x.standing.agency_id, x.finding.check_id))
    failing = {s.agency_id: list(s.failing) for s in judged}
    runs = list(reversed(every_run[:TREND_RUNS]))
    trend = bar_chart(
        [(f"{r.started_at:%Y-%m-%d} {r.id}", pass_rate(r.finding_counts) or 0, "heat-3") for r in runs], 100
    )
    catalogue = pick_catalogue(portal.content, None)
    evidence = [e for e in (overdue_evidence(s) for s in judged) if e is not None]
    heat = {s.agency_id: heat_row(s.assessment.groups) for s in judged if s.assessment is not None}
    context = {
        "standings": standings,
        "judged": judged,
        "meeting": sum(1 for v in verdicts if v is VerdictOutcome.meets),
        "not_met": sum(1 for v in verdicts if v is VerdictOutcome.not_met),
        "not_demonstrated": sum(1 for v in verdicts if v is VerdictOutcome.not_demonstrated),
        "sparks": {s.agency_id: spark(s.runs) for s in standings},
        "groups": [(g.id, g.heading.get(lang)) for g in catalogue.groups],
        "framework": catalogue.title.get(lang),
        "heat": heat,
        "source_words": {  # the other tools whose imported results a verdict counts, in words
            source: source_words(source, lang)
            for s in judged
            if s.assessment is not None
            for source in imported_sources(s.assessment.sources)
        },
        "heat_states": GROUP_STATES,
        "heat_totals": state_totals(list(heat.values())),
        "recurring": [r for r in recurring_failures(failing, portal.content, lang) if len(r.agencies) > 1],
        "fixes": fixes,
        "overdue_days": OVERDUE_FIX_DAYS,
        "evidence": evidence,
        "evidence_count": sum(len(e.items) for e in evidence),
        "now": portal.now(),
        "trend": trend,
        "pending_submissions": len(portal.store.list_submissions(pending_only=True))
        if principal(request).role == "officer"
        else None,
        "titles": CheckTexts(portal.content, lang).titles(),
    }
    return render(request, "dashboard.html.j2", context)
