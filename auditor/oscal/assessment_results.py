"""A stored run as OSCAL assessment results: one result per agency, one observation per check result, one finding
per clause the run has results for.

Findings are per clause, not per failed check: OSCAL findings state whether an objective (here a clause of the
standard) is satisfied, which is what the department decides on, and a clause's state needs every result that
evidences it, passed ones too. The per-check detail (status, evidence and its SHA-256) lives in the observations
each finding relates to. Clause states are those of ``auditor verdict`` (attestations and waivers applied as of
``as_of``); a clause with no result in the run is left out of the reviewed controls and gets no finding.

Text that may quote a target (the reasons) is made inert and its Markdown punctuation escaped, since OSCAL
descriptions are Markdown."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from auditor.content.catalogue import Catalogue
from auditor.content.loader import Content
from auditor.governance.resolve import ClauseState, ClauseVerdict, Resolved, judge_agency
from auditor.messages import phrase
from auditor.oscal import models as m
from auditor.oscal.ids import PROJECT_NS, clause_prop_name, control_id, framework_slug, stable_uuid
from auditor.reports.exports import EvidenceExport, RunExport, run_export
from auditor.reports.rollup import clause_key, refs_of, resolved_keys
from auditor.store import FindingRow, RunHostRow, Store
from auditor.textsafe import inert_text

_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]<>!|~&#])")
_REASON: Mapping[ClauseState, Literal["pass", "fail", "other"]] = {
    ClauseState.met: "pass",
    ClauseState.met_with_waivers: "pass",
    ClauseState.not_applicable: "pass",
    ClauseState.failed: "fail",
}
_COMPONENT_KINDS = ("service", "website")


def markdown_text(text: str) -> str:
    """Hostile text for a Markdown field: control and invisible characters escaped, no link, image or HTML."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", inert_text(text))


def _one_line(text: str) -> str:
    return " ".join(inert_text(text).split())


def _words(path: str, **params: object) -> str:
    return phrase("oscal", path, **params).vi


def prop(name: str, value: object) -> m.Property | None:
    """Our own prop, or None when there is nothing to say (OSCAL values are single lines, never blank)."""
    text = _one_line(str(value))
    return m.Property(name=name, value=text, ns=PROJECT_NS) if text else None


def props(*items: tuple[str, object] | None) -> tuple[m.Property, ...]:
    built = (prop(*item) for item in items if item is not None)
    return tuple(p for p in built if p is not None)


def assessment_results(
    store: Store,
    run_ref: str,
    content: Content,
    *,
    department: str,
    as_of: datetime,
    agency_id: str | None = None,
) -> m.AssessmentResultsDocument:
    """The run (or one agency of it) as OSCAL assessment results, manual items and waivers judged as of ``as_of``
    (also the document's last-modified time, so that re-exporting with the same moment gives the same bytes)."""
    dump = run_export(store, run_ref, agency_id)
    resolved = store.resolved_findings(dump.findings, as_of)
    run = dump.run
    department_uuid = stable_uuid("party", "department")
    agency_uuid = {a.id: stable_uuid("party", "agency", a.id) for a in dump.agencies}
    plan_uuid = stable_uuid(run.id, "assessment-plan")
    metadata = m.Metadata(
        title=_words("document_title", run=run.id),
        last_modified=as_of,
        version=run.tool_version,
        props=props(
            ("run-id", run.id),
            ("checklist-version", run.checklist_version),
            ("inventory-sha256", run.inventory_sha256),
            ("language", "vi"),
        ),
        roles=(
            m.Role(id="assessor", title=_words("role.assessor")),
            m.Role(id="system-owner", title=_words("role.system_owner")),
        ),
        parties=(
            m.Party(uuid=department_uuid, type="organization", name=_one_line(department)),
            *(
                m.Party(
                    uuid=agency_uuid[a.id],
                    type="organization",
                    name=_one_line(a.name.vi),
                    short_name=_one_line(a.id),
                    props=props(("agency-id", a.id)),
                )
                for a in dump.agencies
            ),
        ),
        responsible_parties=tuple(
            m.ResponsibleParty(role_id=role, party_uuids=uuids)
            for role, uuids in (("assessor", (department_uuid,)), ("system-owner", tuple(agency_uuid.values())))
            if uuids
        ),
    )
    plan = m.Resource(
        uuid=plan_uuid,
        title=_words("plan.title", run=run.id),
        description=_words(
            "plan.description",
            run=run.id,
            started=run.started_at.isoformat(),
            checklist=run.checklist_version,
            tool=run.tool_version,
            inventory=run.inventory_sha256,
        ),
        props=props(("run-id", run.id), ("inventory-sha256", run.inventory_sha256)),
    )
    results = tuple(
        _agency_result(dump, agency.id, agency.name.vi, agency_uuid[agency.id], resolved, content, as_of)
        for agency in dump.agencies
    )
    if not results:  # OSCAL needs at least one result; a run with no target of the agency is refused earlier
        raise ValueError(f"run {run.id} has no target to export")
    return m.AssessmentResultsDocument(
        assessment_results=m.AssessmentResults(
            uuid=stable_uuid(run.id, "assessment-results", agency_id or ""),
            metadata=metadata,
            import_ap=m.ImportAp(href=f"#{plan_uuid}"),
            results=results,
            back_matter=m.BackMatter(resources=(plan,)),
        )
    )


