"""Why a run ended as it did, as its ``status_detail`` keeps it and as each language shows it.

An interrupted run keeps the key of its reason (auditor.vocabulary.RunEndReason); a failed run keeps its error
in both languages, as a JSON object ``{"en": ..., "vi": ...}`` (the English is the error's own summary, as
it has always been stored). A detail stored before that, in English only, is shown in Vietnamese quoted as the
error's own words."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from auditor.errors import AuditorError, Sayable
from auditor.foreign import db_error_said, os_error_said, verbatim
from auditor.messages import shorten
from auditor.vocabulary import LocalizedText, RunEndReason

if TYPE_CHECKING:
    from auditor.reports.models import Lang

TEXT_CHARS = 300  # of each language's text
STORED_CHARS = 1000  # the whole stored detail, as the store keeps it (auditor.store.runs.STATUS_DETAIL_LIMIT)
_REASONS = frozenset(reason.value for reason in RunEndReason)


def error_summary(exc: BaseException) -> str:
    """One line saying what went wrong, fit to be stored and shown: the exception type and the first line of
    its message (a database error's own message, never the SQL statement or its parameters)."""
    cause = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError: the driver's message alone
    text = str(cause if cause is not None else exc).strip()
    first = text.splitlines()[0] if text else ""
    return shorten(f"{type(exc).__name__}: {first}" if first else type(exc).__name__, TEXT_CHARS)


def failure_words(exc: BaseException) -> Sayable:
    """The error in the auditor's words when it has them (its own errors, the database's, the system's), else
    its summary quoted as Python's own words."""
    if isinstance(exc, AuditorError) and exc.said is not None:
        return exc.said
    if getattr(exc, "orig", None) is not None or type(exc).__module__.startswith(("sqlalchemy", "psycopg", "sqlite3")):
        return db_error_said(exc)
    if isinstance(exc, OSError):
        return os_error_said(exc)
    return verbatim("python", error_summary(exc))


def failure_text(exc: BaseException) -> LocalizedText:
    """The error in both languages, each cut short: the English is its summary, as it was always stored."""
    return LocalizedText(vi=shorten(failure_words(exc).text("vi"), TEXT_CHARS), en=error_summary(exc))


def failure_detail(exc: BaseException) -> str:
    """A failed run's ``status_detail``: its error in both languages, within what the store keeps."""
    text = failure_text(exc)
    chars = TEXT_CHARS
    while True:
        stored = json.dumps({"en": shorten(text.en, chars), "vi": shorten(text.vi, chars)}, ensure_ascii=False)
        if len(stored) <= STORED_CHARS:
            return stored
        chars //= 2


def run_end_text(detail: str, lang: Lang) -> str:
    """``detail`` (a run's ``status_detail``) in ``lang``."""
    from auditor.reports.locale import strings

    if detail in _REASONS:
        return strings(lang, "report").get(f"run_end_{detail}")
    both = _both(detail)
    if both is not None:
        return both.get(lang)
    return detail if lang == "en" else verbatim("python", detail).text(lang)


def run_end_for_machines(detail: str | None) -> str | None:
    """What JSON and CSV listings show: the reason's key, or the error's English text."""
    both = _both(detail) if detail else None
    return both.en if both is not None else detail


def _both(detail: str) -> LocalizedText | None:
    if not detail.startswith("{"):
        return None
    try:
        return LocalizedText.model_validate_json(detail)
    except ValueError:
        return None
