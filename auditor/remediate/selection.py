"""What to fix: the failed findings of a run that have a playbook unit, per host, with refusals said."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from auditor.content.loader import Content
from auditor.errors import ConfigError
from auditor.inventory import Agency, Host, Inventory
from auditor.remediate.units import KNOWN_PARAMS, LOCKOUT_UNITS, UNIT_PARAMS, available_units, run_order, unit_of
from auditor.reports.models import Lang
from auditor.said import Said, said
from auditor.service.plan import host_inputs
from auditor.store import Store

InputValue = int | float | str | bool
NO_PLAYBOOK_UNIT = "err_refuse_no_unit"  # the refusal of a check fixed by hand: listed apart


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fix(_Model):
    check_id: str
    unit: str  # playbook unit (playbooks/tasks/<unit>.yml)


class Refusal(_Model):
    check_id: str
    reason: str  # in English, as the remediation's record keeps it
    key: str = ""  # the same reason as a sentence of auditor/locale/cli.yml, said in the reader's language
    values: dict[str, str] = {}

    def text(self, lang: Lang) -> str:
        return Said(self.key, self.values).text(lang) if self.key else self.reason

    @classmethod
    def of(cls, check_id: str, why: Said) -> Refusal:
        values = {name: str(value) for name, value in why.values.items()}
        return cls(check_id=check_id, reason=why.text("en"), key=why.key, values=values)


class HostTarget(_Model):
    agency_id: str
    host_name: str
    address: str
    port: int
    user: str
    key_file: Path | None
    use_agent: bool
    sudo: bool
    fixes: tuple[Fix, ...]
    refused: tuple[Refusal, ...]
    inputs: dict[str, InputValue]

    @property
    def check_ids(self) -> list[str]:
        return [fix.check_id for fix in self.fixes]


class Selection(_Model):
    source_run: str
    hosts: tuple[HostTarget, ...]
    params: dict[str, str]

    def only(self, host_names: Sequence[str]) -> Selection:
        return self.model_copy(update={"hosts": tuple(h for h in self.hosts if h.host_name in host_names)})

    @property
    def runnable(self) -> tuple[HostTarget, ...]:
        return tuple(h for h in self.hosts if h.fixes)


def parse_params(pairs: Sequence[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not value.strip():
            raise ConfigError(said("err_set_pair", pair=pair))
        if name not in KNOWN_PARAMS:
            raise ConfigError(said("err_set_unknown", name=name, known=", ".join(sorted(KNOWN_PARAMS))))
        if any(ch.isspace() or ch in "\"'\\;{}$`" for ch in value):
            raise ConfigError(said("err_set_value", name=name, value=value))
        params[name] = value.strip()
    return params


def _host_refusal(host: Host) -> Said | None:
    if host.key_file is None and not host.use_agent:
        return said("err_refuse_no_key")
    if not host.sudo and host.user != "root":
        return said("err_refuse_no_root")
    return None


def _fix_refusal(host: Host, unit: str, params: Mapping[str, str]) -> Said | None:
    if unit in LOCKOUT_UNITS and host.user == "root":
        return said("err_refuse_root_lockout")
    if unit in LOCKOUT_UNITS and host.password_env is not None:
        return said("err_refuse_password_login")
    missing = [name for name in UNIT_PARAMS.get(unit, ()) if name not in params]
    if missing:
        return said("err_refuse_needs", needs=", ".join(f"--set {name}=..." for name in missing))
    return None


def build_selection(
    store: Store,
    run_ref: str,
    inventory: Inventory,
    content: Content,
    agency_id: str,
    host_names: Sequence[str] = (),
    check_ids: Sequence[str] = (),
    params: Mapping[str, str] | None = None,
    playbooks_dir: Path | None = None,
) -> Selection:
    """Failed findings of the run for the agency (narrowed by host and check) → fixes and refusals per host."""
    run = store.get_run(run_ref)
    agency: Agency = inventory.agency(agency_id)
    hosts_by_name = {host.name: host for host in agency.hosts}
    unknown_hosts = sorted(set(host_names) - set(hosts_by_name))
    if unknown_hosts:
        raise ConfigError(said("err_unknown_hosts_in", agency=agency_id, hosts=", ".join(unknown_hosts)))
    unknown_checks = sorted(set(check_ids) - set(content.checks))
    if unknown_checks:
        raise ConfigError(said("err_unknown_checks", checks=", ".join(unknown_checks)))
    values = dict(params or {})
    units = available_units(playbooks_dir)
    failed: dict[str, list[str]] = {}
    for row in store.list_findings(run.id, status="fail", agency_id=agency_id):
        if row.host_name not in hosts_by_name or (host_names and row.host_name not in host_names):
            continue  # agency items, network targets and hosts left out
        if check_ids and row.check_id not in check_ids:
            continue
        failed.setdefault(row.host_name, []).append(row.check_id)
    targets = []
    for name in sorted(failed):
        host = hosts_by_name[name]
        fixes: list[Fix] = []
        refused: list[Refusal] = []
        blocked = _host_refusal(host)
        for check_id in sorted(failed[name]):
            unit = unit_of(content.checks.get(check_id), units)
            why = said(NO_PLAYBOOK_UNIT) if unit is None else blocked
            why = why or _fix_refusal(host, unit or "", values)
            if why is None and unit is not None:
                fixes.append(Fix(check_id=check_id, unit=unit))
            elif why is not None:
                refused.append(Refusal.of(check_id, why))
        targets.append(
            HostTarget(
                agency_id=agency.id,
                host_name=host.name,
                address=host.address,
                port=host.port,
                user=host.user,
                key_file=host.key_file,
                use_agent=host.use_agent,
                sudo=host.sudo,
                fixes=tuple(sorted(fixes, key=lambda fix: run_order(fix.unit))),
                refused=tuple(refused),
                inputs=host_inputs(agency, host, content.profile),
            )
        )
    return Selection(source_run=run.id, hosts=tuple(targets), params=values)
