"""The inventory: agencies, their hosts, networks and public websites. Secrets only by reference."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import os
import re
import stat
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AnyHttpUrl,
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from auditor.errors import InventoryError
from auditor.said import Said, said
from auditor.schema_said import errors_said
from auditor.vocabulary import LocalizedText, Slug, StrictModel
from auditor.yamlio import (
    Location,
    ParsedFile,
    cyclic_gc_paused,
    format_problems,
    read_yaml_file,
    shown,
    validation_errors,
)

if TYPE_CHECKING:
    from auditor.content.loader import Content
    from auditor.reports.models import Lang

_DUPLICATE_AGENCIES = "inventory_duplicate_agencies"  # pydantic error types of the whole inventory
_SHARED_HOSTS = "inventory_shared_hosts"
_DUPLICATE_KEYS = {f"err_schema_{kind}" for kind in (_DUPLICATE_AGENCIES, _SHARED_HOSTS)}
EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")]
InputValue = int | float | str | bool
_DNS_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _network(value: object) -> object:
    """A network in CIDR notation, with one clear message instead of one per IP version."""
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("inventory_network", "must be a network in CIDR notation, e.g. 10.20.0.0/24")
    try:
        return ipaddress.ip_network(value)
    except ValueError as exc:
        raise PydanticCustomError(
            "inventory_network_detail",
            "must be a network in CIDR notation, e.g. 10.20.0.0/24 ({detail})",
            {"detail": str(exc)},
        ) from None


Network = Annotated[ipaddress.IPv4Network | ipaddress.IPv6Network, BeforeValidator(_network)]


def _is_dns_name(value: str) -> bool:
    labels = value.split(".")
    return (
        len(value) <= 253
        and all(_DNS_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()  # all-numeric: a mistyped IPv4 address such as 10.0.0.256, not a name
    )


class Contact(StrictModel):
    """Who answers for the agency's fixes. A run records only ``name`` and ``title`` (reports name the owner
    without the inventory); ``email`` and ``phone`` stay in the inventory, never in the store or its exports."""

    name: str | None = None
    title: str | None = None  # the owner's role, e.g. "Trưởng phòng Kỹ thuật"
    email: str | None = None
    phone: str | None = None


class Host(StrictModel):
    name: Slug
    address: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    user: str = Field(default="root", min_length=1)
    key_file: Path | None = None  # private key path; omit and set use_agent to rely on ssh-agent
    use_agent: bool = False
    password_env: EnvVarName | None = None  # name of an environment variable, never the password
    key_passphrase_env: EnvVarName | None = None  # names the variable holding key_file's passphrase, if encrypted
    sudo: bool = False  # run the probe bundle through `sudo -n sh`
    roles: tuple[Slug, ...] = ()
    os_family: str | None = None  # optional hint: debian | rhel
    probe_jobs: int | None = Field(default=None, ge=1, le=16)  # probes run at once on the host (default 4)
    # The network zone whose worker collects this host (its keys live there); None: collected here. A host
    # without a zone of its own takes its agency's.
    zone: Slug | None = None

    @field_validator("address")
    @classmethod
    def _address_is_host_or_ip(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not _is_dns_name(value):
                raise PydanticCustomError("inventory_address", "must be an IP address or a DNS name") from None
        return value

    @field_validator("key_file")
    @classmethod
    def _usable_path(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if "\x00" in str(value):
            raise PydanticCustomError("inventory_nul", "must not contain a NUL character")
        try:
            value.expanduser()  # resolved against the file's folder once loaded; `~user` must exist here
        except RuntimeError:
            raise PydanticCustomError(
                "inventory_home", "{user}: no such user's home folder", {"user": value.parts[0]}
            ) from None
        return value

    @field_validator("os_family")
    @classmethod
    def _known_family(cls, value: str | None) -> str | None:
        if value is not None and value not in {"debian", "rhel"}:
            raise PydanticCustomError("inventory_os_family", "must be 'debian' or 'rhel'")
        return value

    @model_validator(mode="after")
    def _has_a_credential(self) -> Host:
        if self.zone is not None:
            return self  # the zone's worker holds the key: nothing here says how to log in
        if self.key_file is None and not self.use_agent and self.password_env is None:
            raise PydanticCustomError(
                "inventory_credential",
                "give key_file, use_agent: true or password_env (the NAME of an environment variable)",
            )
        if self.key_passphrase_env is not None and self.key_file is None:
            raise PydanticCustomError(
                "inventory_passphrase_without_key",
                "key_passphrase_env names the passphrase of key_file: give key_file too",
            )
        return self


class Agency(StrictModel):
    id: Slug
    name: LocalizedText
    contact: Contact | None = None  # named as the owner of the report's fix-first plan
    timezone: str | None = None  # the agency's local time in reports, pages and mails (default: the profile's)
    hosts: tuple[Host, ...] = ()
    networks: tuple[Network, ...] = ()
    websites: tuple[AnyHttpUrl, ...] = ()
    inputs: dict[Slug, InputValue] = Field(default_factory=dict)  # threshold overrides for this agency
    zone: Slug | None = None  # the network zone of its hosts (each host may name another); None: collected here

    @model_validator(mode="before")
    @classmethod
    def _hosts_take_the_agency_zone(cls, data: Any) -> Any:
        """A host without a zone of its own is in its agency's: given to the host before it is validated, so a
        zoned host needs no credential here and ``Host.zone`` is the one zone that counts."""
        if not isinstance(data, dict) or data.get("zone") is None or not isinstance(data.get("hosts"), list | tuple):
            return data
        hosts = [
            {**host, "zone": data["zone"]} if isinstance(host, dict) and host.get("zone") is None else host
            for host in data["hosts"]
        ]
        return {**data, "hosts": hosts}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "Asia", a long name
            raise PydanticCustomError(
                "inventory_timezone",
                "unknown time zone {zone}: give a zone name such as Asia/Ho_Chi_Minh",
                {"zone": repr(shown(value))},
            ) from None
        return value

    @model_validator(mode="after")
    def _unique_host_names(self) -> Agency:
        duplicates = _repeated(host.name for host in self.hosts)
        if duplicates:
            raise PydanticCustomError(
                "inventory_duplicate_hosts", "duplicate host names: {names}", {"names": ", ".join(duplicates)}
            )
        return self


class Inventory(StrictModel):
    agencies: tuple[Agency, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Inventory:
        duplicates = _repeated(agency.id for agency in self.agencies)
        if duplicates:
            raise PydanticCustomError(
                _DUPLICATE_AGENCIES, "duplicate agency ids: {ids}", {"ids": ", ".join(duplicates)}
            )
        shared = _repeated(host.name for agency in self.agencies for host in agency.hosts)
        if shared:
            raise PydanticCustomError(
                _SHARED_HOSTS, "host names must be unique across agencies: {names}", {"names": ", ".join(shared)}
            )
        return self

    def hosts_in(self, agency_ids: Sequence[str] = (), host_names: Sequence[str] = ()) -> list[tuple[Agency, Host]]:
        """The (agency, host) pairs a narrowing selects, in inventory order; unknown names are refused."""
        agencies = [self.agency(a) for a in agency_ids] if agency_ids else list(self.agencies)
        pairs = [(agency, host) for agency in agencies for host in agency.hosts]
        unknown = sorted(set(host_names) - {host.name for _, host in pairs})
        if unknown:
            raise InventoryError(said("err_inventory_unknown_hosts", hosts=", ".join(unknown)))
        return [(agency, host) for agency, host in pairs if not host_names or host.name in host_names]

    def agency(self, agency_id: str) -> Agency:
        for agency in self.agencies:
            if agency.id == agency_id:
                return agency
        known = ", ".join(a.id for a in self.agencies)
        raise InventoryError(said("err_inventory_no_agency", agency=agency_id, known=known))


def file_sha256(path: Path) -> str:
    """The inventory file's hash, recorded with each run (what exactly was audited)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise InventoryError(said("err_file_unreadable", path=path, problem=exc.strerror)) from None


