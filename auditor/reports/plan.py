"""The fix-first plan of the agency report: the few causes whose fix moves the agency furthest toward level 3."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from auditor.content.catalogue import Catalogue
from auditor.governance.resolve import ClauseState, Resolved, judge_agency
from auditor.reports.causes import PORT_CAUSE_PREFIX
from auditor.reports.models import SEVERITY_ORDER, AgencyAssessment, FixAction, FixPlan
from auditor.reports.timing import ReportSettings
from auditor.store import FindingRow
from auditor.vocabulary import Status

PLAN_SIZE = 6
SEVERITY_WEIGHT = {"critical": 8, "high": 4, "medium": 2, "low": 1}


def clauses_unlocked(
    agency_id: str, catalogue: Catalogue, keyed: Sequence[Resolved], fixed: set[int], before: set[str]
) -> tuple[str, ...]:
    """Clauses not demonstrated now that would be if the findings ``fixed`` passed (everything else unchanged)."""
    after = judge_agency(
        agency_id,
        catalogue,
        [r.model_copy(update={"status": Status.passed}) if r.finding_id in fixed else r for r in keyed],
    )
    return tuple(c.clause for c in after.clauses if c.state.demonstrated and c.clause not in before)


def fix_plan(
    assessment: AgencyAssessment,
    causes: Mapping[str, Sequence[FindingRow]],
    keyed: Sequence[Resolved],
    catalogue: Catalogue,
    describe: Mapping[str, tuple[str, tuple[str, ...], str]],
    settings: ReportSettings,
    owner: str,
) -> FixPlan:
    """Score each cause with failures no waiver covers by severity weight × (clauses unlocked + 1) × hosts
    affected (the + 1 keeps a fix that is one of several a clause needs in the ranking) and keep the best
    PLAN_SIZE. ``describe`` gives each cause's title, steps and playbook."""
    waived = {r.finding_id for r in keyed if r.waived}
    before = {c.id for c in assessment.clauses if c.state.demonstrated}
    scored = []
    for cause, rows in causes.items():
        failing = [r for r in rows if r.status is Status.failed and r.id not in waived]
        if not failing:
            continue  # "could not check" is not fixed by a remediation, and waived failures are accepted
        severity = min((r.severity.value for r in failing), key=SEVERITY_ORDER.index)
        unlocked = clauses_unlocked(assessment.agency_id, catalogue, keyed, {r.id for r in rows}, before)
        hosts = tuple(sorted({r.host_name for r in failing}))
        title, steps, playbook = describe[cause]
        score = SEVERITY_WEIGHT[severity] * (len(unlocked) + 1) * len(hosts)
        scored.append(
            FixAction(
                cause=cause,
                title=title,
                severity=severity,
                score=score,
                clauses_unlocked=unlocked,
                hosts=hosts,
                steps=steps,
                playbook=playbook,
                due=settings.due(assessment.started_at, severity),
                owner=owner,
            )
        )
    scored.sort(
        key=lambda a: (-a.score, SEVERITY_ORDER.index(a.severity), a.cause.startswith(PORT_CAUSE_PREFIX), a.cause)
    )
    met_groups = tuple(
        f"{g.id} {g.heading}" for g in assessment.groups if g.clauses_total and g.clauses_met == g.clauses_total
    )
    return FixPlan(
        actions=tuple(scored[:PLAN_SIZE]),
        already_good_groups=met_groups,
        already_good_clauses=sum(
            1 for c in assessment.clauses if c.state in (ClauseState.met, ClauseState.met_with_waivers)
        ),
    )
