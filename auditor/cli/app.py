"""Command line: the only place that prints and exits (exit codes: see auditor/cli_common.py)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from auditor import __version__
from auditor.cli.audit import register as register_audit
from auditor.cli.common import (
    EXIT_ERRORS,
    EXIT_FAILURES,
    EXIT_OK,
    ContentDirOption,
    DbOption,
    InventoryOption,
    KnownHostsOption,
    as_of_moment,
    console,
    err_console,
    errors_to_exit,
    load,
)
from auditor.cli.governance import register as register_governance
from auditor.cli.governance import resolved_findings
from auditor.cli.remediate import register as register_remediate
from auditor.cli.report import register as register_report
from auditor.collectors.ssh.known_hosts import KnownHostsStore, fingerprint
from auditor.content.catalogue import Verification, coverage
from auditor.errors import AuditorError, ConfigError, ContentError
from auditor.inventory import load_inventory
from auditor.reports.exports import export_csv, export_json
from auditor.settings import DEFAULT_DB_URL, default_known_hosts
from auditor.store.db import open_store
from auditor.textsafe import terminal_safe
from auditor.vocabulary import Status

# Tracebacks never show local variables: they could hold credentials read from the environment.
app = typer.Typer(
    help="Level-3 (TCVN 11930:2017 / TCVN 14423:2026) compliance auditor.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
checklist_app = typer.Typer(help="Inspect and validate checklist content.", no_args_is_help=True)
hosts_app = typer.Typer(help="Enrol hosts' SSH keys.", no_args_is_help=True)
app.add_typer(checklist_app, name="checklist")
app.add_typer(hosts_app, name="hosts")


_STATUS_STYLE = {"pass": "green", "fail": "red", "error": "magenta", "not_applicable": "dim", "manual": "yellow"}


@app.command()
def runs(db: DbOption = DEFAULT_DB_URL, limit: Annotated[int, typer.Option(min=1)] = 20) -> None:
    """List audit runs, newest first."""
    with errors_to_exit():
        store = open_store(db)
        table = Table(title="Runs")
        for column in ("run", "started", "status", "hosts ok", "hosts error", "pass", "fail", "error", "checklist"):
            table.add_column(column)
        for run in store.list_runs(limit):
            counts = run.finding_counts
            table.add_row(
                run.id,
                run.started_at.isoformat(timespec="seconds"),
                run.status,
                str(run.hosts_ok),
                str(run.hosts_error),
                str(counts.get("pass", 0)),
                str(counts.get("fail", 0)),
                str(counts.get("error", 0)),
                run.checklist_version,
            )
        console.print(table)


@app.command()
def findings(
    run: Annotated[str, typer.Argument(help="Run id, a unique prefix of it, or 'latest'.")],
    status: Annotated[Status | None, typer.Option(help="Only findings with this status.")] = None,
    agency: Annotated[str | None, typer.Option(help="Only this agency.")] = None,
    host: Annotated[str | None, typer.Option(help="Only this host.")] = None,
    lang: Annotated[str, typer.Option(help="Language of reasons: vi or en.")] = "vi",
    as_of: Annotated[str | None, typer.Option("--as-of", help="Apply attestations/waivers as of YYYY-MM-DD.")] = None,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """List the findings of a run, with attestations and waivers applied (raw status kept beside)."""
    with errors_to_exit():
        store = open_store(db)
        rows = store.list_findings(run, status=status.value if status else None, agency_id=agency, host_name=host)
        resolved = {r.finding_id: r for r in resolved_findings(store, run, as_of_moment(as_of), agency)}
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
            described = Text(row.check_id, style="bold")
            described.append(f" ({row.severity})\n", style="dim")
            described.append(terminal_safe(reason))
            values = Text(terminal_safe(row.observed, 80) or "∅")
            values.append(f"\n→ {row.expected}" if row.expected else "", style="dim")
            if row.configured is not None:  # the clause asks "configured"; `expected` is our default
                values.append(f"\nconfigured: {'yes' if row.configured else 'no'}", style="dim")
            table.add_row(str(row.id), row.host_name, shown, described, values)
        console.print(table)


@app.command()
def evidence(
    finding: Annotated[int, typer.Argument(help="Finding id (from `auditor findings`).")],
    db: DbOption = DEFAULT_DB_URL,
    limit: Annotated[int, typer.Option(help="Characters of output shown per stream.")] = 20000,
) -> None:
    """Show the evidence behind one finding: the probe, its output and its SHA-256."""
    with errors_to_exit():
        store = open_store(db)
        row = store.get_evidence(finding)
        intact = store.verify_evidence(row.id)
        console.print(Text(f"host:        {row.host_name}"))
        console.print(Text(f"probe:       {row.probe_id}"))
        console.print(Text(f"collected:   {row.collected_at.isoformat()}"))
        console.print(
            Text(
                f"outcome:     {row.outcome}  exit code: {row.exit_code}  duration: {row.duration_s:.3f}s"
                f"  truncated: {row.truncated}"
            )
        )
        console.print(Text(f"sha256:      {row.sha256} ({'verified' if intact else 'MISMATCH'})"))
        console.print(Text("command:", style="bold"))
        console.print(Text(terminal_safe(row.command)))
        console.print(Text("stdout:", style="bold"))
        console.print(Text(terminal_safe(row.stdout.decode("utf-8", errors="replace"), limit)))
        if row.stderr:
            console.print(Text("stderr:", style="bold"))
            console.print(Text(terminal_safe(row.stderr.decode("utf-8", errors="replace"), limit)))


@app.command()
def export(
    run: Annotated[str, typer.Argument(help="Run id, a unique prefix of it, or 'latest'.")],
    format: Annotated[str, typer.Option("--format", help="json (schema in reports/schema/) or csv.")] = "json",
    agency: Annotated[str | None, typer.Option("--agency", help="Only this agency.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """Export a run (or one agency of it): JSON, the canonical dump, or CSV, one row per finding."""
    with errors_to_exit():
        store = open_store(db)
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


@checklist_app.command("validate")
def checklist_validate(content_dir: ContentDirOption = None) -> None:
    """Validate every checklist and profile file; list every problem with file, check id and field."""
    with errors_to_exit():
        content = load(content_dir)
        if content.mapping_problems:
            raise ContentError("\n".join(content.mapping_problems))
        console.print(
            f"ok: {len(content.checks)} checks, {len(content.catalogues)} catalogues, "
            f"profile {content.profile.id}, version {content.version}"
        )


@checklist_app.command("list")
def checklist_list(
    content_dir: ContentDirOption = None,
    lang: Annotated[str, typer.Option(help="Language of titles: vi or en.")] = "vi",
) -> None:
    """List the checks with their severity and requirement references."""
    with errors_to_exit():
        content = load(content_dir)
        table = Table(title=f"Checks ({content.version})")
        table.add_column("id", no_wrap=True)
        for column in ("severity", "requirements", "title"):
            table.add_column(column, overflow="fold")
        for item in content.checks.values():
            refs = "; ".join(f"{r.framework} {r.clause}" for r in content.requirements_of(item.id))
            table.add_row(item.id, item.severity.value, refs, item.title.get(lang))
        console.print(table)


@checklist_app.command("coverage")
def checklist_coverage(
    framework: Annotated[
        list[str] | None, typer.Option("--framework", help="Only this framework (repeatable).")
    ] = None,
    content_dir: ContentDirOption = None,
    lang: Annotated[str, typer.Option(help="Language of headings: vi or en.")] = "vi",
) -> None:
    """Each clause → automated / network / manual / missing; exits 1 when a clause has no evidence path."""
    with errors_to_exit():
        content = load(content_dir)
        unknown = sorted(set(framework or ()) - set(content.catalogues))
        if unknown:
            raise ConfigError(f"unknown framework(s): {', '.join(unknown)} (known: {', '.join(content.catalogues)})")
        for problem in content.mapping_problems:
            err_console.print(Text(problem, style="red"))
        missing_total = len(content.mapping_problems)
        for name, catalogue in content.catalogues.items():
            if framework and name not in framework:
                continue
            rows = coverage(catalogue, content.checks)
            title = f"{name} level {catalogue.level}" + (" (provisional)" if catalogue.provisional else "")
            table = Table(title=title)
            table.add_column("clause", no_wrap=True)
            table.add_column("heading", overflow="fold")
            table.add_column("verified by", no_wrap=True)
            table.add_column("checks", justify="right")
            table.add_column("network", justify="right")
            table.add_column("manual", justify="right")
            for row in rows:
                network = str(len(row.clause.network_checks))
                if row.pending_network:
                    network += f" ({len(row.pending_network)} pending)"
                table.add_row(
                    row.clause.id,
                    row.clause.heading.get(lang),
                    ", ".join(k.value for k in row.kinds),
                    str(len(row.clause.checks)),
                    network,
                    str(len(row.clause.manual)),
                )
            console.print(table)
            counts = {kind: sum(1 for row in rows if kind in row.kinds) for kind in Verification}
            pending = sorted({check_id for row in rows for check_id in row.pending_network})
            missing_total += counts[Verification.missing]
            console.print(
                f"{name}: {len(rows)} clauses; "
                + ", ".join(f"{kind.value} {count}" for kind, count in counts.items())
                + (f"; pending network checks: {', '.join(pending)}" if pending else "")
            )
    raise typer.Exit(EXIT_FAILURES if missing_total else EXIT_OK)


@hosts_app.command("trust")
def hosts_trust(
    inventory: InventoryOption,
    agency: Annotated[list[str] | None, typer.Option("--agency", help="Only this agency (repeatable).")] = None,
    host: Annotated[list[str] | None, typer.Option("--host", help="Only this host (repeatable).")] = None,
    known_hosts: KnownHostsOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Record without asking (after checking fingerprints).")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Replace a recorded key that changed.")] = False,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds allowed per host.")] = 10.0,
) -> None:
    """Show each host's SSH key fingerprint and record it in the tool's known-hosts file."""
    with errors_to_exit():
        inv = load_inventory(inventory)
        store = KnownHostsStore(known_hosts or default_known_hosts())
        selected = [
            h for a in inv.agencies if not agency or a.id in agency for h in a.hosts if not host or h.name in host
        ]
        if not selected:
            raise ConfigError(f"{inventory}: no hosts selected")
        failures = 0
        for item in selected:
            try:
                key = store.fetch_host_key(item.address, item.port, timeout)
            except AuditorError as exc:
                failures += 1
                err_console.print(
                    Text(f"{item.name} ({item.address}:{item.port}): {terminal_safe(str(exc))}", style="red")
                )
                continue
            key_fingerprint = fingerprint(key)
            console.print(Text(f"{item.name} ({item.address}:{item.port}) {key.get_name()} {key_fingerprint}"))
            if not yes and not typer.confirm("  record this key?", default=False):
                continue
            store.trust(item.address, item.port, key, replace=replace)
            console.print(Text("  recorded", style="green"))
    raise typer.Exit(EXIT_ERRORS if failures else EXIT_OK)


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Log library details (never secrets) to stderr.")] = False,
) -> None:
    # paramiko logs every failed handshake with a traceback; per-host errors are reported as
    # findings instead, so its chatter is only shown with --debug.
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("paramiko").setLevel(logging.DEBUG if debug else logging.CRITICAL + 1)
    if version:
        console.print(f"auditor {__version__}")
        raise typer.Exit(EXIT_OK)


register_audit(app)
register_governance(app)
register_report(app)
register_remediate(app)


def main() -> None:
    app()
