"""`auditor inventory check`: every error loading finds, plus what only a check looks at — names that do not
resolve, credentials' environment variables unset here, key files this user cannot read, hosts given twice. Its own
sentences come from auditor/locale/cli.yml (``inventory_*``), in the language asked for."""

from __future__ import annotations

import ipaddress
import os
import queue
import socket
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from auditor.foreign import os_error_said, verbatim
from auditor.inventory import (
    Host,
    Inventory,
    InventoryProblem,
    ParsedInventory,
    file_order,
    host_locations,
    key_file_unreadable,
    parse_inventory,
)
from auditor.reports.models import Lang
from auditor.said import Said, said
from auditor.yamlio import cyclic_gc_paused, shown, where

RESOLVE_TIMEOUT_S = 3.0  # for every name at once: they are resolved concurrently
RESOLVE_WORKERS = 32
_SHOWN_ADDRESSES = 4

# A name's addresses; raises OSError (socket.gaierror) when it does not resolve.
Resolver = Callable[[str], list[str]]


@dataclass(frozen=True)
class Resolution:
    name: str
    addresses: tuple[str, ...] = ()
    failure: Said | None = None  # why it did not resolve, in plain words


@dataclass(frozen=True)
class CheckReport:
    parsed: ParsedInventory
    problems: tuple[InventoryProblem, ...]  # errors, warnings and notes, in file order

    @property
    def errors(self) -> tuple[InventoryProblem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[InventoryProblem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    def where(self, problem: InventoryProblem) -> str:
        """'line 12: agencies[0] (id=x) → hosts[1] (name=y) → roles[0]'."""
        return where(problem.location, self.parsed.document.data, self.parsed.document.line_of)


def check_inventory(
    path: Path,
    *,
    resolve: bool = True,
    known_roles: Collection[str] | None = None,
    resolver: Resolver | None = None,
    timeout_s: float = RESOLVE_TIMEOUT_S,
    lang: Lang = "vi",
) -> CheckReport:
    """Check an inventory file; a file that is not YAML at all raises InventoryError. The check's own messages
    are in `lang` (those of loading come from auditor.inventory)."""
    with cyclic_gc_paused():  # thousands of hosts: see cyclic_gc_paused
        parsed = parse_inventory(path, known_roles)
        problems = list(parsed.problems)
        if parsed.inventory is not None:
            problems += _environment_problems(parsed.inventory, lang)
            problems += _unreadable_key_problems(parsed.inventory, parsed.problems, lang)
            problems += _repeated_address_problems(parsed.inventory, lang)
            problems += _zone_problems(parsed.inventory, lang)
            if resolve:
                problems += _name_problems(parsed.inventory, resolver or system_resolve, timeout_s, lang)
        ordered = sorted(problems, key=lambda p: file_order(p.location))
    return CheckReport(parsed, tuple(ordered))


def _environment_problems(inventory: Inventory, lang: Lang) -> Iterator[InventoryProblem]:
    """Unset here is a warning only: the audit may run on another machine, or as a service with its own
    environment."""
    for location, _agency, host in host_locations(inventory):
        if host.zone is not None:
            continue  # its zone's worker logs in, with its own keys: see _zone_problems
        for field, name in (("password_env", host.password_env), ("key_passphrase_env", host.key_passphrase_env)):
            if name is not None and name not in os.environ:
                message = said("inventory_env_unset", name=name).text(lang)
                yield InventoryProblem("warning", (*location, field), message)


def _unreadable_key_problems(
    inventory: Inventory, found: Iterable[InventoryProblem], lang: Lang
) -> Iterator[InventoryProblem]:
    """A key this user cannot read may belong to the user the audits run as: a warning."""
    reported = {p.location for p in found}
    unreadable: dict[Path, bool] = {}  # many hosts share a key: each file is tried once
    for location, _agency, host in host_locations(inventory):
        at = (*location, "key_file")
        if host.key_file is None or host.zone is not None or at in reported:
            continue
        if host.key_file not in unreadable:
            unreadable[host.key_file] = key_file_unreadable(host.key_file)
        if unreadable[host.key_file]:
            message = said("inventory_key_unreadable", path=shown(str(host.key_file), 200)).text(lang)
            yield InventoryProblem("warning", at, message)


def _repeated_address_problems(inventory: Inventory, lang: Lang) -> Iterator[InventoryProblem]:
    """Two hosts at the same address and port are one server audited twice, or a typing mistake."""
    first: dict[tuple[str, int], tuple[str, str]] = {}
    for location, agency, host in host_locations(inventory):
        key = (host.address.lower(), host.port)
        if key in first:
            other_agency, other_host = first[key]
            message = said(
                "inventory_same_server",
                address=shown(host.address),
                port=host.port,
                host=shown(other_host),
                agency=shown(other_agency),
            ).text(lang)
            yield InventoryProblem("warning", (*location, "address"), message)
        else:
            first[key] = (agency.id, host.name)


def _zone_problems(inventory: Inventory, lang: Lang) -> Iterator[InventoryProblem]:
    """A zoned host is logged into by its zone's worker with the worker's own keys: credentials written here for
    it are never used (nor sent), which is worth saying rather than leaving the officer to believe otherwise."""
    for location, _agency, host in host_locations(inventory):
        if host.zone is None:
            continue
        for field, value in (
            ("key_file", host.key_file),
            ("password_env", host.password_env),
            ("key_passphrase_env", host.key_passphrase_env),
        ):
            if value is not None:
                message = said("inventory_zone_unused", zone=shown(host.zone), field=field).text(lang)
                yield InventoryProblem("warning", (*location, field), message)


def _is_name(host: Host) -> bool:
    try:
        ipaddress.ip_address(host.address)
    except ValueError:
        return True
    return False


def _name_problems(
    inventory: Inventory, resolver: Resolver, timeout_s: float, lang: Lang
) -> Iterator[InventoryProblem]:
    named = [(location, host) for location, _agency, host in host_locations(inventory) if _is_name(host)]
    resolutions = resolve_names({host.address for _, host in named}, resolver, timeout_s)
    for location, host in named:
        outcome = resolutions[host.address]
        at = (*location, "address")
        if outcome.failure is not None:
            failure = outcome.failure.text(lang)
            message = said("inventory_name_unresolved", address=shown(host.address), failure=failure).text(lang)
            yield InventoryProblem("error", at, message)
        else:
            shown_addresses = ", ".join(outcome.addresses[:_SHOWN_ADDRESSES])
            hidden = len(outcome.addresses) - _SHOWN_ADDRESSES
            more = said("inventory_more_addresses", n=hidden).text(lang) if hidden > 0 else ""
            message = said(
                "inventory_name_resolves", address=shown(host.address), addresses=shown_addresses, more=more
            ).text(lang)
            yield InventoryProblem("note", at, message)


def system_resolve(name: str) -> list[str]:
    """The addresses the system's resolver gives (hosts file, DNS…), as the audit's connections will see them."""
    infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_names(names: Collection[str], resolver: Resolver, timeout_s: float) -> dict[str, Resolution]:
    """Resolve every name at once, on a few daemon threads, and give up on those without an answer after
    `timeout_s`: the system resolver cannot be cancelled, and an unanswered lookup must not hold the command."""
    results: dict[str, Resolution] = {}
    if not names:
        return results
    pending: queue.SimpleQueue[str] = queue.SimpleQueue()
    for name in names:
        pending.put(name)
    lock = threading.Lock()
    all_done = threading.Event()

    def work() -> None:
        while True:
            try:
                name = pending.get_nowait()
            except queue.Empty:
                return
            outcome = _resolve_one(name, resolver)
            with lock:
                results[name] = outcome
                if len(results) == len(names):
                    all_done.set()

    for _ in range(min(RESOLVE_WORKERS, len(names))):
        threading.Thread(target=work, name="resolve", daemon=True).start()
    all_done.wait(timeout_s)
    with lock:
        answered = dict(results)
    unanswered = said("inventory_resolve_timeout", seconds=f"{timeout_s:g}")
    return {name: answered.get(name, Resolution(name, failure=unanswered)) for name in names}


def _resolve_one(name: str, resolver: Resolver) -> Resolution:
    try:
        addresses = resolver(name)
    except socket.gaierror as exc:
        no_name = exc.errno in {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
        failure = said("inventory_no_such_name") if no_name else said("inventory_resolver", problem=os_error_said(exc))
        return Resolution(name, failure=failure)
    except OSError as exc:
        return Resolution(name, failure=said("inventory_resolver", problem=os_error_said(exc)))
    except UnicodeError as exc:  # a name IDNA cannot encode
        return Resolution(name, failure=said("inventory_resolver", problem=verbatim("python", str(exc))))
    if not addresses:
        return Resolution(name, failure=said("inventory_no_address"))
    return Resolution(name, tuple(addresses))
