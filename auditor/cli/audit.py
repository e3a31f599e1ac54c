"""`auditor audit`: plan, observe over SSH and from the network, store each target as it finishes."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from auditor import __version__
from auditor.cli.common import (
    EXIT_ERRORS,
    EXIT_FAILURES,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ContentDirOption,
    DbOption,
    InventoryOption,
    KnownHostsOption,
    console,
    err_console,
    errors_to_exit,
    load,
)
from auditor.collectors.network.nmap import ScanOptions
from auditor.collectors.ssh.collector import SshCollector
from auditor.errors import ConfigError
from auditor.evaluation.findings import HostResult, HostStatus
from auditor.inventory import load_inventory
from auditor.service.hosts import RunTally, run_audit
from auditor.service.network import NetworkOptions, Only, agents_for, inside_view, merge_tally, narrow, run_network
from auditor.service.plan import AuditPlan, plan_audit
from auditor.settings import DEFAULT_DB_URL, default_known_hosts
from auditor.store.db import open_store
from auditor.textsafe import terminal_safe
from auditor.vocabulary import Status


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
) -> None:
    """Audit the inventory's servers over SSH and from the network; store findings with their evidence."""
    with errors_to_exit():
        content = load(content_dir)
        inv = load_inventory(inventory)
        selected = content.select(check)
        audit_plan = plan_audit(inv, selected, content.profile, content.requirements, agency or (), host or ())
        if only in (Only.network, Only.web):
            audit_plan = AuditPlan([], [])
        plans = audit_plan.hosts
        if not plans and only in (None, Only.ssh):
            raise ConfigError(f"{inventory}: no hosts selected")
        store = open_store(db)
        options = {
            "agencies": agency or [],
            "hosts": host or [],
            "checks": check or [],
            "concurrency": concurrency,
            "deadline_s": deadline,
            "profile": content.profile.id,
            "only": only.value if only else None,
            # What the officer declared in scope, for the report's cover (no credentials here).
            "scope": {
                item.id: {
                    "hosts": [f"{h.name} ({h.address}:{h.port})" for h in item.hosts if not host or h.name in host],
                    "websites": [str(url) for url in item.websites],
                    "networks": [str(net) for net in item.networks],
                }
                for item in ([inv.agency(a) for a in agency] if agency else inv.agencies)
            },
        }
        run_id = store.start_run(__version__, content.version, _sha256(inventory), options)
        collector = SshCollector(
            known_hosts or default_known_hosts(), connect_timeout_s=connect_timeout, deadline_s=deadline
        )
        console.print(f"run [bold]{run_id}[/]: {len(plans)} host(s), {len(selected)} check(s)")
        results: list[HostResult] = []
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("auditing", total=len(plans))

            def done(result: HostResult) -> None:
                results.append(result)
                progress.advance(task)

            try:
                tally = run_audit(
                    run_id, plans, collector, store, concurrency, on_host_done=done, agency_plans=audit_plan.agencies
                )
                if only != Only.ssh and not tally.interrupted:
                    agencies = narrow([inv.agency(a) for a in agency] if agency else inv.agencies, host or ())
                    net_options = NetworkOptions(
                        scan=ScanOptions(ports="all" if all_ports else "top"),
                        agents=agents_for(only),
                        extra_ca=trust_ca,
                    )
                    net = run_network(
                        run_id,
                        agencies,
                        selected,
                        content.profile,
                        content.requirements,
                        store,
                        net_options,
                        inside_view(results),
                        on_target_done=results.append,
                    )
                    merge_tally(tally, net.tally)
            except BaseException:
                store.finish_run(run_id, "failed")  # finished hosts stay stored; the run says it broke
                raise
        store.finish_run(run_id, "interrupted" if tally.interrupted else "completed")
        _print_host_table(results)
        _print_tally(run_id, tally)
    if tally.interrupted:
        sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)  # do not wait for hosts still talking; the store has what finished
    raise typer.Exit(_exit_code(tally))


def _exit_code(tally: RunTally) -> int:
    if tally.hosts_error or tally.by_status[Status.error]:
        return EXIT_ERRORS
    if tally.by_status[Status.failed]:
        return EXIT_FAILURES
    return EXIT_OK


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _print_host_table(results: list[HostResult]) -> None:
    table = Table(title="Hosts")
    for column in ("agency", "host", "status", *(s.value for s in Status)):
        table.add_column(column)
    for result in sorted(results, key=lambda r: (r.agency_id, r.host_name)):
        counts = {s: sum(1 for f in result.findings if f.status is s) for s in Status}
        state = "ok" if result.status is HostStatus.ok else f"error: {result.error_reason}"
        table.add_row(result.agency_id, result.host_name, terminal_safe(state), *(str(counts[s]) for s in Status))
    console.print(table)


def _print_tally(run_id: str, tally: RunTally) -> None:
    parts = [f"{status.value}={count}" for status, count in tally.by_status.items()]
    state = "interrupted" if tally.interrupted else "completed"
    console.print(f"run {run_id} {state}: hosts ok={tally.hosts_ok} error={tally.hosts_error}; " + " ".join(parts))


def register(app: typer.Typer) -> None:
    app.command()(audit)
