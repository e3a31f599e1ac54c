"""One finding with its evidence.

What a target printed is hostile: it is made inert (control and invisible characters shown as escapes, capped)
and the templates autoescape it, so it always shows as text, never as markup."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from auditor.errors import NotFoundError
from auditor.evaluation.expected_words import expected_in_words
from auditor.portal.access import Access, Scope, route
from auditor.portal.context import portal_of
from auditor.portal.web import lang_of, render
from auditor.reports.agency import remediation_steps, resolved_note
from auditor.reports.external import source_words
from auditor.reports.inert import inert_bytes, inert_str
from auditor.reports.models import TrimmedText
from auditor.reports.rollup import clause_labels
from auditor.store import EvidenceRow
from auditor.textsafe import inert_text

router = APIRouter()
OBSERVED_LIMIT = 4 * 1024  # bytes shown of the observed value
COMMAND_LIMIT = 2 * 1024
STDOUT_LIMIT = 16 * 1024  # bytes shown of each evidence stream; the rest is counted as omitted
STDERR_LIMIT = 4 * 1024


@dataclass(frozen=True)
class EvidenceView:
    row: EvidenceRow
    command: TrimmedText
    stdout: TrimmedText
    stderr: TrimmedText


def evidence_view(row: EvidenceRow) -> EvidenceView:
    return EvidenceView(
        row=row,
        command=inert_str(row.command, COMMAND_LIMIT),
        stdout=inert_bytes(row.stdout, STDOUT_LIMIT),
        stderr=inert_bytes(row.stderr, STDERR_LIMIT),
    )


@route(router, "/findings/{finding_id}", access=Access.agency_read, scope=Scope.finding)
def finding_page(request: Request, finding_id: int) -> Response:
    portal, lang = portal_of(request), lang_of(request)
    try:
        finding = portal.store.get_finding(finding_id)
    except NotFoundError:
        raise HTTPException(status_code=404) from None
    outcome = portal.store.resolved_findings([finding], portal.now()).get(finding.id)
    try:
        evidence: EvidenceView | None = evidence_view(portal.store.get_evidence(finding.id, verify=True))
    except NotFoundError:
        evidence = None
    check = portal.content.checks.get(finding.check_id)
    expected = expected_in_words(finding, portal.content)  # words, also for rows stored before they were kept
    context = {
        "finding": finding,
        "title": check.title.get(lang) if check else finding.check_id,
        "rationale": check.rationale.get(lang) if check else "",
        "steps": remediation_steps(check.remediation.vi if lang == "vi" else check.remediation.en) if check else (),
        "status": outcome.status.value if outcome else finding.status.value,
        "note": resolved_note(outcome, lang),
        "waived": outcome is not None and outcome.waived,
        "reason": inert_text(finding.reason.get(lang)),
        "observed": inert_str(finding.observed, OBSERVED_LIMIT),
        "expected": inert_text(expected.get(lang)) if expected else "",
        "clauses": clause_labels(finding, portal.content),
        "source": source_words(finding.source, lang) if finding.source else "",  # an imported result names its tool
        "evidence": evidence,
        "run": portal.store.get_run(finding.run_id),
    }
    return render(request, "finding.html.j2", context)
