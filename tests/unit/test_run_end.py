"""Why a run ended, in each language: a failed run keeps its error in both, shown in Vietnamese without English
on the command line and the portal; machine output keeps the English; a detail stored in English only (before
both were kept) is shown in Vietnamese quoted as the error's own words."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from auditor.cli.app import app
from auditor.errors import StoreError
from auditor.foreign import foreign
from auditor.portal.web import environment
from auditor.reports.locale import strings
from auditor.run_end import STORED_CHARS, failure_detail, run_end_for_machines, run_end_text
from auditor.said import said
from auditor.store import RunStatus, open_store
from auditor.store.runs import STATUS_DETAIL_LIMIT

QUOTED = re.compile(r"thông báo gốc của [^:“]+: “[^”]*”")  # another program's own words, marked as such
ENGLISH = re.compile(
    r"\b(?:cannot|write|read|store|database|locked|error|errors|the|is|no|such|file|directory|failed|broken)\b",
    re.IGNORECASE,
)


def english_in(vietnamese: str) -> list[str]:
    return ENGLISH.findall(QUOTED.sub("", vietnamese))


def _locked() -> OperationalError:
    orig = sqlite3.OperationalError("database is locked")
    orig.sqlite_errorname = "SQLITE_BUSY"  # type: ignore[attr-defined]
    return OperationalError("UPDATE runs SET status=?", {"status": "failed"}, orig)


FAILURES: dict[str, BaseException] = {
    "store": StoreError(said("err_db_write", url="sqlite:///a.db", problem=foreign("db_io"))),
    "database": _locked(),
    "system": FileNotFoundError(2, "No such file or directory"),
    "bug": RuntimeError("the agent is broken"),
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_a_failed_runs_reason_is_kept_in_both_languages(name: str) -> None:
    error = FAILURES[name]
    detail = failure_detail(error)
    assert len(detail) <= STORED_CHARS <= STATUS_DETAIL_LIMIT
    english = run_end_text(detail, "en")
    assert english.startswith(f"{type(error).__name__}: ") and run_end_for_machines(detail) == english
    vietnamese = run_end_text(detail, "vi")
    assert vietnamese and not english_in(vietnamese), vietnamese
    assert "UPDATE" not in detail and "status=" not in detail  # a database error's statement is never kept


def test_a_long_hostile_error_still_fits_and_reads_back() -> None:
    error = RuntimeError('"\\' * 2000)
    detail = failure_detail(error)
    assert len(detail) <= STORED_CHARS
    assert run_end_text(detail, "en").startswith("RuntimeError: ") and run_end_text(detail, "vi") != detail


def test_known_reasons_and_english_only_details_of_older_runs() -> None:
    report = {lang: strings(lang, "report") for lang in ("vi", "en")}
    for lang in ("vi", "en"):
        assert run_end_text("stopped_by_user", lang) == report[lang].get("run_end_stopped_by_user")
    assert run_end_for_machines("stopped_by_user") == "stopped_by_user"
    old = "StoreError: cannot write to the audit store at sqlite:///a.db: disk I/O error"
    assert run_end_text(old, "en") == old == run_end_for_machines(old)
    assert run_end_text(old, "vi").startswith("(thông báo gốc của Python: “StoreError")
    assert not english_in(run_end_text(old, "vi"))
    assert run_end_text('{"vi": "x"}', "en") == '{"vi": "x"}'  # not both texts: shown as it is


def test_the_runs_screen_and_the_portal_say_a_failure_in_vietnamese(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    with open_store(db) as store:
        run_id = store.start_run("0.1.0", "x", "0" * 64, {})
        store.finish_run(run_id, RunStatus.failed, failure_detail(FAILURES["database"]))
    env = {"COLUMNS": "200"}
    shown = CliRunner().invoke(app, ["runs", "--db", db, "--lang", "vi"], env=env)
    assert shown.exit_code == 0, shown.output
    vietnamese = str(foreign("db_locked").text("vi"))
    assert vietnamese in " ".join(shown.output.split()) and not english_in(shown.output), shown.output
    listed = CliRunner().invoke(app, ["runs", "--db", db, "--lang", "vi", "--format", "json"], env=env)
    [row] = json.loads(listed.output)
    assert row["status_detail"] == "OperationalError: database is locked"

    template = environment().from_string('{% import "_pages.html.j2" as ui with context %}{{ ui.run_end(detail) }}')
    with open_store(db) as store:
        detail = store.get_run(run_id).status_detail
    for lang in ("vi", "en"):
        page = template.render(detail=detail, lang=lang, t=strings(lang, "report").table)
        assert page.strip() == run_end_text(str(detail), lang)
    assert not english_in(template.render(detail=detail, lang="vi", t=strings("vi", "report").table))


def test_the_run_export_gives_machines_the_english_detail(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'audit.db'}") as store:
        run_id = store.start_run("0.1.0", "x", "0" * 64, {})
        store.finish_run(run_id, RunStatus.failed, failure_detail(FAILURES["database"]))
        exported = store.export_run(run_id)
    assert exported["run"]["status_detail"] == "OperationalError: database is locked"