def _repeated(values: Iterator[str]) -> list[str]:
    """The values given more than once, sorted; linear, for inventories of thousands of hosts."""
    return sorted(value for value, count in Counter(values).items() if count > 1)


# ----------------------------------------------------------------------------------------- roles

_ADMIN_PORTS = "allowed_ports_admin"  # every host's admin ports: not a role


def roles_known_to(content: Content) -> frozenset[str]:
    """The roles the content gives a meaning to: those a check applies to or excludes, and those whose
    ports the profile allows (`allowed_ports_<role>`): a profile declares a new role by giving its ports."""
    from_checks = {
        role for check in content.checks.values() for role in (*check.applies_to.roles, *check.applies_to.exclude_roles)
    }
    from_profile = {
        name.removeprefix("allowed_ports_")
        for name in content.profile.inputs
        if name.startswith("allowed_ports_") and name != _ADMIN_PORTS
    }
    return frozenset(from_checks | from_profile)


@functools.cache
def builtin_roles() -> frozenset[str]:
    """The roles of the content shipped with the tool and its default profile (read once per process)."""
    from auditor.content.loader import load_content

    return roles_known_to(load_content())


# ------------------------------------------------------------------------------------ problems


@dataclass(frozen=True)
class InventoryProblem:
    """One thing wrong (error) or worth a look (warning, note) in an inventory file, where it is."""

    severity: Literal["error", "warning", "note"]
    location: Location  # the data location: ("agencies", 0, "hosts", 1, "roles", 0)
    message: str  # in English for problems found by loading; `said` says them in either language
    said: Said | None = None

    @classmethod
    def of(cls, severity: Literal["error", "warning", "note"], location: Location, what: Said) -> InventoryProblem:
        return cls(severity, location, what.text("en"), what)

    def text(self, lang: Lang) -> str:
        return self.said.text(lang) if self.said is not None else self.message


