"""A store the size of the demo's Báo Sóc Trăng, built from the shipped checks: two servers judged on every host
check (a database server failing some 65 of them, a web server one), the network's service targets (an exposed
SSH port seen by three checks, weak SSH algorithms), a website, and the 60 documents the agency still owes.

Failing results are judged by the real expectations (``evaluate``) from short synthetic outputs, so each finding
carries its check's own requirement and reason in words and its evidence the check's own command, as an audit
records them; some outputs are long listings the appendix must cut.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from auditor.content.checks import Check, Probe
from auditor.content.sources import SOURCE_PREFIX
from auditor.evaluation.evaluate import evaluate
from auditor.evaluation.findings import Finding, HostResult
from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome
from auditor.store import Store
from auditor.vocabulary import Status
from tests.unit.test_reports_figures import exposed_host
from tests.unit.test_reports_support import AGENCY, T0, agency_result, content, host_result, store_run

# The demo's Báo Sóc Trăng (150 host checks on Debian 12), as measured: what each server fails and cannot be judged on.
DB_FAILING, DB_NOT_APPLICABLE = 66, 21
WEB_FAILING, WEB_NOT_APPLICABLE = 1, 10
FACTS = HostFacts(
    hostname="bst-db", os_id="debian", os_version="12", os_pretty="Debian GNU/Linux 12 (bookworm)", os_family="debian"
)
SHORT_OUTPUTS = (b"", b"yes\n", b"0\n", b"999999\n", b"absent (sshd)\nabsent (login)\n")
SSH_ALGORITHMS = "\n".join(
    [f"cipher {c}" for c in ("chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-cbc")]
    + [f"mac {m}" for m in ("umac-64-etm@openssh.com", "hmac-sha1-etm@openssh.com", "hmac-sha1", "umac-64@openssh.com")]
    + [f"kex {k}" for k in ("curve25519-sha256", "diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1")]
).encode()


def host_checks() -> list[Check]:
    return [c for c in content().checks.values() if not c.is_manual and c.scope == "host"]


def _command(check: Check) -> str:
    probe = check.probe
    if isinstance(probe, Probe) and probe.command:
        return probe.command
    assert isinstance(probe, Probe) and probe.source is not None
    return content().sources[probe.source].command


def _listing(check: Check) -> bytes:
    """A long output, as a file system walk or a rule listing gives."""
    return "".join(f"/etc/{check.id}.d/{n:02d}.conf: {check.id}_setting_{n} = {n * 7}\n" for n in range(30)).encode()


def _failure(check: Check, index: int) -> tuple[Finding, Observation] | None:
    """The check's own failure from a synthetic output (a long listing for every sixth), or None when no output
    tried makes it fail."""
    inputs = {name: spec.default for name, spec in content().profile.inputs.items()}
    outputs = (_listing(check), *SHORT_OUTPUTS) if index % 6 == 0 else SHORT_OUTPUTS
    for stdout in outputs:
        observation = Observation(
            probe_id=check.id,
            command=_command(check),
            outcome=ProbeOutcome.completed,
            exit_code=0,
            stdout=stdout,
            stderr=b"",
            duration_s=0.2,
            collected_at=T0 + timedelta(seconds=1),
        )
        finding = evaluate(check, observation, FACTS, inputs)
        if finding.status is Status.failed:
            return finding, observation
    return None


def _failable() -> Iterator[tuple[Check, Finding, Observation]]:
    for index, check in enumerate(host_checks()):
        failure = _failure(check, index)
        if failure is not None:
            yield check, *failure


def server(name: str, address: str, failing: int, not_applicable: int) -> HostResult:
    """Every host check on one server: ``failing`` of them fail as judged, ``not_applicable`` cannot apply."""
    failures = list(_failable())[:failing]
    assert len(failures) == failing, f"only {len(failures)} host checks fail from the outputs tried"
    failed_ids = {check.id for check, _f, _o in failures}
    others = [c.id for c in host_checks() if c.id not in failed_ids]
    statuses = {c: (Status.not_applicable if i < not_applicable else Status.passed) for i, c in enumerate(others)}
    result = host_result(name, statuses, address=address)
    findings, observations = list(result.findings), {o.probe_id: o for o in result.observations}
    for check, finding, observation in failures:
        probe = check.probe
        record = f"{SOURCE_PREFIX}{probe.source}" if isinstance(probe, Probe) and probe.source else check.id
        # checks reading one shared source share its one record, as an audit stores it
        observations.setdefault(record, observation.model_copy(update={"probe_id": record}))
        findings.append(finding.model_copy(update={"evidence_probe_id": record}))
    return result.model_copy(
        update={
            "facts": FACTS.model_copy(update={"hostname": name}),
            "findings": tuple(findings),
            "observations": tuple(observations.values()),
        }
    )


def _service(name: str, address: str, statuses: dict[str, Status]) -> HostResult:
    stdout = {check: SSH_ALGORITHMS if check.startswith("ssh_") else b"ok\n" for check in statuses}
    result = host_result(name, statuses, stdout=stdout, address=address)
    return result.model_copy(update={"kind": "service", "facts": None})


def demo_sized_run(store: Store) -> str:
    F, P = Status.failed, Status.passed
    network = [c.id for c in content().checks.values() if c.scope == "network" and not c.is_manual]
    web = [c for c in network if c.startswith("web_")][:12]
    website = host_result(
        "https://10.200.1.2/", {c: (Status.not_applicable if i == 0 else P) for i, c in enumerate(web)}
    )
    passing = [c for c in network if not c.startswith(("web_", "net_", "ssh_", "tls_"))][:5] or network[:5]
    results = [
        server("bst-db", "10.200.3.2", DB_FAILING, DB_NOT_APPLICABLE),
        server("bst-web", "10.200.1.2", WEB_FAILING, WEB_NOT_APPLICABLE),
        exposed_host("tcp://10.200.3.2", "10.200.3.2", {}),
        _service("tcp://10.200.3.2:22", "10.200.3.2", {"ssh_ciphers_macs_strong": F, "ssh_kex_algorithms_strong": P}),
        _service("tcp://10.200.3.2:2222", "10.200.3.2", {"ssh_ciphers_macs_strong": F, "ssh_kex_algorithms_strong": F}),
        *(
            _service(f"tcp://{address}", address.split(":")[0], dict.fromkeys(passing, P))
            for address in ("10.200.1.1", "10.200.1.2", "10.200.1.2:2222", "10.200.1.2:443", "10.200.3.1")
        ),
        website.model_copy(update={"kind": "website", "address": "https://10.200.1.2/", "facts": None}),
        agency_result(),
    ]
    return store_run(store, results, {AGENCY.id: AGENCY}, T0)
