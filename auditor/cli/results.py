"""Reading the store: `runs`, `findings`, `evidence`, `export` and `diff`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from auditor.cli.common import (
    DEFAULT_DB_URL,
    AsOfOption,
    DbOption,
    ExitCode,
    Lang,
    LangOption,
    RunArgument,
    as_of_moment,
    console,
    err_console,
    errors_to_exit,
    load,
    open_db,
)
from auditor.cli.known import require_known, require_targets, resolve_run
from auditor.cli.listing import Cell, Column, FormatOption, Listing, OutputFormat, emit
from auditor.errors import ConfigError
from auditor.textsafe import terminal_safe, terminal_text
from auditor.vocabulary import Status

if TYPE_CHECKING:
    from auditor.governance.resolve import Resolved
    from auditor.store import FindingRow

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
def runs(
    db: DbOption = DEFAULT_DB_URL,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    output: FormatOption = OutputFormat.table,
) -> None:
    """List audit runs, newest first: servers apart from network targets and agency items."""
    from auditor.reports.locale import strings

    reasons = strings("en", "report").table
    with errors_to_exit():
        rows: list[dict[str, Cell]] = []
        styled: list[dict[str, Text]] = []
        for run in open_db(db).list_runs(limit):
            counts, targets = run.finding_counts, run.targets
            rows.append(
                {
                    "id": run.id,
                    "started_at": run.started_at.isoformat(timespec="seconds"),
                    "finished_at": run.finished_at.isoformat(timespec="seconds") if run.finished_at else None,
                    "status": run.status.value,
                    "status_detail": run.status_detail,
                    "servers_ok": targets.servers_ok,
                    "servers_error": targets.servers_error,
                    "network_ok": targets.network_ok,
                    "network_error": targets.network_error,
                    "pass": counts.get("pass", 0),
                    "fail": counts.get("fail", 0),
                    "error": counts.get("error", 0),
                    "checklist_version": run.checklist_version,
                    "started": run.started_at.strftime("%Y-%m-%d %H:%M"),
                    "servers": f"{targets.servers_ok}/{targets.servers_error}",
                    "network": f"{targets.network_ok}/{targets.network_error}",
                    "findings": f"{counts.get('pass', 0)}/{counts.get('fail', 0)}/{counts.get('error', 0)}",
                }
            )
            shown = run.status.value.replace("_", " ")  # wraps between words in a narrow column
            status = terminal_text(shown, style=_RUN_STATUS_STYLE.get(run.status.value, ""))
            if run.status_detail:  # why it ended failed or interrupted
                detail = run.status_detail
                status.append_text(terminal_text(f"\n{reasons.get(f'run_end_{detail}', detail)}", 300, "dim"))
            styled.append({"status": status})
        emit(
            Listing(
                title="Runs (started: UTC; srv, net: servers, network targets ok/error; p/f/e: pass/fail/error)",
                columns=_RUN_FIELDS,
                rows=rows,
                styled=styled,
                table_columns=_RUN_TABLE,
            ),
            output,
        )


_RUN_FIELDS = tuple(
    Column(key, key)
    for key in (
        "id",
        "started_at",
        "finished_at",
        "status",
        "status_detail",
        "servers_ok",
        "servers_error",
        "network_ok",
        "network_error",
        "pass",
        "fail",
        "error",
        "checklist_version",
    )
)
_RUN_TABLE = (  # the checklist version is in JSON and CSV: at 80 columns the run id comes first
    Column("id", "run", "id"),
    Column("started", "started", "id"),
    Column("status", "status"),
    Column("servers", "srv", "id"),
    Column("network", "net", "id"),
    Column("findings", "p/f/e", "id"),
)


@app.command()
def findings(
    run: RunArgument,
    status: Annotated[Status | None, typer.Option(help="Only findings with this status.")] = None,
    agency: Annotated[str | None, typer.Option(help="Only this agency.")] = None,
    host: Annotated[str | None, typer.Option(help="Only this host (target name).")] = None,
    check: Annotated[str | None, typer.Option(help="Only this check id.")] = None,
    lang: LangOption = Lang.vi,
    as_of: AsOfOption = None,
    wide: Annotated[bool, typer.Option("--wide", help="The detailed table: observed and expected values.")] = False,
    output: FormatOption = OutputFormat.table,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """List the findings of a run, with attestations and waivers applied (raw status kept beside): one line per
    finding, or the detailed table with --wide."""
    with errors_to_exit():
        store = open_db(db)
        run_id = resolve_run(store, run)
        every = store.list_findings(run_id)
        require_known("--agency", agency, {r.agency_id for r in every}, f" in run {run_id}")
        hosts = {r.host_name for r in every if agency is None or r.agency_id == agency}
        require_known("--host", host, hosts, f" in run {run_id}")
        require_known("--check", check, {r.check_id for r in every}, f" in run {run_id}")
        rows = [
            r
            for r in every
            if (status is None or r.status == status)
            and (agency is None or r.agency_id == agency)
            and (host is None or r.host_name == host)
            and (check is None or r.check_id == check)
        ]
        resolved = store.resolved_findings(rows, as_of_moment(as_of))
        if wide and output is OutputFormat.table:
            console.print(_wide_findings(run_id, rows, resolved, lang))
            return
        emit(_finding_listing(run_id, rows, resolved, lang), output)


_FINDING_FIELDS = tuple(
    Column(key, key)
    for key in (
        "id",
        "agency_id",
        "host_name",
        "check_id",
        "severity",
        "status",
        "resolved_status",
        "waiver_id",
        "reason",
        "note",
        "observed",
        "expected",
        "configured",
    )
)
_LINE_MAX = 1000  # characters of a reason kept for its one line (the table cuts it to the width left)
_FINDING_TABLE = (  # the target is the heading of its rows
    Column("id", "id", "id"),
    Column("shown_status", "status", "id"),
    Column("check_id", "check", "id"),
    Column("reason", "reason", "line"),
)


def _finding_listing(run_id: str, rows: list[FindingRow], resolved: dict[int, Resolved], lang: Lang) -> Listing:
    fields: list[dict[str, Cell]] = []
    styled: list[dict[str, Text]] = []
    for row in rows:
        outcome = resolved.get(row.id)
        effective = outcome.status.value if outcome is not None else row.status.value
        shown = "waived" if outcome is not None and outcome.waived else effective
        fields.append(
            {
                "id": row.id,
                "agency_id": row.agency_id,
                "host_name": row.host_name,
                "check_id": row.check_id,
                "severity": row.severity.value,
                "status": row.status.value,
                "resolved_status": effective,
                "waiver_id": outcome.waiver_id if outcome is not None else None,
                "reason": row.reason_en if lang is Lang.en else row.reason_vi,
                "note": outcome.note.get(lang) if outcome is not None and outcome.note is not None else None,
                "observed": row.observed,
                "expected": row.expected,
                "configured": row.configured,
            }
        )
        style = "yellow" if shown == "waived" else _STATUS_STYLE[effective]
        note = fields[-1]["note"]  # e.g. "evidence expired on …": what changed the status comes first
        reason = " ".join(f"{f'{note} · ' if note else ''}{fields[-1]['reason']}".split())  # one line
        styled.append({"shown_status": Text(shown, style=style), "reason": terminal_text(reason[:_LINE_MAX])})
    return Listing(
        title=f"Findings of {run_id}: {len(rows)}",
        columns=_FINDING_FIELDS,
        rows=fields,
        styled=styled,
        table_columns=_FINDING_TABLE,
        group_by=("host_name",),
    )


def _wide_findings(run_id: str, rows: list[FindingRow], resolved: dict[int, Resolved], lang: Lang) -> object:
    """The detailed table, one per target under its name; a check id is never split (its column is as wide)."""
    from rich import box
    from rich.console import Group
    from rich.table import Table

    check_width = max((len(row.check_id) + len(row.severity) + 3 for row in rows), default=10)
    id_width = max((len(str(row.id)) for row in rows), default=2)
    parts: list[object] = [Text(f"Findings of {run_id}: {len(rows)}", style="italic")]
    table: Table | None = None
    for index, row in enumerate(rows):
        if index == 0 or rows[index - 1].host_name != row.host_name:
            table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_lines=True)
            table.add_column("id", no_wrap=True, min_width=id_width)
            table.add_column("status", no_wrap=True)
            table.add_column("check · reason", min_width=min(check_width, 40), ratio=3, overflow="fold")
            table.add_column("observed → expected", ratio=2, overflow="fold")
            parts.extend((Text(""), terminal_text(row.host_name, style="bold"), table))
        assert table is not None  # noqa: S101 - made for the first row
        reason = row.reason_en if lang is Lang.en else row.reason_vi
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
        table.add_row(str(row.id), shown, described, values)
    return Group(*parts)  # type: ignore[arg-type]


@app.command()
def evidence(
    finding: Annotated[int, typer.Argument(help="Finding id (from `auditor findings`).")],
    db: DbOption = DEFAULT_DB_URL,
    limit: Annotated[int, typer.Option(help="Characters of output shown per stream.")] = 20000,
) -> None:
    """Show the evidence behind one finding: the probe, its output and its SHA-256. What the target sent is shown
    inert: control, bidirectional and zero-width characters as visible escapes, never as terminal commands."""
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
    bom: Annotated[
        bool, typer.Option("--bom/--no-bom", help="CSV starts with a UTF-8 byte order mark, so Excel reads Vietnamese.")
    ] = True,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """Export a run (or one agency of it): JSON, the canonical dump, or CSV, one row per finding."""
    from auditor.reports.exports import UTF8_BOM, export_csv, export_json

    with errors_to_exit():
        store = open_db(db)
        run_id = resolve_run(store, run)
        require_targets(store, run_id, agency)
        if format == "json":
            text = export_json(store, run_id, agency)
        elif format == "csv":
            text = (UTF8_BOM if bom else "") + export_csv(store, run_id, agency, load(None))
        else:
            raise ConfigError(f"--format {format}: supported formats: json, csv")
        text = text.rstrip("\n")
        if output is None:
            sys.stdout.write(text + "\n")
        else:
            output.write_text(text + "\n", encoding="utf-8", newline="")
            err_console.print(f"wrote {output}")


@app.command()
def diff(
    run_a: Annotated[str, typer.Argument(help="The earlier run: id, unique prefix or 'latest'.")],
    run_b: Annotated[str, typer.Argument(help="The later run: id, unique prefix or 'latest'.")],
    agency: Annotated[str | None, typer.Option(help="Only this agency (default: every agency of either run).")] = None,
    output: FormatOption = OutputFormat.table,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """What changed from RUN_A to RUN_B, per target and check: new, fixed, regressed, still failing (and failed
    before but not re-checked). Exit 1 when RUN_B has new or regressed failures."""
    with errors_to_exit():
        store = open_db(db)
        earlier, later = resolve_run(store, run_a), resolve_run(store, run_b)
        agencies = {t.agency_id for ref in (earlier, later) for t in store.list_run_hosts(ref)}
        require_known("--agency", agency, agencies, f" in runs {earlier} and {later}")
        rows: list[dict[str, Cell]] = []
        for agency_id in sorted(agencies) if agency is None else [agency]:
            for entry in store.diff_runs(later, earlier, agency_id).entries:
                rows.append(
                    {
                        "agency_id": agency_id,
                        "host_name": entry.host_name,
                        "check_id": entry.check_id,
                        "severity": entry.severity.value,
                        "change": entry.change,
                        "before": entry.before.value if entry.before else None,
                        "after": entry.after.value if entry.after else None,
                    }
                )
        rows.sort(key=lambda r: (str(r["agency_id"]), str(r["host_name"]), _CHANGE_ORDER.index(str(r["change"]))))
        tally = ", ".join(f"{sum(r['change'] == c for r in rows)} {c.replace('_', ' ')}" for c in _CHANGE_ORDER)
        listing = Listing(
            title=f"{earlier} → {later}: {tally}",
            columns=_DIFF_FIELDS,
            rows=rows,
            table_columns=[c for c in _DIFF_FIELDS if c.key not in ("agency_id", "host_name")],
            group_by=("agency_id", "host_name"),
        )
        emit(listing, output)
    worse = any(r["change"] in ("new", "regressed") for r in rows)
    raise typer.Exit(ExitCode.failures if worse else ExitCode.ok)


_CHANGE_ORDER = ("new", "regressed", "still_failing", "fixed", "not_rechecked")
_DIFF_FIELDS = (
    Column("change", "change", "id"),
    Column("agency_id", "agency", "id"),
    Column("host_name", "target", "id"),
    Column("check_id", "check", "id"),
    Column("severity", "severity"),
    Column("before", "before"),
    Column("after", "after"),
)
