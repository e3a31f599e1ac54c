"""`auditor schedule`: audits the portal's server processes run on a cron schedule, per agency or for all.
Every change is written to the activity log (actor ``cli:<os user>``)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditor.cli.common import DEFAULT_DB_URL, DbOption, LangOption, console, errors_to_exit, open_db
from auditor.cli.listing import Cell, Column, FormatOption, Listing, OutputFormat, emit
from auditor.textsafe import terminal_text

if TYPE_CHECKING:
    from auditor.cli.words import Words
    from auditor.store import Store

schedule_app = typer.Typer(help="Scheduled audits: add, list, pause, resume, remove.", no_args_is_help=True)
ScheduleId = Annotated[int, typer.Argument(help="The schedule's number (see `auditor schedule list`).")]


@schedule_app.callback()
def schedule() -> None:
    """Scheduled audits, run by `auditor serve` (cron expressions in the schedule's timezone)."""


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _now() -> datetime:
    return datetime.now(UTC)


def _known_agencies(store: Store, inventory: Path | None) -> set[str]:
    known = store.known_agencies()
    if inventory is not None:
        from auditor.inventory import load_inventory

        known |= {agency.id for agency in load_inventory(inventory).agencies}
    return known


@schedule_app.command("add")
def add(
    cron: Annotated[str, typer.Option("--cron", help='Five cron fields, e.g. "0 2 * * 1" (Mondays at 02:00).')],
    agency: Annotated[str | None, typer.Option("--agency", help="One agency (default: every agency).")] = None,
    timezone: Annotated[
        str, typer.Option("--timezone", help="The timezone the cron expression is read in.")
    ] = "Asia/Ho_Chi_Minh",
    only: Annotated[str | None, typer.Option("--only", help="One agent only: ssh, network or web.")] = None,
    inventory: Annotated[
        Path | None, typer.Option("--inventory", "-i", help="Inventory the agency is checked against.")
    ] = None,
    db: DbOption = DEFAULT_DB_URL,
    lang: LangOption = None,
) -> None:
    """Add a schedule; its first run is the first slot after now."""
    from auditor.scheduler.specs import add_schedule, next_due, schedule_spec

    with errors_to_exit(lang) as words:
        store = open_db(db)
        known = _known_agencies(store, inventory) if agency is not None else set()
        spec = schedule_spec(cron, timezone, agency, only, known)
        now = _now()
        row = add_schedule(store, spec, _actor(), now)
        store.log_activity(
            _actor(), "schedule_add", f"schedule:{row.id}", now, agency_id=row.agency_id, detail=spec.detail()
        )
        shown = _describe(words, row.agency_id, row.only_agent)
        added = words("schedule_added", id=row.id, what=shown, next=_when(next_due(row), row.timezone))
        console.print(added, markup=False)


@schedule_app.command("list")
def list_schedules(
    output: FormatOption = OutputFormat.table, db: DbOption = DEFAULT_DB_URL, lang: LangOption = None
) -> None:
    """List the schedules with their next run (in the schedule's timezone, shown under its cron expression). At 80
    columns the table leaves out the last slot and who made the schedule: JSON and CSV carry them."""
    from auditor.scheduler.specs import next_due

    with errors_to_exit(lang) as words:
        rows: list[dict[str, Cell]] = []
        for row in open_db(db).list_schedules():
            rows.append(
                {
                    "id": row.id,
                    "agency_id": row.agency_id,
                    "cron": row.cron,
                    "timezone": row.timezone,
                    "only": row.only_agent,
                    "state": "paused" if row.paused else "active",
                    "next_run": _when(next_due(row), row.timezone) if not row.paused else None,
                    "last_slot": _when(row.last_slot_at, row.timezone) if row.last_slot_at else None,
                    "created_by": row.created_by,
                }
            )
        styled = [
            {
                "agency_id": terminal_text(str(r["agency_id"] or words("schedule_all_agencies"))),
                "cron": terminal_text(f"{r['cron']}\n{r['timezone']}"),  # the zone the expression is read in
                "only": terminal_text(str(r["only"] or words("schedule_all_agents"))),
                "state": terminal_text(words(f"schedule_state_{r['state']}")),
                "next_run": terminal_text(str(r["next_run"] or "—")),
            }
            for r in rows
        ]
        keys = ("id", "agency_id", "cron", "timezone", "only", "state", "next_run", "last_slot", "created_by")
        table = (
            Column("id", words("col_id"), "id"),
            Column("agency_id", words("col_agency"), "id"),
            Column("cron", words("col_cron"), "id"),
            Column("only", words("col_only")),
            Column("state", words("col_state")),
            Column("next_run", words("col_next_run")),
        )
        listing = Listing(words("schedule_title"), tuple(Column(k, k) for k in keys), rows, styled, table)
        emit(listing, output)


@schedule_app.command("pause")
def pause(schedule_id: ScheduleId, db: DbOption = DEFAULT_DB_URL, lang: LangOption = None) -> None:
    """Pause a schedule (its slots pass without a run)."""
    with errors_to_exit(lang) as words:
        store = open_db(db)
        row = store.set_schedule_paused(schedule_id, True)
        _log(store, "schedule_pause", schedule_id, row.agency_id)
        console.print(words("schedule_paused", id=schedule_id))


@schedule_app.command("resume")
def resume(schedule_id: ScheduleId, db: DbOption = DEFAULT_DB_URL, lang: LangOption = None) -> None:
    """Resume a paused schedule from now on (slots missed while paused do not run)."""
    from auditor.scheduler.specs import next_due, resume_schedule

    with errors_to_exit(lang) as words:
        store = open_db(db)
        row = resume_schedule(store, schedule_id, _now())
        _log(store, "schedule_resume", schedule_id, row.agency_id)
        console.print(words("schedule_resumed", id=schedule_id, next=_when(next_due(row), row.timezone)))


@schedule_app.command("remove")
def remove(schedule_id: ScheduleId, db: DbOption = DEFAULT_DB_URL, lang: LangOption = None) -> None:
    """Remove a schedule (kept in the database for the activity log; it never runs again)."""
    with errors_to_exit(lang) as words:
        store = open_db(db)
        row = store.remove_schedule(schedule_id, _now())
        _log(store, "schedule_remove", schedule_id, row.agency_id)
        console.print(words("schedule_removed", id=schedule_id))


def _log(store: Store, action: str, schedule_id: int, agency_id: str | None) -> None:
    store.log_activity(_actor(), action, f"schedule:{schedule_id}", _now(), agency_id=agency_id)


def _describe(words: Words, agency_id: str | None, only: str | None) -> str:
    return (agency_id or words("schedule_every_agency")) + (words("schedule_only", agent=only) if only else "")


def _when(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return "—"
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")
