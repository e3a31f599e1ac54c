"""`auditor hosts trust`: enrol each host's SSH key after the officer checked its fingerprint."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NamedTuple

import typer

from auditor.cli.common import (
    ExitCode,
    InventoryOption,
    KnownHostsOption,
    LangOption,
    console,
    err_console,
    errors_to_exit,
)
from auditor.errors import AuditorError, ConfigError, HostKeyError
from auditor.textsafe import terminal_text

if TYPE_CHECKING:
    from auditor.cli.words import Words

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
    lang: LangOption = None,
) -> None:
    """Show each host's SSH key fingerprint and record it in the tool's known-hosts file.

    Every selected host is tried: one that cannot be reached or whose key changed is reported and the others
    are enrolled. The exit status is 2 when any host was not enrolled."""
    from auditor.collectors.ssh.known_hosts import KnownHostsStore, fingerprint
    from auditor.inventory import load_inventory
    from auditor.settings import default_known_hosts

    with errors_to_exit(lang) as words:
        inv = load_inventory(inventory)
        store = KnownHostsStore(known_hosts or default_known_hosts())
        selected = [
            h for a in inv.agencies if not agency or a.id in agency for h in a.hosts if not host or h.name in host
        ]
        if not selected:
            raise ConfigError(words("trust_none_selected", inventory=inventory))
        not_enrolled: list[_NotEnrolled] = []
        for item in selected:
            where = f"{item.name} ({item.address}:{item.port})"
            try:
                key = store.fetch_host_key(item.address, item.port, timeout)
            except AuditorError as exc:
                err_console.print(terminal_text(f"{where}: {exc.text(words.lang.value)}", style="red"))
                not_enrolled.append(_NotEnrolled(item.name, where, words("trust_no_key")))
                continue
            console.print(terminal_text(f"{where} {key.get_name()} {fingerprint(key)}"))
            if not yes and not typer.confirm(words("trust_confirm"), default=False):
                not_enrolled.append(_NotEnrolled(item.name, where, words("trust_not_confirmed")))
                continue
            try:
                changed = store.trust(item.address, item.port, key, replace=replace)
            except HostKeyError as exc:  # a different key is recorded: refused, the other hosts go on
                problem = exc.text(words.lang.value)
                err_console.print(terminal_text(words("trust_not_recorded", problem=problem), style="red"))
                not_enrolled.append(_NotEnrolled(item.name, where, words("trust_key_changed"), key_changed=True))
                continue
            console.print(terminal_text(words("trust_recorded" if changed else "trust_already"), style="green"))
        _report_not_enrolled(not_enrolled, words)
    raise typer.Exit(ExitCode.errors if not_enrolled else ExitCode.ok)


class _NotEnrolled(NamedTuple):
    name: str
    where: str
    why: str
    key_changed: bool = False


def _report_not_enrolled(hosts: list[_NotEnrolled], words: Words) -> None:
    if not hosts:
        return
    err_console.print(terminal_text(words("trust_not_enrolled", n=len(hosts)), style="bold red"))
    for item in hosts:
        err_console.print(terminal_text(f"  {item.where}: {item.why}"))
    changed = [item.name for item in hosts if item.key_changed]
    if changed:
        hosts_option = " ".join(f"--host {name}" for name in changed)
        err_console.print(terminal_text(words("trust_changed_advice", hosts=hosts_option)))
