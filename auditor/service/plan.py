"""Plan: which checks apply to which target, decided before anything is sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from auditor.collectors.ssh.script import shell_quote
from auditor.content.checks import Check, NetworkProbe, Probe, Profile
from auditor.content.sources import Source
from auditor.errors import ContentError, InventoryError
from auditor.evaluation.evaluate import evaluate, manual_finding, not_applicable_finding
from auditor.evaluation.findings import Finding
from auditor.evaluation.observations import HostObservations, ProbeRequest
from auditor.foreign import foreign
from auditor.inventory import Agency, Host, Inventory
from auditor.messages import reason
from auditor.vocabulary import Only

Inputs = dict[str, int | float | str | bool]


@dataclass(frozen=True)
class HostPlan:
    agency: Agency
    host: Host
    inputs: Inputs
    to_probe: tuple[Check, ...]  # their probes (and the sources they read) travel in the host's one script
    decided: tuple[Finding, ...]  # not applicable (role, OS hint) or manual: nothing to send
    sources: tuple[Source, ...] = ()  # shared sources collected once on this host
    # The requests, when built once for every host that shares this plan (see plan_audit).
    prepared: tuple[ProbeRequest, ...] | None = field(default=None, repr=False, compare=False)

    def requests(self) -> list[ProbeRequest]:
        """One request per shared source and per check with its own command."""
        if self.prepared is not None:
            return list(self.prepared)
        requests = [source.request(self.inputs) for source in self.sources]
        for check in self.to_probe:
            probe = check.probe
            if isinstance(probe, Probe) and probe.command is not None:
                requests.append(check_request(check, probe, self.inputs))
        return requests

    def judge(self, observed: HostObservations) -> list[Finding]:
        """Every planned check judged on its record (its own, or the shared source it reads), then the decided."""
        findings = [
            evaluate(check, observed.observations.get(record_of(check)), observed.facts, self.inputs)
            for check in self.to_probe
        ]
        return sorted([*findings, *self.decided], key=lambda f: f.check_id)


def record_of(check: Check) -> str:
    """The probe id of the record a check is judged on."""
    probe = check.probe
    return (probe.probe_id_for if isinstance(probe, Probe) else None) or check.id


def check_request(check: Check, probe: Probe, inputs: Inputs) -> ProbeRequest:
    assert probe.command is not None  # noqa: S101 - callers pass checks with their own command
    return ProbeRequest(
        probe_id=check.id,
        command=probe_command(probe, inputs),
        timeout_s=probe.timeout,
        output_cap=probe.output_cap,
        os_families=check.applies_to.os_families,
        slow=probe.slow,
    )


def probe_command(probe: Probe, inputs: Inputs) -> str:
    """Prefix the command with the inputs it reads, so the evidence shows the values used too."""
    assert probe.command is not None  # noqa: S101 - a probe reading a source has no command of its own
    lines = [f"AUDITOR_INPUT_{name.upper()}={shell_quote(str(inputs[name]))}" for name in probe.inputs]
    if not lines:
        return probe.command
    exports = " ".join(f"AUDITOR_INPUT_{name.upper()}" for name in probe.inputs)
    return "\n".join([*lines, f"export {exports}", probe.command])


def agency_inputs(agency: Agency, profile: Profile) -> Inputs:
    try:
        return profile.values(agency.inputs)
    except KeyError as exc:
        known = ", ".join(sorted(profile.inputs))
        raise InventoryError(
            foreign("plan_input_unknown", agency=agency.id, name=exc.args[0], profile=profile.id, known=known)
        ) from None


def host_inputs(agency: Agency, host: Host, profile: Profile) -> Inputs:
    """The agency's inputs plus `host_allowed_ports` (admin ports and the ports of the host's roles) and
    `host_audit_account` (the account the audit logs in with, which may hold passwordless sudo)."""
    inputs = agency_inputs(agency, profile)
    names = ["allowed_ports_admin", *(f"allowed_ports_{role}" for role in host.roles)]
    ports = [port.strip() for name in names for port in str(inputs.get(name, "")).split(",") if port.strip()]
    inputs["host_allowed_ports"] = ",".join(dict.fromkeys(ports))
    if "host_audit_account" in profile.inputs:
        inputs["host_audit_account"] = host.user
    return inputs


@dataclass(frozen=True)
class AgencyPlan:
    """What is answered once per agency: manual evidence items, awaiting attestations."""

    agency: Agency
    findings: tuple[Finding, ...]

    @property
    def target_name(self) -> str:
        return f"agency:{self.agency.id}"


NETWORK_AGENTS: frozenset[str] = frozenset({"nmap", "tls", "ssh", "exposure"})
WEB_AGENTS: frozenset[str] = frozenset({"web"})


def agents_for(only: Only | None) -> frozenset[str]:
    if only is Only.web:
        return WEB_AGENTS
    if only is Only.network:
        return NETWORK_AGENTS
    if only is Only.ssh:
        return frozenset()
    return NETWORK_AGENTS | WEB_AGENTS


@dataclass(frozen=True)
class NetworkPlan:
    """What the network agents look at from outside: each agency's declared addresses, networks and websites."""

    agencies: tuple[Agency, ...]
    checks: tuple[Check, ...]  # network checks of the selected agents
    agents: frozenset[str]
    inside: tuple[str, ...] = ()  # shared sources giving each audited host's own view of its sockets


