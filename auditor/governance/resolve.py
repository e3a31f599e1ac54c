"""Apply attestations and waivers to stored findings, as of a moment, and judge level 3.

Pure functions: the same findings, attestations, waivers and moment always give the same answer,
so a report re-made later for a past moment says what it said then.

- A manual finding takes its status from the agency's latest attestation that is valid at that
  moment (met → pass, partly met / not met → fail, not applicable → not_applicable). When every
  attestation has expired it stays `manual`, saying when the evidence expired.
- A failed automated finding covered by an active waiver keeps its status `fail` and is marked
  waived; totals count waived failures on their own line.
- An agency meets level 3 under a catalogue when every clause is met (pass or not applicable),
  possibly with waivers, which the verdict always states.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict

from auditor.content.catalogue import Catalogue
from auditor.governance.records import Answer, Attestation, Waiver
from auditor.messages import reason
from auditor.vocabulary import LocalizedText, RequirementRef, Status

OWN_SOURCE = "auditor"  # how a verdict names the auditor's own checks next to imported results (external:<tool>)

_ANSWER_STATUS = {
    Answer.met: Status.passed,
    Answer.partly_met: Status.failed,
    Answer.not_met: Status.failed,
    Answer.not_applicable: Status.not_applicable,
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FindingKey(_Frozen):
    """The parts of a stored finding that resolution needs."""

    finding_id: int
    agency_id: str
    target: str  # host name, "agency:<id>", service or URL
    check_id: str
    status: Status
    source: str | None = None  # None: the auditor's own check; "external:<tool>": an imported result
    requirements: tuple[RequirementRef, ...] = ()  # an imported result's clauses (own checks: the catalogue's)


class Resolved(_Frozen):
    finding_id: int
    agency_id: str
    target: str
    check_id: str
    raw_status: Status
    status: Status  # effective: raw, or from an attestation for a manual item
    waiver_id: int | None = None  # a waived failure keeps status fail
    attestation_id: int | None = None
    note: LocalizedText | None = None  # e.g. evidence expired on …, waived until …
    source: str | None = None
    requirements: tuple[RequirementRef, ...] = ()

    @property
    def waived(self) -> bool:
        return self.waiver_id is not None

    def evidences(self, clause_id: str, framework: str, catalogue_ids: set[str]) -> bool:
        """Own checks evidence the clauses whose catalogue entry lists them; imported results the clauses their
        mapping file gave them."""
        if self.source is None:
            return self.check_id in catalogue_ids
        return any(r.framework == framework and r.clause == clause_id for r in self.requirements)


def resolve(
    findings: Iterable[FindingKey], attestations: Sequence[Attestation], waivers: Sequence[Waiver], as_of: datetime
) -> list[Resolved]:
    by_item: dict[tuple[str, str], list[Attestation]] = {}
    for attestation in attestations:
        if attestation.recorded_at <= as_of:  # what was known at that moment, nothing recorded later
            by_item.setdefault((attestation.agency_id, attestation.check_id), []).append(attestation)
    active = [waiver for waiver in waivers if waiver.active(as_of)]
    return [_resolve_one(finding, by_item, active, as_of) for finding in findings]


def _resolve_one(
    finding: FindingKey, by_item: dict[tuple[str, str], list[Attestation]], waivers: list[Waiver], as_of: datetime
) -> Resolved:
    base = Resolved(
        finding_id=finding.finding_id,
        agency_id=finding.agency_id,
        target=finding.target,
        check_id=finding.check_id,
        raw_status=finding.status,
        status=finding.status,
        source=finding.source,
        requirements=finding.requirements,
    )
    if finding.status is Status.manual:
        answers = by_item.get((finding.agency_id, finding.check_id), [])
        valid = [a for a in answers if a.attested_at <= as_of <= a.valid_until]
        if valid:
            current = max(valid, key=lambda a: (a.recorded_at, a.id))
            note = reason(
                f"resolve.attested.{current.answer.value}",
                who=current.attested_by,
                until=current.valid_until.date().isoformat(),
            )
            return base.model_copy(
                update={"status": _ANSWER_STATUS[current.answer], "attestation_id": current.id, "note": note}
            )
        if answers:
            expired_on = max(a.valid_until for a in answers).date().isoformat()
            return base.model_copy(update={"note": reason("resolve.expired", date=expired_on)})
        return base
    if finding.status is Status.failed:
        for waiver in waivers:
            if (
                waiver.agency_id == finding.agency_id
                and waiver.check_id == finding.check_id
                and fnmatchcase(finding.target, waiver.host_pattern)
            ):
                note = reason(
                    "resolve.waived",
                    id=waiver.id,
                    until=waiver.expires_at.date().isoformat(),
                    approver=waiver.approved_by,
                )
                return base.model_copy(update={"waiver_id": waiver.id, "note": note})
    return base


class ClauseState(StrEnum):
    """Where one clause stands for one agency, worst first (the order roll-ups use)."""

    failed = "failed"  # an automated check or an attestation says it is not met
    error = "error"  # nothing fails, but a check could not be observed
    awaiting_evidence = "awaiting_evidence"  # manual items without a valid attestation
    not_evaluated = "not_evaluated"  # nothing in this run evidences the clause (e.g. agent not run)
    met_with_waivers = "met_with_waivers"
    met = "met"
    not_applicable = "not_applicable"

    @property
    def demonstrated(self) -> bool:
        return self in (ClauseState.met, ClauseState.met_with_waivers, ClauseState.not_applicable)


class VerdictOutcome(StrEnum):
    meets = "meets"  # every clause met (waivers stated) or not applicable
    not_met = "not_met"  # a failure that no waiver covers
    not_demonstrated = "not_demonstrated"  # nothing fails, but evidence is missing (manual items, errors, gaps)


class ClauseVerdict(_Frozen):
    clause: str
    group: str
    state: ClauseState
    findings: int
    failed: int
    errors: int
    waived: int
    awaiting: int
    sources: tuple[str, ...] = ()  # what evidences it: "auditor" and/or "external:<tool>"


class Verdict(_Frozen):
    agency_id: str
    framework: str
    outcome: VerdictOutcome
    waived: int  # failures accepted through waivers: the verdict never hides them
    clauses: tuple[ClauseVerdict, ...]

    @property
    def meets_level3(self) -> bool:
        return self.outcome is VerdictOutcome.meets


def judge_agency(agency_id: str, catalogue: Catalogue, resolved: Sequence[Resolved]) -> Verdict:
    # an imported result counts only through the clauses its mapping gives it: unmapped ones are kept, not judged
    mine = [
        r
        for r in resolved
        if r.agency_id == agency_id
        and (r.source is None or any(req.framework == catalogue.framework for req in r.requirements))
    ]
    clauses = []
    for clause in catalogue.clauses:
        ids = {*clause.checks, *clause.network_checks, *clause.manual}
        related = [r for r in mine if r.evidences(clause.id, catalogue.framework, ids)]
        failed = sum(1 for r in related if r.status is Status.failed and not r.waived)
        waived = sum(1 for r in related if r.status is Status.failed and r.waived)
        errors = sum(1 for r in related if r.status is Status.error)
        awaiting = sum(1 for r in related if r.status is Status.manual)
        if not related:
            state = ClauseState.not_evaluated
        elif failed:
            state = ClauseState.failed
        elif errors:
            state = ClauseState.error
        elif awaiting:
            state = ClauseState.awaiting_evidence
        elif all(r.status is Status.not_applicable for r in related):
            state = ClauseState.not_applicable
        elif waived:
            state = ClauseState.met_with_waivers
        else:
            state = ClauseState.met
        clauses.append(
            ClauseVerdict(
                clause=clause.id,
                group=clause.group,
                state=state,
                findings=len(related),
                failed=failed,
                errors=errors,
                waived=waived,
                awaiting=awaiting,
                sources=tuple(sorted({r.source or OWN_SOURCE for r in related})),
            )
        )
    if all(c.state.demonstrated for c in clauses):
        outcome = VerdictOutcome.meets
    elif any(r.status is Status.failed and not r.waived for r in mine):
        outcome = VerdictOutcome.not_met
    else:
        outcome = VerdictOutcome.not_demonstrated
    return Verdict(
        agency_id=agency_id,
        framework=catalogue.framework,
        outcome=outcome,
        # distinct findings: one waived failure often evidences several clauses
        waived=len({r.finding_id for r in mine if r.status is Status.failed and r.waived}),
        clauses=tuple(clauses),
    )
