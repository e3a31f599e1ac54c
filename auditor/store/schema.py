"""The relational schema of the audit store (SQLAlchemy 2 declarative ORM).

The first Alembic revision (``migrations/versions/0001_initial_schema.py``) creates exactly these tables by hand;
``tests/unit/test_store.py`` checks that the two agree. Any change here needs a new revision.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from auditor.store.textcodec import from_store, to_store
from auditor.vocabulary import RunStatus

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUN_STATUSES: tuple[str, ...] = tuple(status.value for status in RunStatus)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always returned timezone-aware (UTC), on SQLite as on PostgreSQL.

    Naive datetimes handed in are taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":  # SQLite keeps text without an offset: store the UTC wall time
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TargetText(TypeDecorator[str]):
    """Text that may carry what a target sent: any str is stored (NUL and lone surrogates escaped, reversibly,
    by ``textcodec``) and read back exactly. Plain TEXT in the database; every write and read goes through here."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else to_store(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else from_store(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class RunRecord(Base):
    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint("status IN (" + ", ".join(f"'{status}'" for status in RUN_STATUSES) + ")", name="status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status: Mapped[str] = mapped_column(String(24), nullable=False)  # RunStatus
    tool_version: Mapped[str] = mapped_column(String(64), nullable=False)
    checklist_version: Mapped[str] = mapped_column(Text, nullable=False)
    inventory_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    # Cached by finish_run; live counts are always computed from run_hosts/findings when read.
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Why the run ended as it did when that was not a normal end (failed, interrupted); None otherwise.
    status_detail: Mapped[str | None] = mapped_column(TargetText(), nullable=True)


class AgencyRecord(Base):
    __tablename__ = "agencies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_vi: Mapped[str] = mapped_column(Text, nullable=False)
    name_en: Mapped[str] = mapped_column(Text, nullable=False)


class RunAgencyRecord(Base):
    """What reports need of an agency as the run found it in the inventory (migration 0010): the owner of the
    fixes (the contact's name and title) and the agency's time zone. Never the contact's email or phone."""

    __tablename__ = "run_agencies"

    run_id: Mapped[str] = mapped_column(String(40), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64), ForeignKey("agencies.id"), primary_key=True)
    owner_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner_title: Mapped[str | None] = mapped_column(Text, nullable=True)
    timezone: Mapped[str | None] = mapped_column(Text, nullable=True)  # None: the profile's


