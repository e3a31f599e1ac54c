"""The network phase: scan each agency's declared addresses, networks and websites from outside,
turn what the agents saw into facts and judge the network checks, one target at a time.

Targets: `tcp://<address>` (every port of one address: exposure policy, inside vs outside),
`tcp://<address>:<port>` (one service: TLS, SSH algorithms, FTP) and each website URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from auditor.collectors.network import nmap, sshalgos, tls, web
from auditor.collectors.network.facts import (
    address_facts,
    exposure_fact,
    fact,
    ftp_facts,
    is_tls,
    open_ports,
    ssh_facts,
    tls_facts,
)
from auditor.collectors.network.inside import InsideView
from auditor.collectors.network.webfacts import site_facts
from auditor.content.checks import Check, NetworkProbe, Profile
from auditor.errors import CollectorError
from auditor.evaluation.evaluate import evaluate, host_error_finding
from auditor.evaluation.findings import Finding, HostResult, HostStatus
from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome
from auditor.foreign import cause_said, foreign, in_words
from auditor.inventory import Agency, Host
from auditor.service.plan import NETWORK_AGENTS, Inputs, NetworkPlan, agency_inputs, host_inputs
from auditor.vocabulary import LocalizedText

log = logging.getLogger(__name__)


class NetworkOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scan: nmap.ScanOptions = nmap.ScanOptions()
    extra_ca: Path | None = None  # a CA file trusted besides the system store (e.g. the agency's own CA)
    web_max_requests: int = Field(default=16, ge=4, le=64)
    timeout_s: float = Field(default=8.0, gt=0, le=120)
    concurrency: int = Field(default=4, ge=1, le=64)


@dataclass
class Target:
    agency: Agency
    name: str
    kind: Literal["service", "website"]
    address: str
    inputs: Inputs
    observations: dict[str, Observation] = field(default_factory=dict)
    error: tuple[str, str | LocalizedText] | None = None  # (reason code, detail: in words when it has words)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None  # when its observation ended (judging comes later)

    def add(self, observations: Sequence[Observation]) -> None:
        for observation in observations:
            self.observations[observation.probe_id] = observation


def _now() -> datetime:
    return datetime.now(UTC)


def judge(target: Target, checks: Sequence[Check]) -> HostResult:
    """One finding per check whose fact the target has (a target without it is not judged)."""
    findings: list[Finding] = []
    for check in checks:
        assert isinstance(check.probe, NetworkProbe)  # noqa: S101 - network_checks() selected them
        observation = target.observations.get(check.probe.observe)
        if target.error is not None and (check.probe.agent == "web") == (target.kind == "website"):
            findings.append(host_error_finding(check, target.error[0], target.error[1]))
        elif observation is not None:
            findings.append(evaluate(check, observation, HostFacts(), target.inputs))
    return HostResult(
        agency_id=target.agency.id,
        host_name=target.name,
        kind=target.kind,
        address=target.address,
        status=HostStatus.error if target.error else HostStatus.ok,
        error_reason=target.error[0] if target.error else None,
        error_detail=_english(target.error[1]) if target.error else None,
        started_at=target.started,
        finished_at=target.finished or _now(),
        findings=tuple(sorted(findings, key=lambda f: f.check_id)),
        observations=tuple(target.observations.values()),
    )


def _host_inputs(agency: Agency, address: str, profile: Profile) -> Inputs:
    host = next((h for h in agency.hosts if h.address == address), None)
    if host is not None:
        return host_inputs(agency, host, profile)
    # an address found in a declared network but not in the inventory: only admin ports are expected
    stranger = Host(name="undeclared", address=address, use_agent=True)
    return host_inputs(agency, stranger, profile)


def _allowed(inputs: Inputs) -> set[str]:
    return {p.strip() for p in str(inputs.get("host_allowed_ports", "")).split(",") if p.strip()}


def _scan_items(agency: Agency) -> list[str]:
    """Declared addresses, then declared networks (targets seen twice are judged once)."""
    return list(dict.fromkeys([*(h.address for h in agency.hosts), *(str(net) for net in agency.networks)]))


def scan_agency(
    agency: Agency,
    profile: Profile,
    options: NetworkOptions,
    inside: Mapping[str, InsideView],
    agents: frozenset[str] = NETWORK_AGENTS,
) -> list[Target]:
    """nmap every declared address and network of the agency (one nmap run each, in parallel)."""
    items = _scan_items(agency)
    with ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="nmap") as pool:
        scans = list(pool.map(lambda item: _scan_one(agency, item, profile, options, inside, agents), items))
    seen: set[str] = set()
    targets: list[Target] = []
    for batch in scans:
        for target in batch:
            if target.name not in seen:  # an address both declared and inside a declared network
                seen.add(target.name)
                targets.append(target)
    return targets


def _scan_one(
    agency: Agency,
    item: str,
    profile: Profile,
    options: NetworkOptions,
    inside: Mapping[str, InsideView],
    agents: frozenset[str],
) -> list[Target]:
    started = _now()
    try:
        scan = nmap.run_scan([item], options.scan)
    except CollectorError as exc:
        target = Target(agency, f"tcp://{item}", "service", item, _host_inputs(agency, item, profile), started=started)
        target.error = (exc.reason, in_words(exc.said) if exc.said is not None else str(exc))
        return [target]
    raw = Observation(
        probe_id="nmap.xml",
        command=scan.command,
        outcome=ProbeOutcome.completed,
        exit_code=0,
        stdout=scan.xml,
        duration_s=scan.duration_s,
        collected_at=_now(),
    )
    scanned = set(nmap.port_spec(options.scan).removeprefix("T:").split(","))
    targets = []
    for host in scan.hosts:
        if host.state != "up" and not open_ports(host):
            continue
        inputs = _host_inputs(agency, host.address, profile)
        target = Target(agency, f"tcp://{host.address}", "service", host.address, inputs, started=started)
        target.add([raw, *address_facts(host, scan.command)])
        target.finished = _now()
        if host.address in inside:
            target.add([exposure_fact(inside[host.address], host, _expand(scanned), _allowed(inputs))])
        targets.append(target)
        targets.extend(_service_targets(agency, host, inputs, options, agents))
    return targets


def _expand(spec: set[str]) -> set[str]:
    ports: set[str] = set()
    for item in spec:
        if "-" in item:
            low, high = item.split("-")
            ports.update(str(p) for p in range(int(low), int(high) + 1))
        elif item:
            ports.add(item)
    return ports


def _service_targets(
    agency: Agency, host: nmap.NmapHost, inputs: Inputs, options: NetworkOptions, agents: frozenset[str]
) -> list[Target]:
    targets = []
    for port in open_ports(host):
        if port.protocol != "tcp":
            continue
        target = Target(agency, f"tcp://{host.address}:{port.port}", "service", host.address, inputs)
        details = [f"{port.label} {port.service} {port.product} {port.version}".strip()]
        details += [f"{s.id}: {s.output.strip()}" for s in port.scripts]
        target.add([fact("nmap.port", "nmap service detection and NSE output for this port", details)])
        target.add(ftp_facts(port))
        if "tls" in agents and is_tls(port):
            report = tls.observe(host.address, port.port, host.address, options.extra_ca, options.timeout_s)
            if any(p.offered for p in report.protocols):
                target.add(tls_facts(report, port))
        if "ssh" in agents and port.service == "ssh":
            try:
                target.add(ssh_facts(sshalgos.read_algorithms(host.address, port.port, options.timeout_s), port))
            except CollectorError as exc:
                target.observations["ssh_kex"] = _failed("ssh_kex", str(exc))
                target.observations["ssh_ciphers_macs"] = _failed("ssh_ciphers_macs", str(exc))
        target.finished = _now()
        if len(target.observations) > 1:
            targets.append(target)
    return targets


def _english(detail: str | LocalizedText) -> str:
    return detail.en if isinstance(detail, LocalizedText) else detail


def _failed(name: str, detail: str) -> Observation:
    return Observation(
        probe_id=name,
        command="direct observation",
        outcome=ProbeOutcome.completed,
        exit_code=2,
        stderr=detail.encode(),
        collected_at=_now(),
    )


def observe_website(agency: Agency, url: str, profile: Profile, options: NetworkOptions) -> Target:
    target = Target(agency, url, "website", url, agency_inputs(agency, profile))
    report = web.observe_site(url, options.web_max_requests, options.timeout_s)
    target.add(site_facts(report))
    target.finished = _now()
    if report.home.status is None:
        cause = cause_said(report.home.cause, report.home.error)
        target.error = ("unreachable", in_words(foreign("web_unreachable", url=url, cause=cause)))
    return target


def observe_network(
    plan: NetworkPlan, profile: Profile, options: NetworkOptions, inside: Mapping[str, InsideView]
) -> Iterator[tuple[Agency, HostResult]]:
    """Scan and judge every agency's network targets, one at a time; a failing target never stops the rest.

    ``inside`` is what each audited host said about its own listening sockets (address → view), joined with
    what the scan sees for the exposure checks."""
    for agency in plan.agencies:
        targets: list[Target] = []
        if plan.agents & NETWORK_AGENTS and (agency.hosts or agency.networks):
            targets += scan_agency(agency, profile, options, inside, plan.agents)
        if "web" in plan.agents:
            targets += [observe_website(agency, str(url), profile, options) for url in agency.websites]
        for target in targets:
            yield agency, judge(target, plan.checks)
