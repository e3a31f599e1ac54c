"""Reading the store: `runs`, `findings`, `evidence`, `export` and `diff`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from auditor.cli.clock import profile_clock
from auditor.cli.common import (
    DEFAULT_DB_URL,
    AsOfOption,
    DbOption,
    ExitCode,
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
from auditor.run_end import run_end_for_machines
from auditor.textsafe import terminal_safe, terminal_text
from auditor.vocabulary import Status

if TYPE_CHECKING:
    from auditor.cli.words import Words
    from auditor.content.loader import Content
    from auditor.governance.resolve import Resolved
    from auditor.store import FindingRow, Store

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
    lang: LangOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """List audit runs, newest first: servers apart from network targets and agency items. The table shows times
    in the profile's time zone; JSON and CSV keep them in UTC."""
    with errors_to_exit(lang) as words:
        clock = profile_clock()
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
                    "status_detail": run_end_for_machines(run.status_detail),
                    "servers_ok": targets.servers_ok,
                    "servers_error": targets.servers_error,
                    "network_ok": targets.network_ok,
                    "network_error": targets.network_error,
                    "pass": counts.get("pass", 0),
                    "fail": counts.get("fail", 0),
                    "error": counts.get("error", 0),
                    "checklist_version": run.checklist_version,
                    "started": clock.minute(run.started_at),
                    "servers": f"{targets.servers_ok}/{targets.servers_error}",
                    "network": f"{targets.network_ok}/{targets.network_error}",
                    "findings": f"{counts.get('pass', 0)}/{counts.get('fail', 0)}/{counts.get('error', 0)}",
                }
            )
            shown = words.run_status(run.status.value)  # wraps between words in a narrow column
            status = terminal_text(shown, style=_RUN_STATUS_STYLE.get(run.status.value, ""))
            if run.status_detail:  # why it ended failed or interrupted
                status.append_text(terminal_text(f"\n{words.run_end(run.status_detail)}", 300, "dim"))
            styled.append({"status": status})
        emit(
            Listing(
                title=words("runs_title", zone=clock.offset()),
                columns=_RUN_FIELDS,
                rows=rows,
                styled=styled,
                table_columns=_run_table(words),
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


def _run_table(words: Words) -> tuple[Column, ...]:
    """The checklist version is in JSON and CSV: at 80 columns the run id comes first."""
    return (
        Column("id", words("col_run"), "id"),
        Column("started", words("col_started"), "id"),
        Column("status", words("col_status")),
        Column("servers", words("col_servers_short"), "id"),
        Column("network", words("col_network_short"), "id"),
        Column("findings", words("col_pfe_short"), "id"),
    )


@app.command()
def findings(
    run: RunArgument,
    status: Annotated[Status | None, typer.Option(help="Only findings with this status.")] = None,
    agency: Annotated[str | None, typer.Option(help="Only this agency.")] = None,
    host: Annotated[str | None, typer.Option(help="Only this host (target name).")] = None,
    check: Annotated[str | None, typer.Option(help="Only this check id.")] = None,
    lang: LangOption = None,
    as_of: AsOfOption = None,
    wide: Annotated[bool, typer.Option("--wide", help="The detailed table: observed and expected values.")] = False,
    output: FormatOption = OutputFormat.table,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """List the findings of a run, with attestations and waivers applied (raw status kept beside): one line per
    finding, or the detailed table with --wide."""
    with errors_to_exit(lang) as words:
        store = open_db(db)
        run_id = resolve_run(store, run, words)
        every = store.list_findings(run_id)
        where = words("in_run", run=run_id)
        require_known("--agency", agency, {r.agency_id for r in every}, where, words=words)
        hosts = {r.host_name for r in every if agency is None or r.agency_id == agency}
        require_known("--host", host, hosts, where, words=words)
        require_known("--check", check, {r.check_id for r in every}, where, words=words)
        rows = [
            r
            for r in every
            if (status is None or r.status == status)
            and (agency is None or r.agency_id == agency)
            and (host is None or r.host_name == host)
            and (check is None or r.check_id == check)
        ]
        resolved = store.resolved_findings(rows, as_of_moment(as_of, told=words))
        if wide and output is OutputFormat.table:
            console.print(_wide_findings(run_id, rows, resolved, words, load(None)))
            return
        emit(_finding_listing(run_id, rows, resolved, words), output)


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


def _finding_table(words: Words) -> tuple[Column, ...]:
    """The target is the heading of its rows."""
    return (
        Column("id", "id", "id"),
        Column("shown_status", words("col_status"), "id"),
        Column("check_id", words("col_check"), "id"),
        Column("reason", words("col_reason"), "line"),
    )


def _finding_listing(run_id: str, rows: list[FindingRow], resolved: dict[int, Resolved], words: Words) -> Listing:
    lang = words.lang
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
                "reason": row.reason_en if lang == "en" else row.reason_vi,
                "note": outcome.note.get(lang) if outcome is not None and outcome.note is not None else None,
                "observed": row.observed,
                "expected": row.expected,
                "configured": row.configured,
            }
        )
        style = "yellow" if shown == "waived" else _STATUS_STYLE[effective]
        note = fields[-1]["note"]  # e.g. "evidence expired on …": what changed the status comes first
        reason = " ".join(f"{f'{note} · ' if note else ''}{fields[-1]['reason']}".split())  # one line
        styled.append(
            {"shown_status": Text(words.status(shown), style=style), "reason": terminal_text(reason[:_LINE_MAX])}
        )
    return Listing(
        title=words("findings_title", run=run_id, n=len(rows)),
        columns=_FINDING_FIELDS,
        rows=fields,
        styled=styled,
        table_columns=_finding_table(words),
        group_by=("host_name",),
    )


def _wide_findings(
    run_id: str, rows: list[FindingRow], resolved: dict[int, Resolved], words: Words, content: Content
) -> object:
    """The detailed table, one per target under its name; a check id is never split (its column is as wide)."""
    from rich import box
    from rich.console import Group
    from rich.table import Table

    from auditor.evaluation.expected_words import expected_in_words

    lang = words.lang
    check_width = max((len(row.check_id) + len(words.severity(row.severity)) + 3 for row in rows), default=10)
    id_width = max((len(str(row.id)) for row in rows), default=2)
    parts: list[object] = [Text(words("findings_title", run=run_id, n=len(rows)), style="italic")]
    table: Table | None = None
    for index, row in enumerate(rows):
        if index == 0 or rows[index - 1].host_name != row.host_name:
            table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_lines=True)
            table.add_column("id", no_wrap=True, min_width=id_width)
            table.add_column(words("col_status"), overflow="fold")
            table.add_column(words("col_check_reason"), min_width=min(check_width, 40), ratio=3, overflow="fold")
            table.add_column(words("col_observed_expected"), ratio=2, overflow="fold")
            parts.extend((Text(""), terminal_text(row.host_name, style="bold"), table))
        assert table is not None  # noqa: S101 - made for the first row
        reason = row.reason_en if lang == "en" else row.reason_vi
        outcome = resolved.get(row.id)
        shown = Text(words.status(row.status), style=_STATUS_STYLE[row.status])
        if outcome is not None and outcome.waived:
            shown.append(f"\n{words('waived_by', id=outcome.waiver_id)}", style="yellow")
        elif outcome is not None and outcome.status.value != row.status:
            shown.append(f"\n→ {words.status(outcome.status.value)}", style=_STATUS_STYLE[outcome.status.value])
        if outcome is not None and outcome.note is not None:
            reason += "\n" + outcome.note.get(lang)
        described = terminal_text(row.check_id, style="bold")
        described.append(f" ({words.severity(row.severity)})\n", style="dim")
        described.append(terminal_safe(reason))
        values = terminal_text(row.observed, 80) if row.observed else Text("∅")
        expected = expected_in_words(row, content)  # words, never the notation (JSON and CSV keep that)
        values.append(f"\n→ {terminal_safe(expected.get(lang))}" if expected else "", style="dim")
        if row.configured is not None:  # the clause asks "configured"; `expected` is our default
            values.append(f"\n{words('configured_yes' if row.configured else 'configured_no')}", style="dim")
        table.add_row(str(row.id), shown, described, values)
    return Group(*parts)  # type: ignore[arg-type]


