"""`auditor hosts trust`: enrol each host's SSH key after the officer checked its fingerprint."""

from __future__ import annotations

from typing import Annotated, NamedTuple

import typer

from auditor.cli.common import ExitCode, InventoryOption, KnownHostsOption, console, err_console, errors_to_exit
from auditor.errors import AuditorError, ConfigError, HostKeyError
from auditor.textsafe import terminal_text

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
    """Show each host's SSH key fingerprint and record it in the tool's known-hosts file.

    Every selected host is tried: one that cannot be reached or whose key changed is reported and the others
    are enrolled. The exit status is 2 when any host was not enrolled."""
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
        not_enrolled: list[_NotEnrolled] = []
        for item in selected:
            where = f"{item.name} ({item.address}:{item.port})"
            try:
                key = store.fetch_host_key(item.address, item.port, timeout)
            except AuditorError as exc:
                err_console.print(terminal_text(f"{where}: {exc}", style="red"))
                not_enrolled.append(_NotEnrolled(item.name, where, "no key fetched"))
                continue
            console.print(terminal_text(f"{where} {key.get_name()} {fingerprint(key)}"))
            if not yes and not typer.confirm("  record this key?", default=False):
                not_enrolled.append(_NotEnrolled(item.name, where, "not confirmed"))
                continue
            try:
                changed = store.trust(item.address, item.port, key, replace=replace)
            except HostKeyError as exc:  # a different key is recorded: refused, the other hosts go on
                err_console.print(terminal_text(f"  not recorded: {exc}", style="red"))
                not_enrolled.append(_NotEnrolled(item.name, where, "key changed", key_changed=True))
                continue
            console.print(terminal_text("  recorded" if changed else "  already recorded", style="green"))
        _report_not_enrolled(not_enrolled)
    raise typer.Exit(ExitCode.errors if not_enrolled else ExitCode.ok)


class _NotEnrolled(NamedTuple):
    name: str
    where: str
    why: str
    key_changed: bool = False


def _report_not_enrolled(hosts: list[_NotEnrolled]) -> None:
    if not hosts:
        return
    err_console.print(terminal_text(f"{len(hosts)} host(s) not enrolled:", style="bold red"))
    for item in hosts:
        err_console.print(terminal_text(f"  {item.where}: {item.why}"))
    changed = [item.name for item in hosts if item.key_changed]
    if changed:
        hosts_option = " ".join(f"--host {name}" for name in changed)
        err_console.print(
            terminal_text(
                "A host presented a key other than the one recorded: it may be impersonated, or it was reinstalled. "
                "Check its fingerprint out of band (on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), "
                f"then run again with --replace {hosts_option} to record the new key."
            )
        )
