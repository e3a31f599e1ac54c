"""`auditor audit`: options in, progress and a summary out; the audit service does the work."""

from __future__ import annotations

import os
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
from auditor.cli.words import Words, fallback_lang
from auditor.textsafe import terminal_text
from auditor.vocabulary import Only, Status

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from auditor.service.events import AuditEvent, HostFinished, NetworkTargetFinished, RunTally

app = typer.Typer()


@app.command()
def audit(
    inventory: InventoryOption,
    agency: Annotated[list[str] | None, typer.Option("--agency", help="Only this agency (repeatable).")] = None,
    host: Annotated[list[str] | None, typer.Option("--host", help="Only this host (repeatable).")] = None,
    check: Annotated[list[str] | None, typer.Option("--check", help="Only this check id (repeatable).")] = None,
    db: DbOption = DEFAULT_DB_URL,
    known_hosts: KnownHostsOption = None,
    content_dir: ContentDirOption = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Hosts audited at once.")] = 8,
    deadline: Annotated[float, typer.Option(min=1, help="Seconds allowed per host.")] = 300.0,
    connect_timeout: Annotated[float, typer.Option(min=1, help="Seconds allowed to connect.")] = 10.0,
    only: Annotated[Only | None, typer.Option("--only", help="Only one agent: ssh, network or web.")] = None,
    trust_ca: Annotated[
        Path | None, typer.Option("--trust-ca", exists=True, dir_okay=False, help="Extra CA file trusted for TLS.")
    ] = None,
    all_ports: Annotated[
        bool, typer.Option("--all-ports", help="Scan all 65535 TCP ports (default: top 1000).")
    ] = False,
    lang: LangOption = None,
) -> None:
    """Audit the inventory's servers over SSH and from the network; store findings with their evidence."""
    from auditor.inventory import file_sha256, load_inventory, roles_known_to
    from auditor.settings import default_known_hosts

    collector = None
    view: _ProgressView | None = None
    try:
        with errors_to_exit(lang) as words:
            view = _ProgressView(words)
            # An organisation's own checks may name roles of their own: the inventory is checked against them.
            own_content = load(content_dir) if content_dir else None
            inv = load_inventory(inventory, roles_known_to(own_content) if own_content else None)
            known = known_hosts or default_known_hosts()
            if only in (None, Only.ssh):
                from auditor.collectors.ssh.collector import SshCollector

                collector = SshCollector(known, connect_timeout_s=connect_timeout, deadline_s=deadline)
                # The first hosts' handshakes start now and overlap with loading the content and the store.
                selected = inv.hosts_in(agency or (), host or ())
                collector.prepare([h for _, h in selected[:concurrency] if h.zone is None])  # zoned: by workers
            from auditor.service.audit import AuditOptions, AuditScope, AuditService, ssh_collector

            scope = AuditScope(
                inventory=inv,
                inventory_sha256=file_sha256(inventory),
                agencies=tuple(agency or ()),
                hosts=tuple(host or ()),
                checks=tuple(check or ()),
                only=only,
            )
            options = AuditOptions(
                known_hosts=known,
                concurrency=concurrency,
                deadline_s=deadline,
                connect_timeout_s=connect_timeout,
                all_ports=all_ports,
                trust_ca=trust_ca,
            )
            prepared = collector
            service = AuditService(
                lambda: open_db(db),  # opened while the first hosts work
                own_content or load(content_dir),
                collector=(lambda _options: prepared) if prepared is not None else ssh_collector,
            )
            with view:
                service.start_audit(scope, options, on_event=view.show)
            view.print_summary()
    finally:
        if collector is not None:
            collector.close()
    tally = view.tally if view is not None else None
    if tally is None:  # pragma: no cover - start_audit always ends with RunFinished or raises
        raise typer.Exit(ExitCode.errors)
    if tally.interrupted:
        sys.stdout.flush()
        os._exit(ExitCode.interrupted)  # do not wait for hosts still talking; the store has what finished
    raise typer.Exit(_exit_code(tally))


def _exit_code(tally: RunTally) -> int:
    if tally.has_errors:
        return ExitCode.errors
    if tally.has_failures:
        return ExitCode.failures
    return ExitCode.ok


class _ProgressView:
    """Renders the service's events: a progress bar over the servers, then one table and one summary line."""

    def __init__(self, words: Words | None = None) -> None:
        self.words = words or Words(fallback_lang())
        self.finished: list[HostFinished | NetworkTargetFinished] = []
        self.run_id = ""
        self.tally: RunTally | None = None
        self.status = ""
        self.progress: Progress | None = None
        if err_console.is_terminal:  # a live bar only where someone watches; logs get the lines alone
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            )
            self.task = self.progress.add_task(self.words("audit_servers"), total=None)
        self.network_task: TaskID | None = None  # a second bar once the run says it has a network phase

    def __enter__(self) -> _ProgressView:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def show(self, event: AuditEvent) -> None:
        if event.kind == "run_started":
            self.run_id = event.run_id
            if self.progress is not None:
                self.progress.update(self.task, total=event.servers)
                if event.network_agencies:  # how many targets it finds is known only as they finish: no total
                    self.network_task = self.progress.add_task(self.words("audit_network_targets"), total=None)
            started = self.words("audit_started", run=event.run_id, servers=event.servers, checks=event.checks)
            if event.network_agencies:
                started += self.words("audit_network_view", n=event.network_agencies)
            err_console.print(terminal_text(started))
        elif event.kind == "host_finished":
            self.finished.append(event)
            if event.target_kind == "host" and self.progress is not None:
                self.progress.advance(self.task)
        elif event.kind == "network_target_finished":
            self.finished.append(event)
            if self.progress is not None and self.network_task is not None:
                described = f"{self.words('audit_network_targets')} ({event.agency_id})"
                self.progress.update(self.network_task, advance=1, description=described)
        elif event.kind == "run_finished":
            self.tally = event.tally
            self.status = event.status.value

    def print_summary(self) -> None:
        from rich.table import Table

        words = self.words
        table = Table(title=words("audit_targets_title"))
        headers = (words("col_agency"), words("col_target"), words("col_state"), *(words.status(s) for s in Status))
        for column in headers:
            table.add_column(column, overflow="fold")
        for event in sorted(self.finished, key=lambda e: (e.agency_id, _name(e))):
            ok = event.status.value == "ok"
            state = words("audit_target_ok") if ok else words("audit_target_error", reason=event.error_reason)
            counts = [str(event.counts.get(s, 0)) for s in Status]
            table.add_row(terminal_text(event.agency_id), terminal_text(_name(event)), terminal_text(state), *counts)
        console.print(table)
        tally = self.tally
        if tally is None:
            return
        parts = ", ".join(f"{words.status(status.value)} {count}" for status, count in tally.by_status.items())
        summary = words(
            "audit_summary",
            run=self.run_id,
            status=words.run_status(self.status),
            servers_ok=tally.servers_ok,
            servers_error=tally.servers_error,
            network_ok=tally.network_ok,
            network_error=tally.network_error,
            results=parts,
        )
        console.print(terminal_text(summary))


def _name(event: HostFinished | NetworkTargetFinished) -> str:
    return event.host_name if event.kind == "host_finished" else event.target