@app.command()
def evidence(
    finding: Annotated[int, typer.Argument(help="Finding id (from `auditor findings`).")],
    db: DbOption = DEFAULT_DB_URL,
    limit: Annotated[int, typer.Option(help="Characters of output shown per stream.")] = 20000,
    lang: LangOption = None,
) -> None:
    """Show the evidence behind one finding: the probe, its output and its SHA-256. What the target sent is shown
    inert: control, bidirectional and zero-width characters as visible escapes, never as terminal commands."""
    with errors_to_exit(lang) as words:
        clock = profile_clock()
        store = open_db(db)
        row = store.get_evidence(finding, verify=True)
        judged = store.get_finding(finding)
        labels = {key: words(f"ev_{key}") for key in ("host", "probe", "judged", "collected", "outcome", "sha256")}
        width = max(len(label) for label in labels.values()) + 2  # the values line up after the longest label

        def field(key: str, value: str) -> Text:
            return terminal_text(f"{labels[key] + ':':<{width}}{value}")

        console.print(field("host", row.host_name))
        console.print(field("probe", row.probe_id))
        if row.probe_id != judged.check_id:
            console.print(field("judged", words("ev_judged_on", check=judged.check_id, observed=judged.observed)))
        console.print(field("collected", f"{clock.second(row.collected_at)} ({clock.offset(row.collected_at)})"))
        console.print(
            field(
                "outcome",
                words(
                    "ev_outcome_line",
                    outcome=words.outcome(row.outcome),
                    exit_code=row.exit_code,
                    duration=f"{row.duration_s:.3f}",
                    truncated=words("word_yes" if row.truncated else "word_no"),
                ),
            )
        )
        console.print(field("sha256", f"{row.sha256} ({words('ev_verified' if row.verified else 'ev_mismatch')})"))
        console.print(Text(f"{words('ev_command')}:", style="bold"))
        console.print(terminal_text(row.command))
        console.print(Text(f"{words('ev_stdout')}:", style="bold"))
        console.print(terminal_text(row.stdout.decode("utf-8", "backslashreplace"), limit))  # bad bytes as \xNN
        if row.stderr:
            console.print(Text(f"{words('ev_stderr')}:", style="bold"))
            console.print(terminal_text(row.stderr.decode("utf-8", "backslashreplace"), limit))


