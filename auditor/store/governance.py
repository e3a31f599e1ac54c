"""Store access for attestations, documents and waivers: append-only, read "as of" a moment."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auditor.errors import ConfigError, NotFoundError
from auditor.foreign import in_english_as_is
from auditor.governance.records import (
    Answer,
    Attestation,
    DocumentRef,
    PreparedAttestation,
    PreparedDocument,
    Waiver,
    WaiverRequest,
    end_of_day,
)
from auditor.said import said
from auditor.store.base import StoreBase
from auditor.store.schema import (
    AgencyRecord,
    AttestationDocumentRecord,
    AttestationRecord,
    DocumentRecord,
    WaiverRecord,
    WaiverRevocationRecord,
)


class GovernanceStore(StoreBase):
    def known_agencies(self) -> set[str]:
        with self._read() as session:
            return set(session.scalars(select(AgencyRecord.id)))

    # -- attestations ------------------------------------------------------------------------------------------

    def record_attestations(self, prepared: list[PreparedAttestation], source: str, now: datetime) -> list[int]:
        """All rows in one transaction: either every attestation is stored, or none."""
        with self._write() as session:
            return [add_attestation(session, item, source, now) for item in prepared]

    def list_attestations(self, agency_id: str | None = None, as_of: datetime | None = None) -> list[Attestation]:
        with self._read() as session:
            query = select(AttestationRecord).order_by(AttestationRecord.recorded_at, AttestationRecord.id)
            if agency_id is not None:
                query = query.where(AttestationRecord.agency_id == agency_id)
            if as_of is not None:
                query = query.where(AttestationRecord.recorded_at <= as_of)
            records = list(session.scalars(query))
            # One query for the documents of all those attestations, with their sizes (a join, not every size).
            documents: dict[int, list[DocumentRef]] = {}
            linked = session.execute(
                select(
                    AttestationDocumentRecord.attestation_id,
                    AttestationDocumentRecord.document_sha256,
                    AttestationDocumentRecord.file_name,
                    DocumentRecord.size,
                )
                .join(DocumentRecord, DocumentRecord.sha256 == AttestationDocumentRecord.document_sha256, isouter=True)
                .where(AttestationDocumentRecord.attestation_id.in_([r.id for r in records]))
                .order_by(AttestationDocumentRecord.attestation_id, AttestationDocumentRecord.document_sha256)
            )
            for attestation_id, sha, file_name, size in linked:
                documents.setdefault(attestation_id, []).append(
                    DocumentRef(sha256=sha, file_name=file_name, size=size or 0)
                )
            return [
                Attestation(
                    id=r.id,
                    agency_id=r.agency_id,
                    check_id=r.check_id,
                    answer=Answer(r.answer),
                    justification=r.justification,
                    attested_by=r.attested_by,
                    attested_at=r.attested_at,
                    valid_until=r.valid_until,
                    recorded_at=r.recorded_at,
                    source=r.source,
                    documents=tuple(documents.get(r.id, ())),
                )
                for r in records
            ]

    def get_document(self, sha256: str) -> tuple[bytes, str]:
        with self._read() as session:
            record = session.get(DocumentRecord, sha256)
            if record is None:
                raise NotFoundError(said("gov_no_document", sha256=sha256))
            return record.content, record.media_type

    # -- waivers -----------------------------------------------------------------------------------------------

    def add_waiver(self, request: WaiverRequest, now: datetime) -> int:
        if end_of_day(request.expires_on) < now:
            raise ConfigError(said("gov_waiver_past", date=request.expires_on.isoformat()))
        if request.agency_id not in self.known_agencies():
            raise ConfigError(said("gov_waiver_unknown_agency", agency=request.agency_id))
        try:
            with self._write() as session:
                record = WaiverRecord(
                    agency_id=request.agency_id,
                    host_pattern=request.host_pattern,
                    check_id=request.check_id,
                    justification=request.justification,
                    compensating_control=request.compensating_control,
                    requested_by=request.requested_by,
                    approved_by=request.approved_by,
                    expires_at=end_of_day(request.expires_on),
                    recorded_at=now,
                )
                session.add(record)
                session.flush()
                return record.id
        except IntegrityError as exc:  # pragma: no cover - the pydantic rules catch these first
            raise ConfigError(said("gov_waiver_refused", problem=in_english_as_is("db", str(exc.orig)))) from None

    def revoke_waiver(self, waiver_id: int, revoked_by: str, reason: str, now: datetime) -> None:
        with self._write() as session:
            if session.get(WaiverRecord, waiver_id) is None:
                raise NotFoundError(said("gov_no_waiver", waiver=waiver_id))
            already = session.scalars(
                select(WaiverRevocationRecord).where(WaiverRevocationRecord.waiver_id == waiver_id)
            ).first()
            if already is not None:
                raise ConfigError(said("gov_waiver_revoked", waiver=waiver_id, date=already.revoked_at.isoformat()))
            session.add(
                WaiverRevocationRecord(waiver_id=waiver_id, revoked_by=revoked_by, reason=reason, revoked_at=now)
            )

    def list_waivers(self, agency_id: str | None = None, as_of: datetime | None = None) -> list[Waiver]:
        with self._read() as session:
            query = (
                select(WaiverRecord, WaiverRevocationRecord)
                .outerjoin(WaiverRevocationRecord, WaiverRevocationRecord.waiver_id == WaiverRecord.id)
                .order_by(WaiverRecord.id)
            )
            if agency_id is not None:
                query = query.where(WaiverRecord.agency_id == agency_id)
            if as_of is not None:
                query = query.where(WaiverRecord.recorded_at <= as_of)
            waivers = []
            for record, revocation in session.execute(query):
                revoked = (
                    revocation if revocation is not None and (as_of is None or revocation.revoked_at <= as_of) else None
                )
                waivers.append(
                    Waiver(
                        id=record.id,
                        agency_id=record.agency_id,
                        host_pattern=record.host_pattern,
                        check_id=record.check_id,
                        justification=record.justification,
                        compensating_control=record.compensating_control,
                        requested_by=record.requested_by,
                        approved_by=record.approved_by,
                        expires_at=record.expires_at,
                        recorded_at=record.recorded_at,
                        revoked_at=revoked.revoked_at if revoked else None,
                        revoked_by=revoked.revoked_by if revoked else None,
                        revoke_reason=revoked.reason if revoked else None,
                    )
                )
            return waivers


def store_document(session: Session, document: PreparedDocument, now: datetime) -> str:
    """Keep a document once by content; returns its SHA-256."""
    digest = hashlib.sha256(document.content).hexdigest()
    if session.get(DocumentRecord, digest) is None:
        session.add(
            DocumentRecord(
                sha256=digest,
                size=len(document.content),
                media_type=document.media_type,
                content=document.content,
                first_seen_at=now,
            )
        )
        session.flush()
    return digest


def add_attestation(session: Session, item: PreparedAttestation, source: str, now: datetime) -> int:
    """One attestation with its documents, inside the caller's transaction; returns its id."""
    entry = item.entry
    record = AttestationRecord(
        agency_id=entry.agency,
        check_id=entry.item,
        answer=entry.answer.value,
        justification=entry.justification,
        attested_by=entry.attested_by,
        attested_at=end_of_day(entry.attested_at).replace(hour=0, minute=0, second=0),
        valid_until=end_of_day(entry.valid_until),
        recorded_at=now,
        source=source,
    )
    session.add(record)
    session.flush()
    for document in item.documents:
        digest = store_document(session, document, now)
        if session.get(AttestationDocumentRecord, (record.id, digest)) is None:
            session.add(
                AttestationDocumentRecord(
                    attestation_id=record.id, document_sha256=digest, file_name=document.file_name
                )
            )
    session.flush()
    return record.id
