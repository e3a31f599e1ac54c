"""Manifests: appending to the installation's chain (one transaction, so two writers never fork it), reading
the chain back, and the stored rows a manifest is made of (a run, attestations, a waiver), read as they are.

A run's rows are streamed: a fleet's run holds hundreds of thousands of findings and pieces of evidence, so
they are read with plain Core queries in batches (a server-side cursor on PostgreSQL), never all at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, Select, and_, bindparam, select
from sqlalchemy.exc import IntegrityError

from auditor.errors import NotFoundError, StoreError
from auditor.said import said
from auditor.store.base import StoreBase
from auditor.store.schema import (
    AttestationDocumentRecord,
    AttestationRecord,
    Base,
    DocumentRecord,
    EvidenceRecord,
    FindingRecord,
    ManifestRecord,
    RunAgencyRecord,
    RunHostRecord,
    RunRecord,
    WaiverRecord,
    WaiverRevocationRecord,
)

Row = dict[str, Any]  # a stored row: column name -> value as read


class ChainHead(BaseModel):
    """Where the next manifest goes: its sequence number and the hash of the one before (None for the first)."""

    model_config = ConfigDict(frozen=True)

    sequence: int
    previous_sha256: str | None


class SealedManifest(BaseModel):
    """A manifest ready to store: its canonical bytes, their hash, and the signature when there was a key."""

    model_config = ConfigDict(frozen=True)

    kind: str
    subject: str
    created_at: datetime
    body: bytes
    sha256: str
    signature: bytes | None = None
    key_fingerprint: str | None = None
    public_key: bytes | None = None


class ManifestRow(SealedManifest):
    sequence: int


RunRowKind = Literal["run", "agency", "target", "finding", "evidence"]
# Rows per fetch: a batch of evidence holds its stdout and stderr (each capped when collected), so it stays small.
ROW_BATCH = 500
EVIDENCE_BATCH = 100


class RunRow(NamedTuple):
    """One stored row of a run, as read for its manifest: which kind of row, and its columns."""

    kind: RunRowKind
    row: Row


class GovernanceMaterial(BaseModel):
    """Stored governance rows: attestations (with their linked documents), documents, waivers, revocations."""

    model_config = ConfigDict(frozen=True)

    attestations: list[Row] = []
    documents: list[Row] = []
    waivers: list[Row] = []
    revocations: list[Row] = []


_RUNS = RunRecord.__table__
_RUN_AGENCIES = RunAgencyRecord.__table__
_TARGETS = RunHostRecord.__table__
_FINDINGS = FindingRecord.__table__
_EVIDENCE = EvidenceRecord.__table__


def _streamed(conn: Connection, kind: RunRowKind, query: Select[Any], batch: int) -> Iterator[RunRow]:
    """The rows of ``query`` fetched ``batch`` at a time (a server-side cursor where the database has one)."""
    result = conn.execution_options(yield_per=batch).execute(query)
    try:
        for row in result:
            yield RunRow(kind, dict(row._mapping))
    finally:
        result.close()


def _row(record: Base) -> Row:
    return {column.key: getattr(record, column.key) for column in record.__table__.columns}


def _bytes(value: bytes | str) -> bytes:
    """A binary column as bytes, even when SQLite hands back text someone wrote there behind the tool's back."""
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)


def _manifest_row(record: ManifestRecord) -> ManifestRow:
    return ManifestRow(
        sequence=record.sequence,
        kind=record.kind,
        subject=record.subject,
        created_at=record.created_at,
        body=_bytes(record.body),
        sha256=record.sha256,
        signature=_bytes(record.signature) if record.signature is not None else None,
        key_fingerprint=record.key_fingerprint,
        public_key=_bytes(record.public_key) if record.public_key is not None else None,
    )


