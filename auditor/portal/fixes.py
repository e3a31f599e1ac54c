"""What an agency has to fix: its failing checks in the order to fix them, the fixes overdue, the evidence still
awaited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from auditor.content.loader import Content
from auditor.governance.resolve import Resolved
from auditor.portal.runcache import finished, run_cache
from auditor.portal.standings import Standing
from auditor.portal.web import Lang
from auditor.reports.agency import pick_catalogue, remediation_steps, resolved_note
from auditor.reports.models import FAILING
from auditor.reports.rollup import clause_key, failing_by_check
from auditor.store import FindingRow, Store
from auditor.textsafe import inert_text

OVERDUE_FIX_DAYS = 30  # still failing, and failing already in an audit at least this many days ago: overdue


@dataclass(frozen=True)
class Affected:
    finding: FindingRow
    status: str  # effective
    note: str  # waiver or attestation note in the page's language, "" when none
    waived: bool

    def reason(self, lang: Lang) -> str:
        return inert_text(self.finding.reason.get(lang))


@dataclass(frozen=True)
class FixItem:
    """One failing check of an agency's latest run, with every target it fails on and how to fix it."""

    check_id: str
    title: str
    severity: str
    clauses: tuple[str, ...]
    steps: tuple[str, ...]
    targets: tuple[Affected, ...]

    @property
    def waived(self) -> bool:
        """Every target's failure is covered by an active waiver."""
        return all(a.waived for a in self.targets)


def fix_list(standing: Standing, content: Content, lang: Lang) -> list[FixItem]:
    """Failing findings (fail and error, after attestations) of the latest run by check, in the agency report's
    order: the most severe first, then by clause of the standard judged against."""
    framework = pick_catalogue(content, None).framework
    items = []
    for failed in failing_by_check(standing.failing, framework, content):
        check = content.checks.get(failed.check_id)
        ordered = sorted(failed.refs, key=lambda r: (r.framework, clause_key(r.clause)))
        items.append(
            FixItem(
                check_id=failed.check_id,
                title=check.title.get(lang) if check else failed.check_id,
                severity=failed.severity,
                clauses=tuple(f"{r.framework} {r.clause}" for r in ordered),
                steps=remediation_steps(check.remediation.vi if lang == "vi" else check.remediation.en)
                if check
                else (),
                targets=tuple(
                    Affected(r, standing.status(r), resolved_note(standing.outcome(r), lang), standing.waived(r))
                    for r in failed.findings
                ),
            )
        )
    return items


@dataclass(frozen=True)
class OverdueFix:
    standing: Standing
    finding: FindingRow
    since: datetime  # start of the earlier audit that already found it failing


@dataclass(frozen=True)
class OverdueEvidence:
    standing: Standing
    items: tuple[tuple[FindingRow, Resolved | None], ...]  # manual items without a valid attestation

    @property
    def expired(self) -> int:
        return sum(1 for _f, outcome in self.items if outcome is not None and outcome.note is not None)


def overdue_fixes(store: Store, standing: Standing, now: datetime) -> list[OverdueFix]:
    """Failing (not waived) in the latest run, and failing already in the agency's newest finished audit that
    started at least OVERDUE_FIX_DAYS days before now."""
    if standing.latest is None:
        return []
    cutoff = now - timedelta(days=OVERDUE_FIX_DAYS)
    earlier = next(
        (r for r in standing.runs if finished(r.run) and r is not standing.latest and r.run.started_at <= cutoff), None
    )
    if earlier is None or earlier.run.started_at >= standing.latest.run.started_at:
        return []
    run_id, agency_id = earlier.run.id, standing.agency_id
    failing_before = run_cache(store).get(
        ("failing", run_id, agency_id), True, partial(_failing, store, run_id, agency_id)
    )
    return [
        OverdueFix(standing, f, earlier.run.started_at)
        for f in standing.failing
        if not standing.waived(f) and (f.host_name, f.check_id) in failing_before
    ]


def overdue_evidence(standing: Standing) -> OverdueEvidence | None:
    items = tuple((f, standing.outcome(f)) for f in standing.awaiting)
    return OverdueEvidence(standing, items) if items else None


def _failing(store: Store, run_id: str, agency_id: str) -> frozenset[tuple[str, str]]:
    """The (target, check) pairs failing or in error in a run, as audited."""
    return frozenset(
        (f.host_name, f.check_id)
        for status in FAILING
        for f in store.list_findings(run_id, status=status, agency_id=agency_id)
    )
