"""Agency submissions: documents uploaded for manual items, and the officer's decision on each, which
records an attestation when it accepts. Nothing is edited: a decision is a row of its own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from auditor.errors import ConfigError, NotFoundError
from auditor.governance.records import PreparedAttestation, PreparedDocument
from auditor.said import said
from auditor.store.base import StoreBase
from auditor.store.governance import add_attestation, store_document
from auditor.store.schema import DocumentRecord, SubmissionDecisionRecord, SubmissionRecord
from auditor.store.views import SubmissionRow


def _row(submission: SubmissionRecord, decision: SubmissionDecisionRecord | None) -> SubmissionRow:
    return SubmissionRow(
        id=submission.id,
        agency_id=submission.agency_id,
        check_id=submission.check_id,
        document_sha256=submission.document_sha256,
        file_name=submission.file_name,
        note=submission.note,
        submitted_by=submission.submitted_by,
        submitted_at=submission.submitted_at,
        decision=decision.decision if decision else None,  # type: ignore[arg-type]
        decided_by=decision.decided_by if decision else None,
        decided_at=decision.decided_at if decision else None,
        decision_note=decision.note if decision else None,
        attestation_id=decision.attestation_id if decision else None,
    )


class SubmissionStore(StoreBase):
    def submit_document(
        self,
        agency_id: str,
        check_id: str,
        document: PreparedDocument,
        note: str,
        submitted_by: str,
        now: datetime,
    ) -> SubmissionRow:
        with self._write() as session:
            digest = store_document(session, document, now)
            record = SubmissionRecord(
                agency_id=agency_id,
                check_id=check_id,
                document_sha256=digest,
                file_name=document.file_name,
                note=note,
                submitted_by=submitted_by,
                submitted_at=now,
            )
            session.add(record)
            session.flush()
            return _row(record, None)

    def list_submissions(self, agency_id: str | None = None, *, pending_only: bool = False) -> list[SubmissionRow]:
        query = (
            select(SubmissionRecord, SubmissionDecisionRecord)
            .outerjoin(SubmissionDecisionRecord, SubmissionDecisionRecord.submission_id == SubmissionRecord.id)
            .order_by(SubmissionRecord.submitted_at.desc(), SubmissionRecord.id.desc())
        )
        if agency_id is not None:
            query = query.where(SubmissionRecord.agency_id == agency_id)
        if pending_only:
            query = query.where(SubmissionDecisionRecord.id.is_(None))
        with self._read() as session:
            return [_row(s, d) for s, d in session.execute(query)]

    def get_submission(self, submission_id: int) -> SubmissionRow:
        with self._read() as session:
            found = session.execute(
                select(SubmissionRecord, SubmissionDecisionRecord)
                .outerjoin(SubmissionDecisionRecord, SubmissionDecisionRecord.submission_id == SubmissionRecord.id)
                .where(SubmissionRecord.id == submission_id)
            ).first()
            if found is None:
                raise NotFoundError(said("err_store_no_submission", submission=submission_id))
            return _row(found[0], found[1])

    def submission_document(self, submission_id: int) -> tuple[bytes, str, str]:
        """(content, media type, file name) of a submission's document."""
        with self._read() as session:
            found = session.execute(
                select(DocumentRecord.content, DocumentRecord.media_type, SubmissionRecord.file_name)
                .join(SubmissionRecord, SubmissionRecord.document_sha256 == DocumentRecord.sha256)
                .where(SubmissionRecord.id == submission_id)
            ).first()
            if found is None:
                raise NotFoundError(said("err_store_no_submission", submission=submission_id))
            return bytes(found[0]), found[1], found[2]

    def decide_submission(
        self,
        submission_id: int,
        decided_by: str,
        note: str,
        now: datetime,
        attestation: PreparedAttestation | None,
    ) -> SubmissionRow:
        """Accept (``attestation`` given: recorded in the same transaction) or reject, once."""
        try:
            with self._write() as session:
                submission = session.get(SubmissionRecord, submission_id)
                if submission is None:
                    raise NotFoundError(said("err_store_no_submission", submission=submission_id))
                attestation_id = (
                    add_attestation(session, attestation, f"portal submission {submission_id}", now)
                    if attestation is not None
                    else None
                )
                decision = SubmissionDecisionRecord(
                    submission_id=submission_id,
                    decision="accepted" if attestation is not None else "rejected",
                    decided_by=decided_by,
                    decided_at=now,
                    note=note,
                    attestation_id=attestation_id,
                )
                session.add(decision)
                session.flush()
                return _row(submission, decision)
        except IntegrityError:
            raise ConfigError(said("err_store_submission_decided", submission=submission_id)) from None
