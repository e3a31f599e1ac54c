"""Governance: evidence documents, attestations and waivers (append-only history).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("first_seen_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_documents"),
    )
    op.create_table(
        "attestations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("check_id", sa.String(80), nullable=False),
        sa.Column("answer", sa.String(20), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("attested_by", sa.String(200), nullable=False),
        sa.Column("attested_at", _utc(), nullable=False),
        sa.Column("valid_until", _utc(), nullable=False),
        sa.Column("recorded_at", _utc(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "answer in ('met', 'partly_met', 'not_met', 'not_applicable')", name="ck_attestations_answer"
        ),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name="fk_attestations_agency_id_agencies"),
        sa.PrimaryKeyConstraint("id", name="pk_attestations"),
    )
    op.create_index("ix_attestations_agency_id_check_id", "attestations", ["agency_id", "check_id"])
    op.create_table(
        "attestation_documents",
        sa.Column("attestation_id", sa.Integer(), nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["attestation_id"],
            ["attestations.id"],
            name="fk_attestation_documents_attestation_id_attestations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_sha256"], ["documents.sha256"], name="fk_attestation_documents_document_sha256_documents"
        ),
        sa.PrimaryKeyConstraint("attestation_id", "document_sha256", name="pk_attestation_documents"),
    )
    op.create_table(
        "waivers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("host_pattern", sa.String(255), nullable=False),
        sa.Column("check_id", sa.String(80), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("compensating_control", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("recorded_at", _utc(), nullable=False),
        sa.CheckConstraint("requested_by <> approved_by", name="ck_waivers_distinct_approver"),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name="fk_waivers_agency_id_agencies"),
        sa.PrimaryKeyConstraint("id", name="pk_waivers"),
    )
    op.create_index("ix_waivers_agency_id_check_id", "waivers", ["agency_id", "check_id"])
    op.create_table(
        "waiver_revocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("waiver_id", sa.Integer(), nullable=False),
        sa.Column("revoked_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("revoked_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["waiver_id"], ["waivers.id"], name="fk_waiver_revocations_waiver_id_waivers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_waiver_revocations"),
        sa.UniqueConstraint("waiver_id", name="uq_waiver_revocations_waiver_id"),
    )


def downgrade() -> None:
    op.drop_table("waiver_revocations")
    op.drop_index("ix_waivers_agency_id_check_id", table_name="waivers")
    op.drop_table("waivers")
    op.drop_table("attestation_documents")
    op.drop_index("ix_attestations_agency_id_check_id", table_name="attestations")
    op.drop_table("attestations")
    op.drop_table("documents")
