"""Targets of two kinds and the "configured" verdict.

run_hosts.kind: a target is a host over SSH, the agency itself (manual items), a network service or a
website; run_hosts.host_name widens to 255 characters to hold service names and URLs.
findings.configured: whether a setting is configured at all, apart from the profile's threshold.

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
        batch.alter_column("host_name", type_=sa.String(255), existing_type=sa.String(64), existing_nullable=False)
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("configured", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("configured")
    with op.batch_alter_table("run_hosts") as batch:
        batch.alter_column("host_name", type_=sa.String(64), existing_type=sa.String(255), existing_nullable=False)
        batch.drop_column("kind")