@dataclass(frozen=True)
class AuditPlan:
    hosts: list[HostPlan]
    agencies: list[AgencyPlan]
    network: NetworkPlan | None = None
    checks: int = 0  # checks selected for the run

    @property
    def empty(self) -> bool:
        return not self.hosts and not self.agencies and self.network is None


def plan_host(
    agency: Agency,
    host: Host,
    checks: Sequence[Check],
    profile: Profile,
    *,
    sources: Mapping[str, Source] | None = None,
    also_collect: Sequence[str] = (),
) -> HostPlan:
    """Which checks run on the host, which are decided without asking it, and which shared sources to collect
    (those the checks read, plus ``also_collect``, e.g. the host's own view of its sockets for the network)."""
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
    read = [c.probe.source for c in to_probe if isinstance(c.probe, Probe) and c.probe.source is not None]
    wanted = list(dict.fromkeys([*read, *also_collect]))
    known = sources or {}
    missing = [name for name in wanted if name not in known]
    if missing:
        raise ContentError(foreign("plan_sources_unknown", names=", ".join(missing)))
    return HostPlan(agency, host, inputs, tuple(to_probe), tuple(decided), tuple(known[name] for name in wanted))


def plan_agency(agency: Agency, checks: Sequence[Check]) -> AgencyPlan:
    findings = [manual_finding(check) for check in checks if check.scope == "agency"]
    return AgencyPlan(agency, tuple(sorted(findings, key=lambda f: f.check_id)))


def network_checks(checks: Sequence[Check], agents: frozenset[str]) -> tuple[Check, ...]:
    return tuple(c for c in checks if isinstance(c.probe, NetworkProbe) and c.probe.agent in agents)


def plan_audit(
    inventory: Inventory,
    checks: Sequence[Check],
    profile: Profile,
    *,
    sources: Mapping[str, Source] | None = None,
    agency_ids: Sequence[str] = (),
    host_names: Sequence[str] = (),
    only: Only | None = None,
    host_checks: Mapping[str, Sequence[str]] | None = None,
) -> AuditPlan:
    """Hosts to observe over SSH, agency-level items and what the network agents look at.

    Narrowing to hosts leaves agency items, declared networks and websites out. ``host_checks`` narrows
    further: only those hosts, each with only its listed checks (re-verification after remediation). When a
    network check joins the scan with the host's own view (``inside``), that source is collected on every
    audited host.
    """
    if host_checks:
        host_names = list(host_checks)
    agencies = [inventory.agency(a) for a in agency_ids] if agency_ids else list(inventory.agencies)
    selected = inventory.hosts_in(agency_ids, host_names)
    agents = agents_for(only)
    net_checks = network_checks(checks, agents)
    inside = list(
        dict.fromkeys(c.probe.inside for c in net_checks if isinstance(c.probe, NetworkProbe) and c.probe.inside)
    )
    hosts: list[HostPlan] = []
    if only in (None, Only.ssh):
        # What a host's plan holds depends on its agency, roles, OS hint and login account (the sudo checks read
        # it) only (and, re-verifying, its own checks): hosts alike share one plan's checks, decided findings and
        # requests, so a fleet of a thousand
        # hosts plans a few dozen times and keeps one copy of each.
        shared: dict[tuple[object, ...], HostPlan] = {}
        for agency, host in selected:
            key = (agency.id, host.roles, host.os_family, host.user, host.name if host_checks else None)
            template = shared.get(key)
            if template is None:
                own = _checks_of(host.name, checks, host_checks)
                template = plan_host(agency, host, own, profile, sources=sources, also_collect=inside)
                template = replace(template, prepared=tuple(template.requests()))
                shared[key] = template
            hosts.append(replace(template, host=host))
    # Manual items belong to a whole audit of agencies: not to a few hosts, nor to one network agent alone.
    whole = not host_names and only in (None, Only.ssh)
    agency_plans = [plan_agency(agency, checks) for agency in agencies] if whole else []
    network = None
    if agents:
        narrowed = _narrow(agencies, host_names)
        network = NetworkPlan(tuple(narrowed), net_checks, agents, tuple(inside)) if narrowed else None
    return AuditPlan(hosts, [plan for plan in agency_plans if plan.findings], network, len(checks))


def _checks_of(host: str, checks: Sequence[Check], host_checks: Mapping[str, Sequence[str]] | None) -> list[Check]:
    if not host_checks:
        return list(checks)
    wanted = set(host_checks.get(host, ()))
    return [check for check in checks if check.id in wanted]


def _narrow(agencies: Sequence[Agency], host_names: Sequence[str]) -> list[Agency]:
    """With host names, scan only those hosts' addresses (no networks, no websites)."""
    if not host_names:
        return list(agencies)
    narrowed = []
    for agency in agencies:
        hosts = tuple(h for h in agency.hosts if h.name in host_names)
        if hosts:
            narrowed.append(agency.model_copy(update={"hosts": hosts, "networks": (), "websites": ()}))
    return narrowed
