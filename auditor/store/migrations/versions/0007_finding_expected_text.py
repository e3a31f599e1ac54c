"""A finding's requirement in words, for people, in both languages.

findings.expected_vi / findings.expected_en: what the check asks, in words ("chỉ gồm các giá trị: “2222”"),
next to findings.expected, which keeps the compact notation for machines (``subset of [2222]``). Rows written
before hold NULL here; readers word them from the check's current definition
(auditor/evaluation/expected_words.py), never show the notation.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("expected_vi", sa.Text(), nullable=True))
        batch.add_column(sa.Column("expected_en", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("expected_en")
        batch.drop_column("expected_vi")
