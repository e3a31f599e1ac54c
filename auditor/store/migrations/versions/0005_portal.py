"""The portal: accounts and sessions, the activity log, schedules and audit leases, agency submissions
with officers' decisions, and the mail outbox.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("password_changed_at", _utc(), nullable=False),
        sa.CheckConstraint("role IN ('officer', 'department', 'agency')", name="ck_users_role"),
        sa.CheckConstraint("(role = 'agency') = (agency_id IS NOT NULL)", name="ck_users_agency_bound"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("last_seen_at", _utc(), nullable=False),
        sa.Column("ended_at", _utc(), nullable=True),
        sa.Column("remote_addr", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_portal_sessions_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_portal_sessions"),
    )
    op.create_table(
        "activity_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("remote_addr", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_activity_log"),
    )
    op.create_index("ix_activity_log_at", "activity_log", ["at"])
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("cron", sa.String(120), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("only_agent", sa.String(16), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("removed_at", _utc(), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("last_slot_at", _utc(), nullable=True),
        sa.CheckConstraint(
            "only_agent IS NULL OR only_agent IN ('ssh', 'network', 'web')", name="ck_schedules_only_agent"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_schedules"),
    )
    op.create_table(
        "audit_leases",
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(40), nullable=True),
        sa.Column("acquired_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("agency_id", name="pk_audit_leases"),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("check_id", sa.String(80), nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("submitted_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_sha256"], ["documents.sha256"], name="fk_submissions_document_sha256_documents"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_submissions"),
    )
    op.create_index("ix_submissions_agency_id_check_id", "submissions", ["agency_id", "check_id"])
    op.create_table(
        "submission_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decided_at", _utc(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("attestation_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("decision IN ('accepted', 'rejected')", name="ck_submission_decisions_decision"),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name="fk_submission_decisions_submission_id_submissions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["attestation_id"], ["attestations.id"], name="fk_submission_decisions_attestation_id_attestations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_submission_decisions"),
        sa.UniqueConstraint("submission_id", name="uq_submission_decisions_submission_id"),
    )
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=True),
        sa.Column("run_id", sa.String(40), nullable=True),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("to_addr", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attachment_name", sa.Text(), nullable=True),
        sa.Column("attachment", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _utc(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_mail_outbox"),
        sa.UniqueConstraint("dedupe_key", name="uq_mail_outbox_dedupe_key"),
    )
    op.create_index("ix_mail_outbox_sent_at_next_attempt_at", "mail_outbox", ["sent_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_mail_outbox_sent_at_next_attempt_at", table_name="mail_outbox")
    op.drop_table("mail_outbox")
    op.drop_table("submission_decisions")
    op.drop_index("ix_submissions_agency_id_check_id", table_name="submissions")
    op.drop_table("submissions")
    op.drop_table("audit_leases")
    op.drop_table("schedules")
    op.drop_index("ix_activity_log_at", table_name="activity_log")
    op.drop_table("activity_log")
    op.drop_table("portal_sessions")
    op.drop_table("users")
