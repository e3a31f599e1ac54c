"""run_hosts.kind: a target is a host observed over SSH or the agency itself (manual items).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run_hosts") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="host"))


def downgrade() -> None:
    with op.batch_alter_table("run_hosts") as batch:
        batch.drop_column("kind")