@app.command()
def export(
    run: RunArgument,
    format: Annotated[str, typer.Option("--format", help="json (schema in reports/schema/), csv or oscal.")] = "json",
    agency: Annotated[str | None, typer.Option("--agency", help="Only this agency.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
    bom: Annotated[
        bool, typer.Option("--bom/--no-bom", help="CSV starts with a UTF-8 byte order mark, so Excel reads Vietnamese.")
    ] = True,
    lang: LangOption = None,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """Export a run (or one agency of it): JSON, the canonical dump, or CSV, one row per finding."""
    from auditor.reports.exports import UTF8_BOM, export_csv, export_json

    with errors_to_exit(lang) as words:
        store = open_db(db)
        run_id = resolve_run(store, run, words)
        require_targets(store, run_id, agency, words=words)
        if format == "json":
            text = export_json(store, run_id, agency)
        elif format == "csv":
            text = (UTF8_BOM if bom else "") + export_csv(store, run_id, agency, load(None))
        elif format == "oscal":
            text = _oscal_export(store, run_id, agency)
        else:
            raise ConfigError(words("bad_export_format", format=format))
        text = text.rstrip("\n")
        if output is None:
            sys.stdout.write(text + "\n")
        else:
            output.write_text(text + "\n", encoding="utf-8", newline="")
            err_console.print(terminal_text(words("wrote", path=output)))


def _oscal_export(store: Store, run_id: str, agency: str | None) -> str:
    """OSCAL assessment results, attestations and waivers judged as of now, the department named as assessor."""
    from datetime import UTC, datetime

    from auditor.oscal.assessment_results import assessment_results
    from auditor.reports.official_settings import default_settings

    department = default_settings().department.name
    now = datetime.now(UTC)
    return assessment_results(store, run_id, load(None), department=department, as_of=now, agency_id=agency).to_json()


@app.command()
def diff(
    run_a: Annotated[str, typer.Argument(help="The earlier run: id, unique prefix or 'latest'.")],
    run_b: Annotated[str, typer.Argument(help="The later run: id, unique prefix or 'latest'.")],
    agency: Annotated[str | None, typer.Option(help="Only this agency (default: every agency of either run).")] = None,
    lang: LangOption = None,
    output: FormatOption = OutputFormat.table,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """What changed from RUN_A to RUN_B, per target and check: new, fixed, regressed, still failing (and failed
    before but not re-checked). Exit 1 when RUN_B has new or regressed failures."""
    with errors_to_exit(lang) as words:
        store = open_db(db)
        earlier, later = resolve_run(store, run_a, words), resolve_run(store, run_b, words)
        agencies = {t.agency_id for ref in (earlier, later) for t in store.list_run_hosts(ref)}
        require_known("--agency", agency, agencies, words("in_runs", first=earlier, second=later), words=words)
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
        tally = ", ".join(f"{sum(r['change'] == c for r in rows)} {words.change(c).lower()}" for c in _CHANGE_ORDER)
        styled = [
            {
                "change": Text(words.change(str(r["change"]))),
                "severity": Text(words.severity(str(r["severity"]))),
                "before": Text(words.status(str(r["before"])) if r["before"] else ""),
                "after": Text(words.status(str(r["after"])) if r["after"] else ""),
            }
            for r in rows
        ]
        fields = _diff_fields(words)
        listing = Listing(
            title=f"{earlier} → {later}: {tally}",
            columns=fields,
            rows=rows,
            styled=styled,
            table_columns=[c for c in fields if c.key not in ("agency_id", "host_name")],
            group_by=("agency_id", "host_name"),
        )
        emit(listing, output)
    worse = any(r["change"] in ("new", "regressed") for r in rows)
    raise typer.Exit(ExitCode.failures if worse else ExitCode.ok)


_CHANGE_ORDER = ("new", "regressed", "still_failing", "fixed", "not_rechecked")


def _diff_fields(words: Words) -> tuple[Column, ...]:
    return (
        Column("change", words("col_change")),
        Column("agency_id", words("col_agency"), "id"),
        Column("host_name", words("col_target"), "id"),
        Column("check_id", words("col_check"), "id"),
        Column("severity", words("col_severity")),
        Column("before", words("col_before")),
        Column("after", words("col_after")),
    )
