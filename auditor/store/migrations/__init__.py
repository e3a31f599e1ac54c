"""Alembic environment and revisions of the audit store (loaded by Alembic by path, not imported)."""
