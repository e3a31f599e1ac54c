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
    console,
    err_console,
    errors_to_exit,
    load,
    open_db,
)
from auditor.errors import ConfigError
from auditor.textsafe import terminal_safe

if TYPE_CHECKING:
    from auditor.remediate.flow import RemediationReport
    from auditor.remediate.runner import PlayResult
    from auditor.remediate.selection import Selection

app = typer.Typer()

_WORDS = {
    "check": {"changed": "would change", "unchanged": "already right", "failed": "FAILED", "not_run": "not run"},
    "apply": {"changed": "changed", "unchanged": "unchanged", "failed": "FAILED", "not_run": "not run"},
}
_STYLE = {"changed": "yellow", "unchanged": "green", "failed": "red", "not_run": "magenta"}


def _print_selection(selection: Selection) -> None:
    from rich.text import Text

    for host in selection.hosts:
        manual = [r.check_id for r in host.refused if r.reason.startswith("no playbook unit")]
        if manual:
            console.print(Text(f"  {host.host_name}: no playbook unit, fix by hand: {', '.join(manual)}", style="dim"))
        for refusal in host.refused:
            if refusal.check_id not in manual:
                line = f"  {host.host_name} {refusal.check_id}: not remediated: {refusal.reason}"
                console.print(Text(line, style="yellow"), soft_wrap=True)


def print_play(play: PlayResult, selection: Selection) -> None:
    from rich.text import Text

    from auditor.remediate.runner import GUARD_SECONDS

    title = "Dry run (--check --diff): nothing was changed" if play.mode == "check" else f"Apply ({play.ident})"
    console.print(Text(title, style="bold"))
    words = _WORDS[play.mode]
    for host in selection.runnable:
        outcomes = play.of(host.host_name)
        if not outcomes:
            continue
        console.print(Text(host.host_name, style="bold"))
        if host.host_name in play.host_errors:
            console.print(Text(f"  host error: {terminal_safe(play.host_errors[host.host_name])}", style="red"))
            if play.mode == "apply":
                console.print(
                    Text(
                        f"  unless a fresh login was confirmed, the host puts back its sshd, PAM and firewall files "
                        f"within {GUARD_SECONDS} s (guard.log under /run/auditor-remediate/)",
                        style="red",
                    )
                )
        for unit in outcomes:
            line = Text(f"  {unit.unit:<42} ")
            line.append(words[unit.status], style=_STYLE[unit.status])
            if unit.message:
                line.append(f": {terminal_safe(unit.message, 300)}", style="red")
            console.print(line, soft_wrap=True)
            for change in unit.changes:
                if change.diff:
                    for diff_line in terminal_safe(change.diff, 8000).splitlines():
                        style = "green" if diff_line.startswith("+") else "red" if diff_line.startswith("-") else "dim"
                        console.print(Text(f"      {diff_line}", style=style), soft_wrap=True)
    counts = {status: sum(1 for u in play.units if u.status == status) for status in words}
    console.print(
        f"{play.mode}: " + ", ".join(f"{words[s]} {n}" for s, n in counts.items()) + f" ({play.duration_s:.1f} s)"
    )


def _print_verdicts(report: RemediationReport) -> None:
    from rich.text import Text

    if report.verify_run is None:
        return
    console.print(Text(f"Re-verification (run {report.verify_run})", style="bold"))
    for verdict in report.verdicts:
        style = {"fixed": "green", "still_failing": "red"}.get(verdict.verdict, "magenta")
        line = Text(f"  {verdict.host_name} {verdict.check_id:<42} ")
        line.append(verdict.verdict.replace("_", " "), style=style)
        if verdict.verdict != "fixed":
            line.append(f" (observed: {terminal_safe(verdict.observed, 80) or '∅'})", style="dim")
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
) -> None:
    """Fix the failed findings of a run with the playbook units; a dry run (--check --diff) unless --apply."""
    from rich.text import Text

    from auditor.inventory import load_inventory, roles_known_to
    from auditor.remediate.flow import remediate
    from auditor.remediate.selection import build_selection, parse_params
    from auditor.service.audit import AuditService
    from auditor.settings import default_known_hosts

    with errors_to_exit():
        content = load(content_dir)
        inv = load_inventory(inventory, roles_known_to(content))
        store = open_db(db)
        inventory_sha = hashlib.sha256(inventory.read_bytes()).hexdigest()
        source = store.get_run(run)
        if source.inventory_sha256 != inventory_sha:
            err_console.print(Text(f"warning: {inventory} changed since run {source.id} was audited", style="yellow"))
        selection = build_selection(
            store, source.id, inv, content, agency, host or (), check or (), parse_params(set_ or ())
        )
        fixes = sum(len(h.fixes) for h in selection.hosts)
        console.print(
            f"run {selection.source_run}, agency {agency}: {len(selection.runnable)} host(s), {fixes} fix(es)"
            + (f" (canary first: {selection.runnable[0].host_name})" if apply and len(selection.runnable) > 1 else "")
        )
        _print_selection(selection)
        if not fixes:
            raise ConfigError("nothing to remediate: no failed finding with a playbook unit in this selection")

        def confirm() -> bool:
            if yes or not sys.stdin.isatty():
                return True  # the dry run of this very selection was shown just above
            return typer.confirm("apply these changes?", default=False)

        report = remediate(
            AuditService(store, content),
            inv,
            inventory_sha,
            selection,
            agency,
            known_hosts or default_known_hosts(),
            evidence_dir,
            apply,
            lambda play: print_play(play, selection),
            confirm,
        )
        for play in report.applied:
            print_play(play, selection.only(list(play_hosts(play))))
        _print_verdicts(report)
        if report.stopped:
            err_console.print(Text(f"stopped: {report.stopped}", style="red"))
        console.print(f"remediation {report.remediation_id}; evidence: {report.data_dir}")
    raise typer.Exit(_exit_code(report))


def play_hosts(play: PlayResult) -> set[str]:
    return {u.host_name for u in play.units}