class RunHostRecord(Base):
    __tablename__ = "run_hosts"
    __table_args__ = (
        UniqueConstraint("run_id", "host_name", name="uq_run_hosts_run_id_host_name"),
        Index("ix_run_hosts_agency_id", "agency_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(40), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)
    agency_id: Mapped[str] = mapped_column(String(64), ForeignKey("agencies.id"), nullable=False)
    host_name: Mapped[str] = mapped_column(String(255), nullable=False)  # the target's name
    # "host": a server over SSH; "agency": the agency itself (manual items); "service":
    # tcp://address:port seen from the network; "website": a public URL.
    kind: Mapped[str] = mapped_column(String(16), nullable=False, server_default="host")
    address: Mapped[str] = mapped_column(TargetText(), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    error_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_detail: Mapped[str | None] = mapped_column(TargetText(), nullable=True)
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    exec_requests: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class EvidenceRecord(Base):
    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("run_host_id", "probe_id", name="uq_evidence_run_host_id_probe_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_host_id: Mapped[int] = mapped_column(Integer, ForeignKey("run_hosts.id", ondelete="CASCADE"), nullable=False)
    probe_id: Mapped[str] = mapped_column(String(128), nullable=False)
    command: Mapped[str] = mapped_column(TargetText(), nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stdout: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    stderr: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    duration_s: Mapped[float] = mapped_column(Float, nullable=False)
    truncated: Mapped[bool] = mapped_column(Boolean, nullable=False)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class FindingRecord(Base):
    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_run_id_status", "run_id", "status"),
        Index("ix_findings_run_id_check_id", "run_id", "check_id"),
        Index("uq_findings_run_host_id_check_id", "run_host_id", "check_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(40), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)
    run_host_id: Mapped[int] = mapped_column(Integer, ForeignKey("run_hosts.id", ondelete="CASCADE"), nullable=False)
    check_id: Mapped[str] = mapped_column(String(128), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    severity: Mapped[str] = mapped_column(String(16), nullable=False)
    observed: Mapped[str] = mapped_column(TargetText(), nullable=False)
    expected: Mapped[str] = mapped_column(TargetText(), nullable=False)  # compact notation, for machines
    # the same in words, for people; NULL on rows written before 0007 (readers fall back to `expected`)
    expected_vi: Mapped[str | None] = mapped_column(TargetText(), nullable=True)
    expected_en: Mapped[str | None] = mapped_column(TargetText(), nullable=True)
    # Is the setting configured at all (what TCVN 11930 asks), apart from our profile's threshold.
    configured: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    reason_vi: Mapped[str] = mapped_column(TargetText(), nullable=False)
    reason_en: Mapped[str] = mapped_column(TargetText(), nullable=False)
    requirements: Mapped[list[dict[str, str]]] = mapped_column(JSON, nullable=False)
    evidence_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("evidence.id", ondelete="SET NULL"), nullable=True
    )
    # None: the auditor's own check; "external:<tool>": a result another tool produced, imported (migration 0009)
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)


# -- governance: manual evidence (attestations with documents) and waivers ----------------------------------
# Every row is history: nothing here is updated in place. A new answer is a new attestation; a
# revocation is a row of its own. Readers resolve "as of" a moment, so past reports stay reproducible.


class DocumentRecord(Base):
    """An evidence document, stored once by content (SHA-256)."""

    __tablename__ = "documents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    media_type: Mapped[str] = mapped_column(String(100), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class AttestationRecord(Base):
    __tablename__ = "attestations"
    __table_args__ = (
        Index("ix_attestations_agency_id_check_id", "agency_id", "check_id"),
        CheckConstraint("answer in ('met', 'partly_met', 'not_met', 'not_applicable')", name="answer"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_id: Mapped[str] = mapped_column(String(64), ForeignKey("agencies.id"), nullable=False)
    check_id: Mapped[str] = mapped_column(String(80), nullable=False)  # a manual item's id
    answer: Mapped[str] = mapped_column(String(20), nullable=False)
    justification: Mapped[str] = mapped_column(Text, nullable=False)
    attested_by: Mapped[str] = mapped_column(String(200), nullable=False)
    attested_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)  # the imported file's name


class AttestationDocumentRecord(Base):
    __tablename__ = "attestation_documents"

    attestation_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("attestations.id", ondelete="CASCADE"), primary_key=True
    )
    document_sha256: Mapped[str] = mapped_column(String(64), ForeignKey("documents.sha256"), primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255), nullable=False)


class WaiverRecord(Base):
    __tablename__ = "waivers"
    __table_args__ = (
        Index("ix_waivers_agency_id_check_id", "agency_id", "check_id"),
        CheckConstraint("requested_by <> approved_by", name="distinct_approver"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_id: Mapped[str] = mapped_column(String(64), ForeignKey("agencies.id"), nullable=False)
    host_pattern: Mapped[str] = mapped_column(String(255), nullable=False)  # fnmatch pattern over target names
    check_id: Mapped[str] = mapped_column(String(80), nullable=False)
    justification: Mapped[str] = mapped_column(Text, nullable=False)
    compensating_control: Mapped[str] = mapped_column(Text, nullable=False)
    requested_by: Mapped[str] = mapped_column(String(200), nullable=False)
    approved_by: Mapped[str] = mapped_column(String(200), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class WaiverRevocationRecord(Base):
    __tablename__ = "waiver_revocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    waiver_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("waivers.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    revoked_by: Mapped[str] = mapped_column(String(200), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


# -- remediations: what `auditor remediate` ran, against which audit run, and the run that re-verified it ---------
# Written at start and updated when the remediation ends, so an interrupted remediation is visible as ``running``.


class RemediationRecord(Base):
    __tablename__ = "remediations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_run_id: Mapped[str] = mapped_column(String(40), ForeignKey("runs.id"), nullable=False)
    verify_run_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("runs.id"), nullable=True)
    mode: Mapped[str] = mapped_column(String(8), nullable=False)  # check | apply
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # running | completed | stopped | failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    tool_version: Mapped[str] = mapped_column(String(64), nullable=False)
    data_dir: Mapped[str] = mapped_column(Text, nullable=False)  # ansible-runner private data dir (evidence)
    selection: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


# -- the portal: accounts, sessions, activity, schedules, agency submissions, mail (migration 0005) ------------


class UserRecord(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('officer', 'department', 'agency')", name="role"),
        CheckConstraint("(role = 'agency') = (agency_id IS NOT NULL)", name="agency_bound"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    display_name: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    agency_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # an agency user's one agency
    email: Mapped[str | None] = mapped_column(Text, nullable=True)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)  # argon2id, never the password
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False)
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class PortalSessionRecord(Base):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is kept here."""

    __tablename__ = "portal_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the session token
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # logout or idle expiry
    remote_addr: Mapped[str | None] = mapped_column(Text, nullable=True)


class ActivityRecord(Base):
    """Who did what, when, from where: append-only (the store offers no update or delete)."""

    __tablename__ = "activity_log"
    __table_args__ = (Index("ix_activity_log_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)  # a username, "system" or "anonymous"
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    agency_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the agency concerned, if one
    target: Mapped[str] = mapped_column(Text, nullable=False)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    remote_addr: Mapped[str | None] = mapped_column(Text, nullable=True)


class ScheduleRecord(Base):
    __tablename__ = "schedules"
    __table_args__ = (
        CheckConstraint("only_agent IS NULL OR only_agent IN ('ssh', 'network', 'web')", name="only_agent"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: every agency
    cron: Mapped[str] = mapped_column(String(120), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    only_agent: Mapped[str | None] = mapped_column(String(16), nullable=True)  # `--only`: one agent
    paused: Mapped[bool] = mapped_column(Boolean, nullable=False)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_slot_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # last due time handled


class AuditLeaseRecord(Base):
    """One row per agency being audited: no two runs of one agency at once, across server processes."""

    __tablename__ = "audit_leases"

    agency_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64), nullable=False)  # the process (and run) holding it
    run_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)  # renewed while the run lives


class SubmissionRecord(Base):
    """A document an agency uploaded for one of its manual items, awaiting an officer's decision."""

    __tablename__ = "submissions"
    __table_args__ = (Index("ix_submissions_agency_id_check_id", "agency_id", "check_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_id: Mapped[str] = mapped_column(String(64), nullable=False)
    check_id: Mapped[str] = mapped_column(String(80), nullable=False)
    document_sha256: Mapped[str] = mapped_column(String(64), ForeignKey("documents.sha256"), nullable=False)
    file_name: Mapped[str] = mapped_column(String(255), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    submitted_by: Mapped[str] = mapped_column(String(64), nullable=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class SubmissionDecisionRecord(Base):
    """An officer's answer to a submission, a row of its own (history is never edited)."""

    __tablename__ = "submission_decisions"
    __table_args__ = (CheckConstraint("decision IN ('accepted', 'rejected')", name="decision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    decision: Mapped[str] = mapped_column(String(16), nullable=False)
    decided_by: Mapped[str] = mapped_column(String(64), nullable=False)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    attestation_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("attestations.id"), nullable=True)


class MailRecord(Base):
    """The outbox: every mail is written here first and sent (and retried) from here."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_sent_at_next_attempt_at", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # report | summary | reminder
    dedupe_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    run_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    agency_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    to_addr: Mapped[str] = mapped_column(Text, nullable=False)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    attachment_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# -- manifests: the signed, chained record of every run, attestation and waiver (migration 0008) ---------------


class ManifestRecord(Base):
    """One manifest in the installation's chain: its canonical bytes, their hash, and the signature made with the
    installation key (none when no key was configured). Append-only: a manifest is never edited."""

    __tablename__ = "manifests"
    __table_args__ = (
        CheckConstraint("kind IN ('run', 'attestation', 'waiver')", name="kind"),
        Index("ix_manifests_kind_subject", "kind", "subject"),
    )

    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 0, 1, 2, … in the chain
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    subject: Mapped[str] = mapped_column(String(200), nullable=False)  # a run id, or the records it covers
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # canonical JSON of the manifest
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # Ed25519 over body
    key_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # the raw 32-byte key that signed
