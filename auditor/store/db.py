"""Opening the audit store: URL handling, engine set-up and programmatic Alembic migrations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from alembic.config import Config

from auditor.errors import StoreError
from auditor.foreign import db_error_said, in_english_as_is
from auditor.said import said
from auditor.store.store import Store

# The newest revision in migrations/versions/ (tests check it against Alembic): a store already at it
# opens without loading Alembic at all.
HEAD_REVISION = "0010"
DEFAULT_URL = "sqlite:///auditor.db"  # relative: the current working directory
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30
PG_CONNECT_TIMEOUT_S = 10
_PG_MIGRATION_LOCK = 0x61756469746F72  # "auditor": serialises concurrent migrations on one PostgreSQL database

_USERINFO = re.compile(r"(?P<head>(?:://|^|\s)[^\s:/@]*:)(?P<password>[^@\s]*)@")


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _USERINFO.sub(r"\g<head>***@", url)


def normalize_url(url: str | None) -> URL:
    """Parse a store URL: None means ``sqlite:///auditor.db``; bare ``postgresql://`` goes through psycopg 3."""
    raw = DEFAULT_URL if url is None or not url.strip() else url.strip()
    try:
        parsed = make_url(raw)
    except (ArgumentError, ValueError):
        raise StoreError(said("err_db_url", url=mask_url(raw))) from None
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise StoreError(said("err_db_backend", backend=parsed.get_backend_name()))
    return parsed


def create_store_engine(url: URL) -> Engine:
    """An engine with the per-backend settings the store relies on."""
    if url.get_backend_name() == "sqlite":
        in_memory = url.database in {None, "", ":memory:"}
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
            poolclass=StaticPool if in_memory else None,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    return create_engine(url, connect_args=connect_args, pool_pre_ping=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000:d}")
        cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def alembic_config() -> Config:
    """An Alembic Config built in code, pointing at the migrations shipped inside the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships a revision
        raise StoreError(said("err_db_no_migrations"))
    return head


def _current_revision(engine: Engine) -> str | None:
    """The stamped revision, read with plain SQL (None: not stamped yet, or stamped more than once)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return None  # no version table yet: a new database
    return rows[0][0] if len(rows) == 1 else None


def migrate(engine: Engine) -> None:
    """Bring the database schema to head; a no-op when it already is. Concurrent openers serialise."""
    if _current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    heads = set(script.get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current == heads:
        return
    for revision in current:
        try:
            script.get_revision(revision)
        except CommandError:
            raise StoreError(said("err_db_schema_newer", revision=revision, head=", ".join(sorted(heads)))) from None
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # DDL plus version stamp in one write transaction
        else:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = conn
        try:
            command.upgrade(config, "head")
        except CommandError as exc:
            raise StoreError(said("err_db_migrate", problem=in_english_as_is("alembic", str(exc)))) from None
        conn.commit()


def open_store(url: str | None = None) -> Store:
    """Open (creating and migrating as needed) the audit store at ``url``.

    ``None`` opens ``auditor.db`` in the current directory. Raises StoreError, never showing the password.
    """
    parsed = normalize_url(url)
    shown = parsed.render_as_string(hide_password=True)
    password = parsed.password if isinstance(parsed.password, str) else None
    engine: Engine | None = None
    try:
        engine = create_store_engine(parsed)
        migrate(engine)
    except StoreError:
        if engine is not None:
            engine.dispose()
        raise
    except (SQLAlchemyError, OSError) as exc:
        if engine is not None:
            engine.dispose()
        raise StoreError(said("err_db_open", url=shown, problem=db_error_said(exc, password))) from None
    return Store(engine, display_url=shown)
