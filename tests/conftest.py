"""Fixtures every test package shares."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

PG_ENV = "AUDITOR_TEST_PG_URL"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema per test in the PostgreSQL test database (``AUDITOR_TEST_PG_URL``), selected through
    search_path and dropped afterwards; the test is skipped when no database is given."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    libpq_url = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(libpq_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
