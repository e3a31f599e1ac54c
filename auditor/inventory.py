"""The inventory: agencies, their hosts, networks and public websites. Secrets only by reference."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import (
    AnyHttpUrl,
    BeforeValidator,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from auditor.errors import InventoryError
from auditor.vocabulary import LocalizedText, Slug, StrictModel
from auditor.yamlio import format_validation_error, read_yaml_file

EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")]
InputValue = int | float | str | bool
_DNS_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _network(value: object) -> object:
    """A network in CIDR notation, with one clear message instead of one per IP version."""
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a network in CIDR notation, e.g. 10.20.0.0/24")
    try:
        return ipaddress.ip_network(value)
    except ValueError as exc:
        raise ValueError(f"must be a network in CIDR notation, e.g. 10.20.0.0/24 ({exc})") from None


Network = Annotated[ipaddress.IPv4Network | ipaddress.IPv6Network, BeforeValidator(_network)]


def _is_dns_name(value: str) -> bool:
    labels = value.split(".")
    return (
        len(value) <= 253
        and all(_DNS_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()  # all-numeric: a mistyped IPv4 address such as 10.0.0.256, not a name
    )


class Contact(StrictModel):
    name: str | None = None
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

    @field_validator("address")
    @classmethod
    def _address_is_host_or_ip(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not _is_dns_name(value):
                raise ValueError("must be an IP address or a DNS name") from None
        return value

    @field_validator("key_file")
    @classmethod
    def _usable_path(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if "\x00" in str(value):
            raise ValueError("must not contain a NUL character")
        try:
            value.expanduser()  # resolved against the file's folder once loaded; `~user` must exist here
        except RuntimeError:
            raise ValueError(f"{value.parts[0]}: no such user's home folder") from None
        return value

    @field_validator("os_family")
    @classmethod
    def _known_family(cls, value: str | None) -> str | None:
        if value is not None and value not in {"debian", "rhel"}:
            raise ValueError("must be 'debian' or 'rhel'")
        return value

    @model_validator(mode="after")
    def _has_a_credential(self) -> Host:
        if self.key_file is None and not self.use_agent and self.password_env is None:
            raise ValueError("give key_file, use_agent: true or password_env (the NAME of an environment variable)")
        if self.key_passphrase_env is not None and self.key_file is None:
            raise ValueError("key_passphrase_env names the passphrase of key_file: give key_file too")
        return self


class Agency(StrictModel):
    id: Slug
    name: LocalizedText
    contact: Contact | None = None
    hosts: tuple[Host, ...] = ()
    networks: tuple[Network, ...] = ()
    websites: tuple[AnyHttpUrl, ...] = ()
    inputs: dict[Slug, InputValue] = Field(default_factory=dict)  # threshold overrides for this agency

    @model_validator(mode="after")
    def _unique_host_names(self) -> Agency:
        names = [host.name for host in self.hosts]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate host names: {', '.join(duplicates)}")
        return self


class Inventory(StrictModel):
    agencies: tuple[Agency, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Inventory:
        ids = [agency.id for agency in self.agencies]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate agency ids: {', '.join(duplicates)}")
        hosts = [host.name for agency in self.agencies for host in agency.hosts]
        shared = sorted({h for h in hosts if hosts.count(h) > 1})
        if shared:
            raise ValueError(f"host names must be unique across agencies: {', '.join(shared)}")
        return self

    def hosts_in(self, agency_ids: Sequence[str] = (), host_names: Sequence[str] = ()) -> list[tuple[Agency, Host]]:
        """The (agency, host) pairs a narrowing selects, in inventory order; unknown names are refused."""
        agencies = [self.agency(a) for a in agency_ids] if agency_ids else list(self.agencies)
        pairs = [(agency, host) for agency in agencies for host in agency.hosts]
        unknown = sorted(set(host_names) - {host.name for _, host in pairs})
        if unknown:
            raise InventoryError(f"unknown host name(s) in the selected agencies: {', '.join(unknown)}")
        return [(agency, host) for agency, host in pairs if not host_names or host.name in host_names]

    def agency(self, agency_id: str) -> Agency:
        for agency in self.agencies:
            if agency.id == agency_id:
                return agency
        raise InventoryError(f"no agency with id {agency_id!r} (known: {', '.join(a.id for a in self.agencies)})")


def file_sha256(path: Path) -> str:
    """The inventory file's hash, recorded with each run (what exactly was audited)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise InventoryError(f"{path}: cannot read ({exc.strerror})") from None


def load_inventory(path: Path) -> Inventory:
    """Read and validate an inventory; relative key paths are resolved against the file's folder."""
    document = read_yaml_file(path, InventoryError)
    try:
        inventory = Inventory.model_validate(document.data)
    except ValueError as exc:
        raise InventoryError(format_validation_error(path, exc, document.data, line_of=document.line_of)) from None
    base = path.parent
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