class ManifestStore(StoreBase):
    def append_manifest(self, seal: Callable[[ChainHead], SealedManifest]) -> ManifestRow:
        """Append a manifest at the head of the chain. ``seal`` builds and signs it for the given head, inside the
        transaction that stores it; two writers at once cannot both take the same place (the second retries)."""
        for _attempt in range(5):
            try:
                with self._write() as session:
                    last = session.scalars(
                        select(ManifestRecord).order_by(ManifestRecord.sequence.desc()).limit(1)
                    ).first()
                    head = ChainHead(
                        sequence=last.sequence + 1 if last is not None else 0,
                        previous_sha256=last.sha256 if last is not None else None,
                    )
                    sealed = seal(head)
                    record = ManifestRecord(sequence=head.sequence, **sealed.model_dump())
                    session.add(record)
                    session.flush()
                    return _manifest_row(record)
            except IntegrityError:  # another writer took this place in the chain first
                continue
        raise StoreError(said("err_store_manifest_busy"))

    def list_manifests(self, kind: str | None = None) -> list[ManifestRow]:
        """The chain in order (of one kind when ``kind`` is given)."""
        query = select(ManifestRecord).order_by(ManifestRecord.sequence)
        if kind is not None:
            query = query.where(ManifestRecord.kind == kind)
        with self._read() as session:
            return [_manifest_row(record) for record in session.scalars(query)]

    def manifest_of(self, kind: str, subject: str) -> ManifestRow:
        """The latest manifest of a run (``kind`` run, ``subject`` its id) or governance record."""
        with self._read() as session:
            record = session.scalars(
                select(ManifestRecord)
                .where(ManifestRecord.kind == kind, ManifestRecord.subject == subject)
                .order_by(ManifestRecord.sequence.desc())
                .limit(1)
            ).first()
            if record is None:
                raise NotFoundError(said("err_store_no_manifest", kind=kind, subject=subject))
            return _manifest_row(record)

    def run_material(self, run_id: str) -> Iterator[RunRow]:
        """Every stored row of one run, streamed in this order: the run, what it recorded of each agency (by
        agency id), its targets, its findings (each with ``cited_sha256``, the stored SHA-256 of the run's
        evidence it cites, or None), its evidence with the bytes; each kind in id order. Only one batch of rows
        is held at a time: consume it while the store is open (NotFoundError when there is no such run, raised on
        the first row)."""
        with self._read() as session:
            conn = session.connection()
            run = conn.execute(select(_RUNS).where(_RUNS.c.id == run_id)).first()
            if run is None:
                raise NotFoundError(said("err_no_run", run=run_id))
            yield RunRow("run", dict(run._mapping))
            agencies = select(_RUN_AGENCIES).where(_RUN_AGENCIES.c.run_id == run_id).order_by(_RUN_AGENCIES.c.agency_id)
            for agency in conn.execute(agencies):  # none for a run recorded before migration 0010
                yield RunRow("agency", dict(agency._mapping))
            of_run = select(_TARGETS.c.id).where(_TARGETS.c.run_id == run_id)
            targets = select(_TARGETS).where(_TARGETS.c.run_id == run_id).order_by(_TARGETS.c.id)
            target_ids: list[int] = []
            for target in _streamed(conn, "target", targets, ROW_BATCH):
                target_ids.append(target.row["id"])
                yield target
            cited = and_(_EVIDENCE.c.id == _FINDINGS.c.evidence_id, _EVIDENCE.c.run_host_id.in_(of_run))
            findings = (
                select(_FINDINGS, _EVIDENCE.c.sha256.label("cited_sha256"))
                .select_from(_FINDINGS.outerjoin(_EVIDENCE, cited))
                .where(_FINDINGS.c.run_id == run_id)
                .order_by(_FINDINGS.c.id)
            )
            yield from _streamed(conn, "finding", findings, ROW_BATCH)
            # Target by target: one query over the whole run would sort all of its evidence bytes before the first row.
            evidence = select(_EVIDENCE).where(_EVIDENCE.c.run_host_id == bindparam("target")).order_by(_EVIDENCE.c.id)
            for target_id in target_ids:
                yield from _streamed(conn, "evidence", evidence.params(target=target_id), EVIDENCE_BATCH)

    def finished_runs(self) -> list[Row]:
        """Every finished run (id, status, finished_at), oldest first."""
        with self._read() as session:
            rows = session.execute(
                select(RunRecord.id, RunRecord.status, RunRecord.finished_at)
                .where(RunRecord.finished_at.is_not(None))
                .order_by(RunRecord.finished_at, RunRecord.id)
            )
            return [{"id": i, "status": s, "finished_at": f} for i, s, f in rows]

    def governance_material(
        self,
        attestation_ids: Sequence[int] = (),
        waiver_ids: Sequence[int] = (),
        revoked_waiver_ids: Sequence[int] = (),
    ) -> GovernanceMaterial:
        """The stored rows of these attestations (with their documents), waivers and waivers' revocations."""
        with self._read() as session:
            attestations = list(
                session.scalars(select(AttestationRecord).where(AttestationRecord.id.in_(list(attestation_ids))))
            )
            links = list(
                session.scalars(
                    select(AttestationDocumentRecord).where(
                        AttestationDocumentRecord.attestation_id.in_(list(attestation_ids))
                    )
                )
            )
            documents = list(
                session.scalars(
                    select(DocumentRecord).where(DocumentRecord.sha256.in_(sorted({k.document_sha256 for k in links})))
                )
            )
            waivers = list(session.scalars(select(WaiverRecord).where(WaiverRecord.id.in_(list(waiver_ids)))))
            revocations = list(
                session.scalars(
                    select(WaiverRevocationRecord).where(WaiverRevocationRecord.waiver_id.in_(list(revoked_waiver_ids)))
                )
            )
            linked: dict[int, list[Row]] = {}
            for link in links:
                linked.setdefault(link.attestation_id, []).append(
                    {"sha256": link.document_sha256, "file_name": link.file_name}
                )
            return GovernanceMaterial(
                attestations=[{**_row(r), "documents": linked.get(r.id, [])} for r in attestations],
                documents=[_row(r) for r in documents],
                waivers=[_row(r) for r in waivers],
                revocations=[_row(r) for r in revocations],
            )

    def governance_ids(self) -> dict[str, list[int]]:
        """Ids of every attestation, waiver and revoked waiver, with their recording times (for coverage)."""
        with self._read() as session:
            return {
                "attestation": list(session.scalars(select(AttestationRecord.id).order_by(AttestationRecord.id))),
                "waiver": list(session.scalars(select(WaiverRecord.id).order_by(WaiverRecord.id))),
                "revocation": list(
                    session.scalars(select(WaiverRevocationRecord.waiver_id).order_by(WaiverRevocationRecord.waiver_id))
                ),
            }