def _agency_result(
    dump: RunExport,
    agency_id: str,
    agency_name: str,
    party_uuid: str,
    resolved: Mapping[int, Resolved],
    content: Content,
    as_of: datetime,
) -> m.Result:
    run = dump.run
    hosts = [h for h in dump.hosts if h.agency_id == agency_id]
    findings = [f for f in dump.findings if f.agency_id == agency_id]
    subjects = {h.host_name: _subject(run.id, h, party_uuid) for h in hosts}
    evidence = {e.id: e for e in dump.evidence if e.agency_id == agency_id}
    finished = {h.host_name: h.finished_at for h in hosts}
    observations = {
        f.id: _observation(run.id, f, subjects[f.host_name], evidence, finished[f.host_name], resolved, content)
        for f in findings
    }
    keyed = resolved_keys(findings, resolved)
    verdicts = {name: judge_agency(agency_id, catalogue, keyed) for name, catalogue in content.catalogues.items()}
    clause_findings: list[m.Finding] = []
    selections: list[m.ControlSelection] = []
    for name, catalogue in content.catalogues.items():
        assessed = [c for c in verdicts[name].clauses if c.state is not ClauseState.not_evaluated]
        assessed.sort(key=lambda c: clause_key(c.clause))
        if assessed:
            selections.append(
                m.ControlSelection(
                    description=_words("result.controls", framework=name),
                    include_controls=tuple(
                        m.SelectControlById(control_id=control_id(name, c.clause)) for c in assessed
                    ),
                )
            )
        clause_findings.extend(
            _finding(run.id, agency_id, catalogue, verdict, findings, observations) for verdict in assessed
        )
    if not selections:
        selections.append(m.ControlSelection(description=_words("result.no_controls"), include_all=m.IncludeAll()))
    components = tuple(s.component for s in subjects.values() if s.component is not None)
    items = tuple(s.item for s in subjects.values() if s.item is not None)
    return m.Result(
        uuid=stable_uuid(run.id, "result", agency_id),
        title=_one_line(_words("result.title", agency=agency_name, run=run.id)),
        description=markdown_text(
            _words("result.description", agency=agency_name, run=run.id, status=run.status, as_of=as_of.isoformat())
        ),
        start=run.started_at,
        end=run.finished_at,
        props=props(
            ("run-id", run.id),
            ("run-status", run.status.value),
            ("agency-id", agency_id),
            *((f"{framework_slug(name)}-verdict", verdict.outcome.value) for name, verdict in verdicts.items()),
        ),
        local_definitions=m.LocalDefinitions(components=components, inventory_items=items)
        if components or items
        else None,
        reviewed_controls=m.ReviewedControls(control_selections=tuple(selections)),
        observations=tuple(observations[f.id][0] for f in findings),
        findings=tuple(clause_findings),
    )


class _Subject:
    """One target as the observations name it: an inventory item (a server), a component (a network service or
    a website), or the agency's own party (the agency-level manual items)."""

    def __init__(self, reference: m.SubjectReference, item: m.InventoryItem | None, component: m.Component | None):
        self.reference, self.item, self.component = reference, item, component


def _subject(run_id: str, host: RunHostRow, party_uuid: str) -> _Subject:
    name = _one_line(host.host_name)
    if host.kind == "agency":
        return _Subject(m.SubjectReference(subject_uuid=party_uuid, type="party", title=name), None, None)
    uuid = stable_uuid(run_id, "subject", host.agency_id, host.host_name)
    target_props = props(
        ("target-name", host.host_name),
        ("target-kind", host.kind),
        ("address", host.address),
        ("target-status", host.status.value),
        ("error-reason", host.error_reason) if host.error_reason else None,
        ("os", host.facts.os_pretty) if host.facts and host.facts.os_pretty else None,
    )
    if host.kind in _COMPONENT_KINDS:
        component = m.Component(
            uuid=uuid,
            type="service",
            title=name,
            description=markdown_text(_words(f"subject.{host.kind}", name=host.host_name)),
            status=m.ComponentStatus(state="operational"),
            props=target_props,
        )
        return _Subject(m.SubjectReference(subject_uuid=uuid, type="component", title=name), None, component)
    item = m.InventoryItem(
        uuid=uuid,
        description=markdown_text(_words("subject.host", name=host.host_name, address=host.address or "-")),
        props=target_props,
    )
    return _Subject(m.SubjectReference(subject_uuid=uuid, type="inventory-item", title=name), item, None)


