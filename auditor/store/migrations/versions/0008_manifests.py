"""Manifests: the signed, chained record of every run, attestation and waiver.

manifests: one row per manifest in the installation's chain (``sequence`` 0, 1, 2, …), with its canonical
bytes, their SHA-256, and the Ed25519 signature, key fingerprint and public key (NULL when the installation
had no signing key). Runs, attestations and waivers recorded before have no manifest.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "manifests",
        sa.Column("sequence", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=True),
        sa.Column("key_fingerprint", sa.String(64), nullable=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint("kind IN ('run', 'attestation', 'waiver')", name="ck_manifests_kind"),
        sa.PrimaryKeyConstraint("sequence", name="pk_manifests"),
        sa.UniqueConstraint("sha256", name="uq_manifests_sha256"),
    )
    op.create_index("ix_manifests_kind_subject", "manifests", ["kind", "subject"])


def downgrade() -> None:
    op.drop_index("ix_manifests_kind_subject", table_name="manifests")
    op.drop_table("manifests")
