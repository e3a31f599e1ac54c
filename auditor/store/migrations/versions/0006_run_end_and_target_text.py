"""Every run ends with a stated status, and text from targets is stored whatever it holds.

runs.status: ``completed_with_errors`` joins the final statuses (the column widens to 24 characters).
runs.status_detail: why a run ended ``failed`` or ``interrupted``.
Text columns that may carry what a target sent (targets' addresses and error details, evidence commands,
findings' observed and expected values and reasons) now hold NUL and lone surrogates as escapes
(``auditor/store/textcodec.py``). Rows written before are raw text; the few whose text reads like such an
escape (a backslash before ``x00`` or ``ud800``..``udfff``) are rewritten in the new form, so they read back unchanged.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from auditor.store.textcodec import to_store

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_OLD_STATUSES = ("running", "completed", "interrupted", "failed")
_NEW_STATUSES = ("running", "completed", "completed_with_errors", "interrupted", "failed")
# table -> the columns now stored through the codec (every table here has an integer ``id`` key)
_TARGET_TEXT: dict[str, tuple[str, ...]] = {
    "run_hosts": ("address", "error_detail"),
    "evidence": ("command",),
    "findings": ("observed", "expected", "reason_vi", "reason_en"),
}


# 0001 named the check through the naming convention a second time: its name in every database is this one.
# It becomes what the model says (``ck_runs_status``); op.f() keeps a name from being converted again.
_OLD_CHECK_NAME = "ck_runs_ck_runs_status"
_NEW_CHECK_NAME = "ck_runs_status"


def _status_check(statuses: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{status}'" for status in statuses) + ")"


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(op.f(_OLD_CHECK_NAME), type_="check")
        batch.alter_column("status", type_=sa.String(24), existing_type=sa.String(16), existing_nullable=False)
        batch.add_column(sa.Column("status_detail", sa.Text(), nullable=True))
        batch.create_check_constraint(op.f(_NEW_CHECK_NAME), _status_check(_NEW_STATUSES))
    if not context.is_offline_mode():  # a SQL script cannot read rows: it leaves them as they were
        _rewrite_escape_lookalikes()


def _rewrite_escape_lookalikes() -> None:
    """Only rows holding a backslash before ``x00`` or ``ud…`` can read differently now; the database narrows
    them down with LIKE (case-insensitively on SQLite: the codec decides), Python rewrites the ones that change."""
    bind = op.get_bind()
    for table_name, columns in _TARGET_TEXT.items():
        table = sa.table(table_name, sa.column("id", sa.Integer()), *(sa.column(c, sa.Text()) for c in columns))
        for name in columns:
            column = table.c[name]
            lookalike = sa.or_(column.contains("\\x00", autoescape=True), column.contains("\\ud", autoescape=True))
            for row_id, value in bind.execute(sa.select(table.c.id, column).where(lookalike)).all():
                stored = to_store(value)
                if stored != value:
                    bind.execute(sa.update(table).where(table.c.id == row_id).values({name: stored}))


def downgrade() -> None:
    # Escaped text stays escaped (an older auditor shows the escape, which PostgreSQL could not hold raw);
    # runs that completed with errors become plain "completed", the only final status that version knows.
    op.execute("UPDATE runs SET status = 'completed' WHERE status = 'completed_with_errors'")
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(op.f(_NEW_CHECK_NAME), type_="check")
        batch.drop_column("status_detail")
        batch.alter_column("status", type_=sa.String(16), existing_type=sa.String(24), existing_nullable=False)
        batch.create_check_constraint(op.f(_OLD_CHECK_NAME), _status_check(_OLD_STATUSES))