def _observation(
    run_id: str,
    finding: FindingRow,
    subject: _Subject,
    evidence: Mapping[int, EvidenceExport],
    host_finished: datetime,
    resolved: Mapping[int, Resolved],
    content: Content,
) -> tuple[m.Observation, str]:
    """The observation of one check result, and the check id the clauses are judged by."""
    check = content.checks.get(finding.check_id)
    outcome = resolved.get(finding.id)
    manual = (check is not None and check.is_manual) or subject.reference.type == "party"
    description = finding.reason_vi + (f"\n\n{outcome.note.vi}" if outcome and outcome.note else "")
    record = evidence.get(finding.evidence_id) if finding.evidence_id is not None else None
    source = getattr(finding, "source", None)  # results imported from other tools say which (external:<tool>)
    observation = m.Observation(
        uuid=stable_uuid(run_id, "observation", str(finding.id)),
        title=_one_line(check.title.vi if check else finding.check_id),
        description=markdown_text(description),
        props=props(
            ("finding-id", finding.id),
            ("agency-id", finding.agency_id),
            ("check-id", finding.check_id),
            ("status", finding.status.value),
            ("effective-status", outcome.status.value) if outcome and outcome.status != finding.status else None,
            ("waiver-id", outcome.waiver_id) if outcome and outcome.waiver_id is not None else None,
            ("attestation-id", outcome.attestation_id) if outcome and outcome.attestation_id is not None else None,
            ("severity", finding.severity.value),
            ("source", source) if isinstance(source, str) and source else None,
            *((clause_prop_name(r.framework), r.clause) for r in refs_of(finding, content)),
        ),
        methods=("EXAMINE",) if manual else ("TEST",),
        subjects=(subject.reference,),
        relevant_evidence=(_evidence(record, finding),) if record is not None else (),
        collected=record.collected_at if record is not None else host_finished,
    )
    return observation, finding.check_id


def _evidence(record: EvidenceExport, finding: FindingRow) -> m.RelevantEvidence:
    return m.RelevantEvidence(
        description=markdown_text(
            _words(
                "evidence",
                id=record.id,
                probe=record.probe_id,
                target=record.host_name,
                collected=record.collected_at.isoformat(),
                sha256=record.sha256,
                finding=finding.id,
            )
        ),
        props=props(
            ("evidence-id", record.id),
            ("evidence-sha256", record.sha256),
            ("probe-id", record.probe_id),
            ("probe-outcome", record.outcome.value),
            ("truncated", str(record.truncated).lower()),
        ),
    )


def _finding(
    run_id: str,
    agency_id: str,
    catalogue: Catalogue,
    verdict: ClauseVerdict,
    findings: Sequence[FindingRow],
    observations: Mapping[int, tuple[m.Observation, str]],
) -> m.Finding:
    clause = next(c for c in catalogue.clauses if c.id == verdict.clause)
    evidenced_by = {*clause.checks, *clause.network_checks, *clause.manual}
    state_words = _words(
        f"finding.state.{verdict.state.value}",
        findings=verdict.findings,
        failed=verdict.failed,
        errors=verdict.errors,
        waived=verdict.waived,
        awaiting=verdict.awaiting,
    )
    return m.Finding(
        uuid=stable_uuid(run_id, "finding", agency_id, catalogue.framework, clause.id),
        title=_one_line(
            _words("finding.title", framework=catalogue.framework, clause=clause.id, heading=clause.heading.vi)
        ),
        description=markdown_text(state_words),
        props=props(
            ("agency-id", agency_id),
            (clause_prop_name(catalogue.framework), clause.id),
            ("clause-state", verdict.state.value),
        ),
        target=m.FindingTarget(
            type="objective-id",
            target_id=control_id(catalogue.framework, clause.id),
            status=m.ObjectiveStatus(
                state="satisfied" if verdict.state.demonstrated else "not-satisfied",
                reason=_REASON.get(verdict.state, "other"),
            ),
        ),
        related_observations=tuple(
            m.RelatedObservation(observation_uuid=observation.uuid)
            for observation, check_id in (observations[f.id] for f in findings)
            if check_id in evidenced_by
        ),
    )
