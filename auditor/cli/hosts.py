"""`auditor hosts trust`: enrol each host's SSH key after the officer checked its fingerprint."""

from __future__ import annotations

from typing import Annotated

import typer

from auditor.cli.common import ExitCode, InventoryOption, KnownHostsOption, console, err_console, errors_to_exit
from auditor.errors import AuditorError, ConfigError
from auditor.textsafe import terminal_safe

hosts_app = typer.Typer(help="Enrol hosts' SSH keys.", no_args_is_help=True)


@hosts_app.callback()
def hosts() -> None:
    """Enrol hosts' SSH keys (a group of its own: `auditor hosts trust`, more to come)."""


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
    from rich.text import Text

    from auditor.collectors.ssh.known_hosts import KnownHostsStore, fingerprint
    from auditor.inventory import load_inventory
    from auditor.settings import default_known_hosts

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
    raise typer.Exit(ExitCode.errors if failures else ExitCode.ok)
