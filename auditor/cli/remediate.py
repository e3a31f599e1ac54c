"""`auditor remediate`: fix failed findings of a run through Ansible; a dry run first, always."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditor.cli.common import (
    DEFAULT_DB_URL,
    ContentDirOption,
    DbOption,
    ExitCode,
    InventoryOption,
    KnownHostsOption,
    LangOption,
    console,
    err_console,
    errors_to_exit,
    load,
    open_db,
)
from auditor.errors import ConfigError
from auditor.foreign import ansible_error_said, verbatim
from auditor.textsafe import terminal_safe

if TYPE_CHECKING:
    from auditor.cli.words import Words
    from auditor.remediate.flow import RemediationReport
    from auditor.remediate.runner import PlayResult
    from auditor.remediate.selection import Selection

app = typer.Typer()

_UNIT_STATUSES = ("changed", "unchanged", "failed", "not_run")  # a unit's outcome: remediate_<mode>_<status>
_STYLE = {"changed": "yellow", "unchanged": "green", "failed": "red", "not_run": "magenta"}


def _print_selection(selection: Selection, words: Words) -> None:
    from rich.text import Text

    from auditor.remediate.selection import NO_PLAYBOOK_UNIT

    for host in selection.hosts:
        manual = [r.check_id for r in host.refused if r.key == NO_PLAYBOOK_UNIT]
        if manual:
            line = words("remediate_by_hand", host=host.host_name, checks=", ".join(manual))
            console.print(Text(f"  {line}", style="dim"))
        for refusal in host.refused:
            if refusal.check_id not in manual:
                reason = refusal.text(words.lang.value)
                line = words("remediate_refused", host=host.host_name, check=refusal.check_id, reason=reason)
                console.print(Text(f"  {line}", style="yellow"), soft_wrap=True)


def print_play(play: PlayResult, selection: Selection, words: Words) -> None:
    from rich.text import Text

    from auditor.remediate.runner import GUARD_SECONDS

    title = words("remediate_dry_run_title") if play.mode == "check" else words("remediate_apply_title", id=play.ident)
    console.print(Text(title, style="bold"))
    said = {status: words(f"remediate_{play.mode}_{status}") for status in _UNIT_STATUSES}
    for host in selection.runnable:
        outcomes = play.of(host.host_name)
        if not outcomes:
            continue
        console.print(Text(host.host_name, style="bold"))
        if host.host_name in play.host_errors:
            problem = ansible_error_said(play.host_errors[host.host_name]).text(words.lang.value)
            error = words("remediate_host_error", problem=problem)
            console.print(Text(f"  {error}", style="red"))
            if play.mode == "apply":
                console.print(Text(f"  {words('remediate_guard', seconds=GUARD_SECONDS)}", style="red"))
        for unit in outcomes:
            line = Text(f"  {unit.unit:<42} ")
            line.append(said[unit.status], style=_STYLE[unit.status])
            if unit.message:
                line.append(f": {verbatim('ansible', unit.message).text(words.lang.value)}", style="red")
            console.print(line, soft_wrap=True)
            for change in unit.changes:
                if change.diff:
                    for diff_line in terminal_safe(change.diff, 8000).splitlines():
                        style = "green" if diff_line.startswith("+") else "red" if diff_line.startswith("-") else "dim"
                        console.print(Text(f"      {diff_line}", style=style), soft_wrap=True)
    counts = {status: sum(1 for u in play.units if u.status == status) for status in _UNIT_STATUSES}
    shown = ", ".join(f"{said[s]} {n}" for s, n in counts.items())
    console.print(words(f"remediate_{play.mode}_summary", counts=shown, seconds=f"{play.duration_s:.1f}"), markup=False)


def _print_verdicts(report: RemediationReport, words: Words) -> None:
    from rich.text import Text

    if report.verify_run is None:
        return
    console.print(Text(words("remediate_reverify_title", run=report.verify_run), style="bold"))
    for verdict in report.verdicts:
        style = {"fixed": "green", "still_failing": "red"}.get(verdict.verdict, "magenta")
        line = Text(f"  {verdict.host_name} {verdict.check_id:<42} ")
        line.append(words(f"remediate_verdict_{verdict.verdict}"), style=style)
        if verdict.verdict != "fixed":
            observed = words("remediate_observed", observed=terminal_safe(verdict.observed, 80) or "∅")
            line.append(f" ({observed})", style="dim")
        console.print(line)


def _exit_code(report: RemediationReport) -> int:
    plays = [p for p in (report.dry_run, *report.applied) if p is not None]
    if report.stopped or any(p.host_errors or any(u.status == "failed" for u in p.units) for p in plays):
        return ExitCode.errors
    if any(v.verdict != "fixed" for v in report.verdicts):
        return ExitCode.failures
    return ExitCode.ok


@app.command("remediate")
def remediate_command(
    run: Annotated[str, typer.Argument(help="Audit run whose failed findings to fix (id, prefix or 'latest').")],
    inventory: InventoryOption,
    agency: Annotated[str, typer.Option("--agency", help="The agency whose hosts to fix.")],
    host: Annotated[list[str] | None, typer.Option("--host", help="Only this host (repeatable).")] = None,
    check: Annotated[list[str] | None, typer.Option("--check", help="Only this check id (repeatable).")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Change the hosts (after the dry run is shown).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before applying on a terminal.")] = False,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Remediation parameter NAME=VALUE (log_server, time_server).")
    ] = None,
    evidence_dir: Annotated[
        Path, typer.Option("--evidence-dir", help="Where each remediation's ansible-runner folder is kept.")
    ] = Path("remediations"),
    db: DbOption = DEFAULT_DB_URL,
    known_hosts: KnownHostsOption = None,
    content_dir: ContentDirOption = None,
    lang: LangOption = None,
) -> None:
    """Fix the failed findings of a run with the playbook units; a dry run (--check --diff) unless --apply."""
    from rich.text import Text

    from auditor.inventory import load_inventory, roles_known_to
    from auditor.remediate.flow import remediate
    from auditor.remediate.selection import build_selection, parse_params
    from auditor.service.audit import AuditService
    from auditor.settings import default_known_hosts

    with errors_to_exit(lang) as words:
        content = load(content_dir)
        inv = load_inventory(inventory, roles_known_to(content))
        store = open_db(db)
        inventory_sha = hashlib.sha256(inventory.read_bytes()).hexdigest()
        source = store.get_run(run)
        if source.inventory_sha256 != inventory_sha:
            changed = words("remediate_inventory_changed", inventory=inventory, run=source.id)
            err_console.print(Text(changed, style="yellow"))
        selection = build_selection(
            store, source.id, inv, content, agency, host or (), check or (), parse_params(set_ or ())
        )
        fixes = sum(len(h.fixes) for h in selection.hosts)
        planned = words(
            "remediate_plan", run=selection.source_run, agency=agency, hosts=len(selection.runnable), fixes=fixes
        )
        if apply and len(selection.runnable) > 1:
            planned += words("remediate_canary", host=selection.runnable[0].host_name)
        console.print(planned, markup=False)
        _print_selection(selection, words)
        if not fixes:
            raise ConfigError(words("remediate_nothing"))

        def confirm() -> bool:
            if yes or not sys.stdin.isatty():
                return True  # the dry run of this very selection was shown just above
            return typer.confirm(words("remediate_confirm"), default=False)

        report = remediate(
            AuditService(store, content),
            inv,
            inventory_sha,
            selection,
            agency,
            known_hosts or default_known_hosts(),
            evidence_dir,
            apply,
            lambda play: print_play(play, selection, words),
            confirm,
        )
        for play in report.applied:
            print_play(play, selection.only(list(play_hosts(play))), words)
        _print_verdicts(report, words)
        if report.stopped:
            stopped = report.stopped_text(words.lang.value)
            err_console.print(Text(words("remediate_stopped", reason=stopped), style="red"))
        done = words("remediate_done", id=report.remediation_id, path=report.data_dir)
        console.print(done, markup=False)
    raise typer.Exit(_exit_code(report))


def play_hosts(play: PlayResult) -> set[str]:
    return {u.host_name for u in play.units}
