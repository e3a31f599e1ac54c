"""What every part of the store shares: the engine, short sessions, one write lock on SQLite, error mapping."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from auditor.errors import StoreError
from auditor.foreign import db_error_said
from auditor.said import said


class StoreBase:
    """Thread-safe: each call uses its own short session; writes are serialised on SQLite."""

    def __init__(self, engine: Engine, display_url: str | None = None) -> None:
        self.engine = engine
        self.url = display_url or engine.url.render_as_string(hide_password=True)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._is_sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer at a time; taking the lock in-process avoids busy waits between our own threads.
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if self._is_sqlite else contextlib.nullcontext()
        )

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> StoreBase:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    @contextlib.contextmanager
    def _read(self) -> Iterator[Session]:
        try:
            with self._sessions() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(said("err_db_read", url=self.url, problem=db_error_said(exc))) from None

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        """One transaction, committed on leaving the block (rolled back on any error)."""
        try:
            with self._write_lock, self._sessions() as session, session.begin():
                yield session
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise StoreError(said("err_db_write", url=self.url, problem=db_error_said(exc))) from None


def sql_reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
