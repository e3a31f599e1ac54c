"""Reading the store: `runs`, `findings`, `evidence` and `export`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from auditor.cli.common import (
    DEFAULT_DB_URL,
    AsOfOption,
    DbOption,
    RunArgument,
    as_of_moment,
    console,
    err_console,
    errors_to_exit,
    load,
    open_db,
)
from auditor.errors import ConfigError
from auditor.textsafe import terminal_safe, terminal_text
from auditor.vocabulary import Status

app = typer.Typer()

_STATUS_STYLE = {"pass": "green", "fail": "red", "error": "magenta", "not_applicable": "dim", "manual": "yellow"}


_RUN_STATUS_STYLE = {
    "running": "yellow",
    "completed": "green",
    "completed_with_errors": "magenta",
    "interrupted": "magenta",
    "failed": "red",
}


@app.command()
def runs(db: DbOption = DEFAULT_DB_URL, limit: Annotated[int, typer.Option(min=1)] = 20) -> None:
    """List audit runs, newest first: servers apart from network targets and agency items."""
    from rich.table import Table

    from auditor.reports.locale import strings

    reasons = strings("en", "report").table
    with errors_to_exit():
        table = Table(title="Runs")
        columns = ("run", "started", "status", "servers ok", "servers error", "network", "pass", "fail", "error")
        for column in (*columns, "checklist"):
            table.add_column(column, no_wrap=column == "run", overflow="fold")
        for run in open_db(db).list_runs(limit):
            counts, targets = run.finding_counts, run.targets
            status = terminal_text(run.status.value, style=_RUN_STATUS_STYLE.get(run.status.value, ""))
            if run.status_detail:  # why it ended failed or interrupted
                detail = run.status_detail
                status.append_text(terminal_text(f"\n{reasons.get(f'run_end_{detail}', detail)}", 300, "dim"))
            table.add_row(
                run.id,
                run.started_at.isoformat(timespec="seconds"),
                status,
                str(targets.servers_ok),
                str(targets.servers_error),
                f"{targets.network_ok + targets.network_error}"
                + (f" ({targets.network_error} error)" if targets.network_error else ""),
                str(counts.get("pass", 0)),
                str(counts.get("fail", 0)),
                str(counts.get("error", 0)),
                terminal_text(run.checklist_version),
            )
        console.print(table)


@app.command()
def findings(
    run: RunArgument,
    status: Annotated[Status | None, typer.Option(help="Only findings with this status.")] = None,
    agency: Annotated[str | None, typer.Option(help="Only this agency.")] = None,
    host: Annotated[str | None, typer.Option(help="Only this host.")] = None,
    lang: Annotated[str, typer.Option(help="Language of reasons: vi or en.")] = "vi",
    as_of: AsOfOption = None,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """List the findings of a run, with attestations and waivers applied (raw status kept beside)."""
    from rich.table import Table
    from rich.text import Text

    with errors_to_exit():
        store = open_db(db)
        rows = store.list_findings(run, status=status.value if status else None, agency_id=agency, host_name=host)
        resolved = store.resolved_findings(rows, as_of_moment(as_of))
        table = Table(title=f"Findings of {rows[0].run_id if rows else run}", show_lines=True)
        table.add_column("id", no_wrap=True)
        table.add_column("host", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("check · reason", ratio=3, overflow="fold")
        table.add_column("observed → expected", ratio=2, overflow="fold")
        for row in rows:
            reason = row.reason_en if lang == "en" else row.reason_vi
            outcome = resolved.get(row.id)
            shown = Text(row.status, style=_STATUS_STYLE[row.status])
            if outcome is not None and outcome.waived:
                shown.append(f"\nwaived #{outcome.waiver_id}", style="yellow")
            elif outcome is not None and outcome.status.value != row.status:
                shown.append(f"\n→ {outcome.status.value}", style=_STATUS_STYLE[outcome.status.value])
            if outcome is not None and outcome.note is not None:
                reason += "\n" + outcome.note.get(lang)
            described = terminal_text(row.check_id, style="bold")
            described.append(f" ({row.severity})\n", style="dim")
            described.append(terminal_safe(reason))
            values = terminal_text(row.observed, 80) if row.observed else Text("∅")
            values.append(f"\n→ {terminal_safe(row.expected)}" if row.expected else "", style="dim")
            if row.configured is not None:  # the clause asks "configured"; `expected` is our default
                values.append(f"\nconfigured: {'yes' if row.configured else 'no'}", style="dim")
            table.add_row(str(row.id), terminal_text(row.host_name), shown, described, values)
        console.print(table)


@app.command()
def evidence(
    finding: Annotated[int, typer.Argument(help="Finding id (from `auditor findings`).")],
    db: DbOption = DEFAULT_DB_URL,
    limit: Annotated[int, typer.Option(help="Characters of output shown per stream.")] = 20000,
) -> None:
    """Show the evidence behind one finding: the probe, its output and its SHA-256. What the target sent is shown
    inert: control, bidirectional and zero-width characters as visible escapes, never as terminal commands."""
    from rich.text import Text

    with errors_to_exit():
        store = open_db(db)
        row = store.get_evidence(finding, verify=True)
        judged = store.get_finding(finding)
        console.print(terminal_text(f"host:        {row.host_name}"))
        console.print(terminal_text(f"probe:       {row.probe_id}"))
        if row.probe_id != judged.check_id:
            console.print(
                terminal_text(f"judged:      {judged.check_id} on a selection of this record: «{judged.observed}»")
            )
        console.print(Text(f"collected:   {row.collected_at.isoformat()}"))
        console.print(
            Text(
                f"outcome:     {row.outcome}  exit code: {row.exit_code}  duration: {row.duration_s:.3f}s"
                f"  truncated: {row.truncated}"
            )
        )
        console.print(Text(f"sha256:      {row.sha256} ({'verified' if row.verified else 'MISMATCH'})"))
        console.print(Text("command:", style="bold"))
        console.print(terminal_text(row.command))
        console.print(Text("stdout:", style="bold"))
        console.print(terminal_text(row.stdout.decode("utf-8", "backslashreplace"), limit))  # bad bytes as \xNN
        if row.stderr:
            console.print(Text("stderr:", style="bold"))
            console.print(terminal_text(row.stderr.decode("utf-8", "backslashreplace"), limit))


@app.command()
def export(
    run: RunArgument,
    format: Annotated[str, typer.Option("--format", help="json (schema in reports/schema/) or csv.")] = "json",
    agency: Annotated[str | None, typer.Option("--agency", help="Only this agency.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """Export a run (or one agency of it): JSON, the canonical dump, or CSV, one row per finding."""
    from auditor.reports.exports import export_csv, export_json

    with errors_to_exit():
        store = open_db(db)
        if format == "json":
            text = export_json(store, run, agency)
        elif format == "csv":
            text = export_csv(store, run, agency, load(None))
        else:
            raise ConfigError(f"--format {format}: supported formats: json, csv")
        text = text.rstrip("\n")
        if output is None:
            sys.stdout.write(text + "\n")
        else:
            output.write_text(text + "\n", encoding="utf-8")
            err_console.print(f"wrote {output}")
