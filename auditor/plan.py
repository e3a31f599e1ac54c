"""Plan: which checks apply to which host, decided before anything is sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditor.checks import Check, Profile
from auditor.errors import InventoryError
from auditor.evaluate import manual_finding, not_applicable_finding
from auditor.findings import Finding
from auditor.inventory import Agency, Host, Inventory
from auditor.messages import reason
from auditor.observations import ProbeRequest

Inputs = dict[str, int | float | str | bool]


@dataclass(frozen=True)
class HostPlan:
    agency: Agency
    host: Host
    inputs: Inputs
    to_probe: tuple[Check, ...]  # their probes travel in the host's single batched script
    decided: tuple[Finding, ...]  # not applicable (role, OS hint) or manual: nothing to send

    def requests(self) -> list[ProbeRequest]:
        return [
            ProbeRequest(
                probe_id=check.id,
                command=check.probe.command,
                timeout_s=check.probe.timeout,
                output_cap=check.probe.output_cap,
                os_families=check.applies_to.os_families,
            )
            for check in self.to_probe
            if check.probe is not None
        ]


def agency_inputs(agency: Agency, profile: Profile) -> Inputs:
    try:
        return profile.values(agency.inputs)
    except KeyError as exc:
        raise InventoryError(
            f"agency {agency.id}: inputs → {exc.args[0]}: not an input of profile {profile.id} "
            f"(known: {', '.join(sorted(profile.inputs))})"
        ) from None


def plan_host(agency: Agency, host: Host, checks: Sequence[Check], profile: Profile) -> HostPlan:
    inputs = agency_inputs(agency, profile)
    to_probe: list[Check] = []
    decided: list[Finding] = []
    for check in checks:
        scope = check.applies_to
        if scope.roles and not set(scope.roles) & set(host.roles):
            decided.append(not_applicable_finding(check, reason("not_applicable.role", roles=", ".join(scope.roles))))
        elif scope.os_families and host.os_family and host.os_family not in scope.os_families:
            why = reason("not_applicable.os_family", family=host.os_family, families=", ".join(scope.os_families))
            decided.append(not_applicable_finding(check, why))
        elif check.is_manual:
            decided.append(manual_finding(check))
        else:
            to_probe.append(check)
    return HostPlan(agency, host, inputs, tuple(to_probe), tuple(decided))


def plan_audit(
    inventory: Inventory,
    checks: Sequence[Check],
    profile: Profile,
    agency_ids: Sequence[str] = (),
    host_names: Sequence[str] = (),
) -> list[HostPlan]:
    agencies = [inventory.agency(a) for a in agency_ids] if agency_ids else list(inventory.agencies)
    plans = [plan_host(agency, host, checks, profile) for agency in agencies for host in agency.hosts]
    if host_names:
        known = {plan.host.name for plan in plans}
        unknown = sorted(set(host_names) - known)
        if unknown:
            raise InventoryError(f"unknown host name(s) in the selected agencies: {', '.join(unknown)}")
        plans = [plan for plan in plans if plan.host.name in host_names]
    return plans
