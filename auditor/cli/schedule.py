"""`auditor schedule`: audits the portal's server processes run on a cron schedule, per agency or for all.
Every change is written to the activity log (actor ``cli:<os user>``)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditor.cli.common import DEFAULT_DB_URL, DbOption, console, errors_to_exit, open_db
from auditor.cli.listing import Cell, Column, FormatOption, Listing, OutputFormat, emit
from auditor.textsafe import terminal_text

if TYPE_CHECKING:
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
) -> None:
    """Add a schedule; its first run is the first slot after now."""
    from auditor.scheduler.specs import add_schedule, next_due, schedule_spec

    with errors_to_exit():
        store = open_db(db)
        known = _known_agencies(store, inventory) if agency is not None else set()
        spec = schedule_spec(cron, timezone, agency, only, known)
        now = _now()
        row = add_schedule(store, spec, _actor(), now)
        store.log_activity(
            _actor(), "schedule_add", f"schedule:{row.id}", now, agency_id=row.agency_id, detail=spec.detail()
        )
        shown = _describe(row.agency_id, row.only_agent)
        console.print(f"schedule {row.id} added: {shown}, next {_when(next_due(row), row.timezone)}")


@schedule_app.command("list")
def list_schedules(output: FormatOption = OutputFormat.table, db: DbOption = DEFAULT_DB_URL) -> None:
    """List the schedules with their next run (in the schedule's timezone)."""
    from auditor.scheduler.specs import next_due

    with errors_to_exit():
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
                "agency_id": terminal_text(str(r["agency_id"] or "(all)")),
                "next_run": terminal_text(str(r["next_run"] or "—")),
            }
            for r in rows
        ]
        columns = (
            Column("id", "id", "id"),
            Column("agency_id", "agency", "id"),
            Column("cron", "cron", "id"),
            Column("timezone", "timezone"),
            Column("only", "only"),
            Column("state", "state"),
            Column("next_run", "next run"),
            Column("last_slot", "last slot"),
            Column("created_by", "created by"),
        )
        emit(Listing(title="Schedules", columns=columns, rows=rows, styled=styled), output)


@schedule_app.command("pause")
def pause(schedule_id: ScheduleId, db: DbOption = DEFAULT_DB_URL) -> None:
    """Pause a schedule (its slots pass without a run)."""
    with errors_to_exit():
        store = open_db(db)
        row = store.set_schedule_paused(schedule_id, True)
        _log(store, "schedule_pause", schedule_id, row.agency_id)
        console.print(f"schedule {schedule_id} paused")


@schedule_app.command("resume")
def resume(schedule_id: ScheduleId, db: DbOption = DEFAULT_DB_URL) -> None:
    """Resume a paused schedule from now on (slots missed while paused do not run)."""
    from auditor.scheduler.specs import next_due, resume_schedule

    with errors_to_exit():
        store = open_db(db)
        row = resume_schedule(store, schedule_id, _now())
        _log(store, "schedule_resume", schedule_id, row.agency_id)
        console.print(f"schedule {schedule_id} resumed, next {_when(next_due(row), row.timezone)}")


@schedule_app.command("remove")
def remove(schedule_id: ScheduleId, db: DbOption = DEFAULT_DB_URL) -> None:
    """Remove a schedule (kept in the database for the activity log; it never runs again)."""
    with errors_to_exit():
        store = open_db(db)
        row = store.remove_schedule(schedule_id, _now())
        _log(store, "schedule_remove", schedule_id, row.agency_id)
        console.print(f"schedule {schedule_id} removed")


def _log(store: Store, action: str, schedule_id: int, agency_id: str | None) -> None:
    store.log_activity(_actor(), action, f"schedule:{schedule_id}", _now(), agency_id=agency_id)


def _describe(agency_id: str | None, only: str | None) -> str:
    return (agency_id or "every agency") + (f", {only} only" if only else "")


def _when(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return "—"
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")
