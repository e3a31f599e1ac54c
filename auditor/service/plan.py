"""Plan: which checks apply to which host, decided before anything is sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from auditor.collectors.ssh.script import shell_quote
from auditor.content.checks import Check, Probe, Profile
from auditor.errors import InventoryError
from auditor.evaluation.evaluate import manual_finding, not_applicable_finding
from auditor.evaluation.findings import Finding
from auditor.evaluation.observations import ProbeRequest
from auditor.inventory import Agency, Host, Inventory
from auditor.messages import reason
from auditor.vocabulary import RequirementRef

Inputs = dict[str, int | float | str | bool]
Requirements = Mapping[str, tuple[RequirementRef, ...]]


@dataclass(frozen=True)
class HostPlan:
    agency: Agency
    host: Host
    inputs: Inputs
    to_probe: tuple[Check, ...]  # their probes travel in the host's single batched script
    decided: tuple[Finding, ...]  # not applicable (role, OS hint) or manual: nothing to send
    requirements: Requirements = field(default_factory=dict)  # check id → clauses, from the catalogues

    def with_requirements(self, findings: Sequence[Finding]) -> tuple[Finding, ...]:
        """Attach each finding's clauses and order the findings by check id."""
        attached = [f.model_copy(update={"requirements": self.requirements.get(f.check_id, ())}) for f in findings]
        return tuple(sorted(attached, key=lambda f: f.check_id))

    def requests(self) -> list[ProbeRequest]:
        requests = []
        for check in self.to_probe:
            probe = check.probe
            if isinstance(probe, Probe):  # always, for host-scope checks; the test narrows the type
                requests.append(
                    ProbeRequest(
                        probe_id=check.id,
                        command=probe_command(probe, self.inputs),
                        timeout_s=probe.timeout,
                        output_cap=probe.output_cap,
                        os_families=check.applies_to.os_families,
                    )
                )
        return requests


def probe_command(probe: Probe, inputs: Inputs) -> str:
    """Prefix the command with the inputs it reads, so the evidence shows the values used too."""
    lines = [f"AUDITOR_INPUT_{name.upper()}={shell_quote(str(inputs[name]))}" for name in probe.inputs]
    if not lines:
        return probe.command
    exports = " ".join(f"AUDITOR_INPUT_{name.upper()}" for name in probe.inputs)
    return "\n".join([*lines, f"export {exports}", probe.command])


def agency_inputs(agency: Agency, profile: Profile) -> Inputs:
    try:
        return profile.values(agency.inputs)
    except KeyError as exc:
        raise InventoryError(
            f"agency {agency.id}: inputs → {exc.args[0]}: not an input of profile {profile.id} "
            f"(known: {', '.join(sorted(profile.inputs))})"
        ) from None


def host_inputs(agency: Agency, host: Host, profile: Profile) -> Inputs:
    """The agency's inputs plus `host_allowed_ports`: admin ports and the ports of the host's roles."""
    inputs = agency_inputs(agency, profile)
    names = ["allowed_ports_admin", *(f"allowed_ports_{role}" for role in host.roles)]
    ports = [port.strip() for name in names for port in str(inputs.get(name, "")).split(",") if port.strip()]
    inputs["host_allowed_ports"] = ",".join(dict.fromkeys(ports))
    return inputs


@dataclass(frozen=True)
class AgencyPlan:
    """What is answered once per agency: manual evidence items, awaiting attestations."""

    agency: Agency
    findings: tuple[Finding, ...]

    @property
    def target_name(self) -> str:
        return f"agency:{self.agency.id}"


@dataclass(frozen=True)
class AuditPlan:
    hosts: list[HostPlan]
    agencies: list[AgencyPlan]


def plan_host(
    agency: Agency, host: Host, checks: Sequence[Check], profile: Profile, requirements: Requirements | None = None
) -> HostPlan:
    inputs = host_inputs(agency, host, profile)
    to_probe: list[Check] = []
    decided: list[Finding] = []
    for check in checks:
        if check.scope != "host":
            continue
        scope = check.applies_to
        if scope.roles and not set(scope.roles) & set(host.roles):
            decided.append(not_applicable_finding(check, reason("not_applicable.role", roles=", ".join(scope.roles))))
        elif set(scope.exclude_roles) & set(host.roles):
            excluded = ", ".join(sorted(set(scope.exclude_roles) & set(host.roles)))
            decided.append(not_applicable_finding(check, reason("not_applicable.excluded_role", roles=excluded)))
        elif scope.os_families and host.os_family and host.os_family not in scope.os_families:
            why = reason("not_applicable.os_family", family=host.os_family, families=", ".join(scope.os_families))
            decided.append(not_applicable_finding(check, why))
        elif check.is_manual:
            decided.append(manual_finding(check))
        else:
            to_probe.append(check)
    return HostPlan(agency, host, inputs, tuple(to_probe), tuple(decided), requirements or {})


def plan_agency(agency: Agency, checks: Sequence[Check], requirements: Requirements | None = None) -> AgencyPlan:
    refs = requirements or {}
    findings = [
        manual_finding(check).model_copy(update={"requirements": refs.get(check.id, ())})
        for check in checks
        if check.scope == "agency"
    ]
    return AgencyPlan(agency, tuple(sorted(findings, key=lambda f: f.check_id)))


def plan_audit(
    inventory: Inventory,
    checks: Sequence[Check],
    profile: Profile,
    requirements: Requirements | None = None,
    agency_ids: Sequence[str] = (),
    host_names: Sequence[str] = (),
) -> AuditPlan:
    """Hosts to observe and agency-level items; narrowing to hosts leaves agency items out."""
    agencies = [inventory.agency(a) for a in agency_ids] if agency_ids else list(inventory.agencies)
    plans = [plan_host(agency, host, checks, profile, requirements) for agency in agencies for host in agency.hosts]
    if host_names:
        known = {plan.host.name for plan in plans}
        unknown = sorted(set(host_names) - known)
        if unknown:
            raise InventoryError(f"unknown host name(s) in the selected agencies: {', '.join(unknown)}")
        return AuditPlan([plan for plan in plans if plan.host.name in host_names], [])
    agency_plans = [plan_agency(agency, checks, requirements) for agency in agencies]
    return AuditPlan(plans, [plan for plan in agency_plans if plan.findings])
