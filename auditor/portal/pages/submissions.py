"""Documents agencies send for their manual items, and the officer's decision on each: accepting records an
attestation with the document (in the same transaction); rejecting says why. A decision is made once."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from pathlib import PurePosixPath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from auditor.errors import ConfigError, NotFoundError
from auditor.governance.records import (
    MEDIA_TYPES,
    Answer,
    AttestationEntry,
    PreparedAttestation,
    PreparedDocument,
)
from auditor.portal.access import Access, Scope, principal, route
from auditor.portal.context import Portal, portal_of
from auditor.portal.downloads import attachment
from auditor.portal.uploads import agency_items, clean_file_name, upload_limit
from auditor.portal.web import lang_of, render
from auditor.store.views import SubmissionRow

router = APIRouter()
NOTE_MAX = 2000
VALID_DAYS = 365  # the default validity offered when accepting


def _back(agency_id: str, key: str, value: str) -> RedirectResponse:
    anchor = "#submissions" if key == "notice" else "#upload"
    return RedirectResponse(f"/agencies/{quote(agency_id, safe='')}?{key}={value}{anchor}", status_code=303)


@route(router, "/agencies/{agency_id}/submissions", access=Access.agency_write, scope=Scope.agency, methods=("POST",))
def upload(
    request: Request,
    agency_id: str,
    check_id: Annotated[str, Form(max_length=80)] = "",
    note: Annotated[str, Form(max_length=NOTE_MAX)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    portal = portal_of(request)
    if agency_id not in portal.store.known_agencies():
        if agency_id not in portal.agency_names():
            raise HTTPException(status_code=404)
        return _back(agency_id, "error", "upload_not_audited")  # documents attach to an agency the store knows
    if check_id not in dict(agency_items(portal.content, "vi")):
        return _back(agency_id, "error", "upload_item")
    if file is None or not file.filename:
        return _back(agency_id, "error", "upload_empty")
    file_name = clean_file_name(file.filename)
    media_type = MEDIA_TYPES.get(PurePosixPath(file_name.lower()).suffix)
    if media_type is None:
        return _back(agency_id, "error", "upload_type")
    limit = upload_limit(portal)
    content = file.file.read(limit + 1)
    if not content:
        return _back(agency_id, "error", "upload_empty")
    if len(content) > limit:
        return _back(agency_id, "error", "upload_size")
    who = principal(request)
    document = PreparedDocument(file_name=file_name, content=content, media_type=media_type)
    row = portal.store.submit_document(agency_id, check_id, document, note.strip(), who.user.username, portal.now())
    detail = {"check_id": check_id, "file_name": file_name, "size": len(content), "sha256": row.document_sha256}
    portal.log(request, "upload", f"submission:{row.id}", agency_id=agency_id, detail=detail)
    return _back(agency_id, "notice", "uploaded")


@route(router, "/submissions", access=Access.officer)
def review(request: Request, notice: str = "", error: str = "") -> Response:
    portal, lang = portal_of(request), lang_of(request)
    rows = portal.store.list_submissions()  # newest first
    pending = sorted((r for r in rows if r.decision is None), key=lambda r: (r.submitted_at, r.id))
    names = portal.agency_names()
    context = {
        "pending": pending,
        "decided": [r for r in rows if r.decision is not None],
        "titles": dict(agency_items(portal.content, lang)),
        "agency_names": {agency_id: name.get(lang) for agency_id, name in names.items()},
        "answers": [answer.value for answer in Answer],
        "valid_until": (portal.now().astimezone(UTC) + timedelta(days=VALID_DAYS)).date().isoformat(),
        "today": portal.now().astimezone(UTC).date().isoformat(),
        "notice": notice,
        "error": error,
    }
    return render(request, "submissions.html.j2", context)


def _submission(portal: Portal, submission_id: int) -> SubmissionRow:
    try:
        return portal.store.get_submission(submission_id)
    except NotFoundError:
        raise HTTPException(status_code=404) from None


def _to_review(key: str, value: str) -> RedirectResponse:
    return RedirectResponse(f"/submissions?{key}={value}", status_code=303)


@route(
    router,
    "/submissions/{submission_id}/accept",
    access=Access.officer,
    scope=Scope.submission,
    methods=("POST",),
)
def accept(
    request: Request,
    submission_id: int,
    answer: Annotated[str, Form(max_length=32)] = "",
    valid_until: Annotated[str, Form(max_length=32)] = "",
    justification: Annotated[str, Form(max_length=NOTE_MAX)] = "",
) -> Response:
    """Record the attestation the document supports: answered by the agency user who sent it, accepted by the
    officer; valid from today (UTC) to the end of ``valid_until``."""
    portal = portal_of(request)
    submission = _submission(portal, submission_id)
    officer = principal(request).user.username
    today = portal.now().astimezone(UTC).date()
    try:
        chosen = Answer(answer)
    except ValueError:
        return _to_review("error", "accept_answer")
    try:
        until = date.fromisoformat(valid_until)
    except ValueError:
        return _to_review("error", "accept_date")
    if until < today:
        return _to_review("error", "accept_date")
    content, media_type, file_name = portal.store.submission_document(submission_id)
    try:
        entry = AttestationEntry(
            agency=submission.agency_id,
            item=submission.check_id,
            answer=chosen,
            justification=justification.strip(),
            attested_by=f"{submission.submitted_by} / {officer}",
            attested_at=today,
            valid_until=until,
            documents=(file_name,),
        )
    except ValidationError:
        return _to_review("error", "accept_justification")
    prepared = PreparedAttestation(
        entry=entry, documents=(PreparedDocument(file_name=file_name, content=content, media_type=media_type),)
    )
    try:
        decided = portal.store.decide_submission(submission_id, officer, entry.justification, portal.now(), prepared)
    except ConfigError:
        return _to_review("error", "decided_already")
    if decided.attestation_id is not None:  # signed into the installation's chain like every attestation
        from auditor.evidence_chain.sealing import seal_attestations

        seal_attestations(portal.store, [decided.attestation_id])
    detail = {
        "check_id": submission.check_id,
        "answer": chosen.value,
        "valid_until": until.isoformat(),
        "attestation_id": decided.attestation_id,
    }
    portal.log(request, "accept", f"submission:{submission_id}", agency_id=submission.agency_id, detail=detail)
    return _to_review("notice", "accepted")


@route(
    router,
    "/submissions/{submission_id}/reject",
    access=Access.officer,
    scope=Scope.submission,
    methods=("POST",),
)
def reject(request: Request, submission_id: int, note: Annotated[str, Form(max_length=NOTE_MAX)] = "") -> Response:
    portal = portal_of(request)
    submission = _submission(portal, submission_id)
    if not note.strip():
        return _to_review("error", "reject_note")
    try:
        portal.store.decide_submission(
            submission_id, principal(request).user.username, note.strip(), portal.now(), None
        )
    except ConfigError:
        return _to_review("error", "decided_already")
    detail = {"check_id": submission.check_id, "note": note.strip()}
    portal.log(request, "reject", f"submission:{submission_id}", agency_id=submission.agency_id, detail=detail)
    return _to_review("notice", "rejected")


@route(router, "/submissions/{submission_id}/document", access=Access.agency_read, scope=Scope.submission)
def document(request: Request, submission_id: int) -> Response:
    portal = portal_of(request)
    submission = _submission(portal, submission_id)
    content, media_type, file_name = portal.store.submission_document(submission_id)
    detail = {"kind": "document", "submission_id": submission_id, "sha256": submission.document_sha256}
    portal.log(request, "download", request.url.path, agency_id=submission.agency_id, detail=detail)
    return Response(content, media_type=media_type, headers={"Content-Disposition": attachment(file_name)})