@dataclass(frozen=True)
class ParsedInventory:
    """An inventory file read and validated: the inventory when it has no error, and every problem found."""

    path: Path
    document: ParsedFile
    inventory: Inventory | None
    problems: tuple[InventoryProblem, ...]

    @property
    def errors(self) -> tuple[InventoryProblem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    def describe(self, problems: Sequence[InventoryProblem]) -> str:
        """The problems as loading reports them: the file, then each problem's line, item and field."""
        listed = [(p.location, p.message) for p in problems]
        return format_problems(self.path, listed, self.document.data, line_of=self.document.line_of)

    def told(self, problems: Sequence[InventoryProblem]) -> ProblemsSaid:
        """The same, to be said in the reader's language (an error's message: see auditor.errors)."""
        return ProblemsSaid(self, tuple(problems))


@dataclass(frozen=True)
class ProblemsSaid:
    """An inventory's problems as an error says them: in English as `describe` does; in Vietnamese each problem's
    place in words (file, line, agency, host, field), as `auditor inventory check` shows it."""

    parsed: ParsedInventory
    problems: tuple[InventoryProblem, ...]

    def text(self, lang: Lang) -> str:
        if lang == "en":
            return self.parsed.describe(self.problems)
        from auditor.inventory_words import described

        return described(self.parsed, self.problems, lang)


def parse_inventory(path: Path, known_roles: Collection[str] | None = None) -> ParsedInventory:
    """Read an inventory and find its errors: the schema, then the roles (`known_roles`, by default those of
    the built-in content) and the key files. A file that is not YAML at all raises InventoryError."""
    with cyclic_gc_paused():  # thousands of hosts: see cyclic_gc_paused
        document = read_yaml_file(path, InventoryError)
        try:
            inventory = Inventory.model_validate(document.data)
        except ValidationError as exc:
            schema = [(loc, errors_said(errors)) for loc, errors in validation_errors(exc, document.data)]
            located = _located_duplicates(document.data, schema)
            problems = tuple(InventoryProblem.of("error", loc, what) for loc, what in located)
            return ParsedInventory(path, document, None, problems)
        inventory = _with_resolved_key_paths(inventory, path.parent)
        roles = builtin_roles() if known_roles is None else frozenset(known_roles)
        found = sorted((*_role_problems(inventory, roles), *_key_file_problems(inventory)), key=_in_file_order)
    return ParsedInventory(path, document, inventory, tuple(found))


def load_inventory(path: Path, known_roles: Collection[str] | None = None) -> Inventory:
    """Read and validate an inventory before anything connects; relative key paths are resolved against the
    file's folder. Every error (schema, unknown role, missing or unsafe key file) is one InventoryError."""
    parsed = parse_inventory(path, known_roles)
    if parsed.errors or parsed.inventory is None:
        raise InventoryError(parsed.told(parsed.errors))
    return parsed.inventory


def file_order(location: Location) -> tuple[tuple[int, int | str], ...]:
    """Locations in file order: list positions as numbers, field names after them."""
    return tuple((0, step) if isinstance(step, int) else (1, step) for step in location)


def _in_file_order(problem: InventoryProblem) -> tuple[tuple[int, int | str], ...]:
    return file_order(problem.location)


def _with_resolved_key_paths(inventory: Inventory, base: Path) -> Inventory:
    agencies = []
    for agency in inventory.agencies:
        hosts = tuple(
            host.model_copy(update={"key_file": _resolve(base, host.key_file)}) if host.key_file else host
            for host in agency.hosts
        )
        agencies.append(agency.model_copy(update={"hosts": hosts}))
    return inventory.model_copy(update={"agencies": tuple(agencies)})


def _resolve(base: Path, key_file: Path) -> Path:
    expanded = key_file.expanduser()
    return expanded if expanded.is_absolute() else (base / expanded)


def host_locations(inventory: Inventory) -> Iterator[tuple[Location, Agency, Host]]:
    """Each host with its data location, in file order."""
    for a, agency in enumerate(inventory.agencies):
        for h, host in enumerate(agency.hosts):
            yield ("agencies", a, "hosts", h), agency, host


def _role_problems(inventory: Inventory, known: frozenset[str]) -> Iterator[InventoryProblem]:
    listed: str | Said = ", ".join(sorted(known)) or said("known_none")
    for where, _agency, host in host_locations(inventory):
        for index, role in enumerate(host.roles):
            if role not in known:
                what = said("err_inventory_unknown_role", role=repr(shown(role)), known=listed)
                yield InventoryProblem.of("error", (*where, "roles", index), what)


def _key_file_problems(inventory: Inventory) -> Iterator[InventoryProblem]:
    """A key file must be there, be a file and be private: it opens (often with sudo) the agency's servers.
    One readable by group or others is an error, as OpenSSH's own client refuses such a key."""
    checked: dict[Path, Said | None] = {}  # many hosts share a key: each file is examined once
    for where, _agency, host in host_locations(inventory):
        if host.key_file is None or host.zone is not None:  # a zoned host's key lives with its zone's worker
            continue
        if host.key_file not in checked:
            checked[host.key_file] = _key_file_problem(host.key_file)
        problem = checked[host.key_file]
        if problem is not None:
            yield InventoryProblem.of("error", (*where, "key_file"), problem)


def _key_file_problem(path: Path) -> Said | None:
    named = shown(str(path), 200)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return said("err_key_missing", path=named)
    except OSError as exc:
        return said("err_key_unexaminable", path=named, problem=exc.strerror)
    if not stat.S_ISREG(mode):
        return said("err_key_not_file", path=named)
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return said("err_key_readable", path=named, mode=f"{stat.S_IMODE(mode):04o}")
    return None


def key_file_unreadable(path: Path) -> bool:
    """Whether this process cannot read the key (it may be another user's: the portal's, say)."""
    return not os.access(path, os.R_OK)


def _located_duplicates(data: Any, problems: list[tuple[Location, Said]]) -> list[tuple[Location, Said]]:
    """Agency ids and host names given twice across agencies are refused by the schema as a whole; say
    instead on which item (and line) each repeat is, beside its first use."""
    whole = [(loc, m) for loc, m in problems if loc == () and m.key in _DUPLICATE_KEYS]
    if not whole or not isinstance(data, dict) or not isinstance(data.get("agencies"), list):
        return problems
    located = list(_duplicates_in(data["agencies"]))
    return [p for p in problems if p not in whole] + located if located else problems


def _duplicates_in(agencies: list[Any]) -> Iterator[tuple[Location, Said]]:
    first_agency: dict[str, int] = {}
    first_host: dict[str, int] = {}  # host name → the index of the agency it first appears in
    for a, agency in enumerate(agencies):
        if not isinstance(agency, dict):
            continue
        agency_id = agency.get("id")
        if isinstance(agency_id, str):
            if agency_id in first_agency:
                first = first_agency[agency_id]
                yield ("agencies", a, "id"), said("err_inventory_agency_again", id=shown(agency_id), first=first)
            first_agency.setdefault(agency_id, a)
        hosts = agency.get("hosts")
        for h, host in enumerate(hosts if isinstance(hosts, list) else []):
            name = host.get("name") if isinstance(host, dict) else None
            if not isinstance(name, str):
                continue
            if name in first_host and first_host[name] != a:
                other = agencies[first_host[name]].get("id")
                what = said("err_inventory_host_elsewhere", name=shown(name), agency=shown(str(other)))
                yield ("agencies", a, "hosts", h, "name"), what
            first_host.setdefault(name, a)
