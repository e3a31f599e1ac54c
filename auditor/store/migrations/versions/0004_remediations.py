"""Remediations: each `auditor remediate` invocation, its source run and the run that re-verified it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "remediations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("source_run_id", sa.String(40), nullable=False),
        sa.Column("verify_run_id", sa.String(40), nullable=True),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tool_version", sa.String(64), nullable=False),
        sa.Column("data_dir", sa.Text(), nullable=False),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["source_run_id"], ["runs.id"], name="fk_remediations_source_run_id_runs"),
        sa.ForeignKeyConstraint(["verify_run_id"], ["runs.id"], name="fk_remediations_verify_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_remediations"),
    )


def downgrade() -> None:
    op.drop_table("remediations")
