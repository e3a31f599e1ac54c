"""What a run recorded of each agency it audited: run_agencies.

One row per (run, agency): the owner of the fixes (the inventory contact's name and title) and the agency's time
zone, so that reports, pages and downloads name the owner and show local time without the inventory. The
contact's email and phone are never recorded. Runs recorded before have no rows: they read as before.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "run_agencies",
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("owner_name", sa.Text(), nullable=True),
        sa.Column("owner_title", sa.Text(), nullable=True),
        sa.Column("timezone", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_run_agencies_run_id_runs", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name="fk_run_agencies_agency_id_agencies"),
        sa.PrimaryKeyConstraint("run_id", "agency_id", name="pk_run_agencies"),
    )


def downgrade() -> None:
    op.drop_table("run_agencies")
