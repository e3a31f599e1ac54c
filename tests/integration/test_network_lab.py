"""Network and web agents against the lab's services: weak ones found with clause and evidence,
sound ones pass. labh1 hardened (nginx + lab CA, SSH on 2222), labh2 weak (nginx TLS 1.0/1.1,
MariaDB on all interfaces, anonymous FTP), labh3 mixed (a second sshd with weak algorithms)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from auditor.content.loader import load_content
from auditor.evaluation.findings import Finding, HostResult
from auditor.inventory import Inventory
from auditor.service.network import NetworkOptions, run_network
from auditor.vocabulary import Status
from tests.integration.conftest import lab_inventory, run_cli

pytestmark = pytest.mark.lab


class ListSink:
    def __init__(self) -> None:
        self.results: dict[str, HostResult] = {}

    def save_host_result(self, run_id: str, agency: object, result: HostResult) -> None:
        self.results[result.host_name] = result


@pytest.fixture(scope="module")
def scanned(lab) -> tuple[ListSink, dict[str, float]]:  # type: ignore[no-untyped-def]
    hosts = [
        {
            "name": h.name,
            "address": h.address,
            "use_agent": True,
            "roles": ["web", "db"] if h.name == "labh2" else ["web"],
        }
        for h in lab.hosts
        if h.name in {"labh1", "labh2", "labh3"}
    ]
    inventory = Inventory.model_validate(
        {
            "agencies": [
                {
                    "id": "lab",
                    "name": {"vi": "Lab", "en": "Lab"},
                    "hosts": hosts,
                    "websites": ["https://10.200.1.2/", "https://10.200.2.2/"],
                    "inputs": {"allowed_ports_admin": "22,2222"},
                }
            ]
        }
    )
    content = load_content()
    sink = ListSink()
    ca = lab.hosts[0].rootdir / "etc/auditor-lab-ca/ca.pem"
    started = time.monotonic()
    run = run_network(
        "test",
        inventory.agencies,
        list(content.checks.values()),
        content.profile,
        content.requirements,
        sink,
        NetworkOptions(extra_ca=ca),
    )
    run.wall_s["measured"] = time.monotonic() - started
    print("network scan wall times (s):", {k: round(v, 1) for k, v in run.wall_s.items()})
    return sink, run.wall_s


def finding(sink: ListSink, target: str, check_id: str) -> Finding:
    result = sink.results[target]
    found = next((f for f in result.findings if f.check_id == check_id), None)
    assert found is not None, f"{target}: no finding for {check_id}: {[f.check_id for f in result.findings]}"
    return found


WEAK = [
    ("tcp://10.200.2.2", "net_db_ports_not_exposed", "7.2.1.2"),
    ("tcp://10.200.2.2", "net_legacy_services_not_exposed", "7.2.1.2"),
    ("tcp://10.200.2.2:21", "ftp_anonymous_disabled", "7.2.2.4"),
    ("tcp://10.200.2.2:443", "tls_protocols_modern", "7.2.4.2"),
    ("tcp://10.200.2.2:443", "tls_weak_ciphers_absent", "7.2.4.2"),
    ("tcp://10.200.2.2:443", "tls_certificate_valid", None),
    ("tcp://10.200.2.2:443", "tls_certificate_hostname_match", None),
    ("tcp://10.200.2.2:443", "tls_certificate_expiry_window", None),
    ("tcp://10.200.2.2:22", "ssh_kex_algorithms_strong", "7.2.2.2"),
    ("tcp://10.200.3.2:2222", "ssh_kex_algorithms_strong", "7.2.2.2"),
    ("tcp://10.200.3.2:2222", "ssh_ciphers_macs_strong", "7.2.2.2"),
    ("https://10.200.2.2/", "web_https_redirect", None),
    ("https://10.200.2.2/", "web_hsts_enabled", None),
    ("https://10.200.2.2/", "web_csp_present", None),
    ("https://10.200.2.2/", "web_frame_options_present", None),
    ("https://10.200.2.2/", "web_content_type_options_present", None),
    ("https://10.200.2.2/", "web_referrer_policy_present", None),
    ("https://10.200.2.2/", "web_cookies_secure_flags", None),
    ("https://10.200.2.2/", "web_version_disclosure_absent", None),
    ("https://10.200.2.2/", "web_directory_listing_disabled", None),
    ("https://10.200.2.2/", "web_admin_interfaces_not_public", "7.2.3.2"),
    ("https://10.200.2.2/", "web_cms_version_current", None),
]


@pytest.mark.parametrize(("target", "check_id", "clause"), WEAK)
def test_weak_services_are_found_with_clause_and_evidence(
    scanned, target: str, check_id: str, clause: str | None
) -> None:  # type: ignore[no-untyped-def]
    sink, _ = scanned
    found = finding(sink, target, check_id)
    assert found.status is Status.failed, found
    refs = load_content().requirements_of(check_id)
    assert refs and found.requirements == refs
    if clause is not None:
        assert any(ref.framework == "TCVN 11930:2017" and ref.clause == clause for ref in refs)
    evidence = {o.probe_id: o for o in sink.results[target].observations}
    assert found.evidence_probe_id in evidence and evidence[found.evidence_probe_id].command


SOUND = [
    (
        "tcp://10.200.1.2",
        [
            "net_db_ports_not_exposed",
            "net_legacy_services_not_exposed",
            "net_remote_admin_not_exposed",
            "net_unexpected_services_absent",
            "net_eol_server_software_absent",
        ],
    ),
    (
        "tcp://10.200.1.2:443",
        [
            "tls_protocols_modern",
            "tls_weak_ciphers_absent",
            "tls_certificate_valid",
            "tls_certificate_expiry_window",
            "tls_certificate_hostname_match",
            "tls_certificate_key_strong",
        ],
    ),
    ("tcp://10.200.1.2:2222", ["ssh_kex_algorithms_strong", "ssh_ciphers_macs_strong"]),
    (
        "https://10.200.1.2/",
        [
            "web_https_redirect",
            "web_hsts_enabled",
            "web_csp_present",
            "web_frame_options_present",
            "web_content_type_options_present",
            "web_referrer_policy_present",
            "web_cookies_secure_flags",
            "web_version_disclosure_absent",
            "web_directory_listing_disabled",
            "web_trace_disabled",
            "web_admin_interfaces_not_public",
        ],
    ),
]


@pytest.mark.parametrize(("target", "check_ids"), SOUND)
def test_sound_services_pass(scanned, target: str, check_ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    sink, _ = scanned
    for check_id in check_ids:
        found = finding(sink, target, check_id)
        assert found.status is Status.passed, found


def test_tls_finding_says_which_source_decided(scanned) -> None:  # type: ignore[no-untyped-def]
    sink, _ = scanned
    found = finding(sink, "tcp://10.200.2.2:443", "tls_protocols_modern")
    assert "TLSv1.0 offered [decided by python handshake" in found.observed


def test_raw_nmap_xml_is_evidence(scanned) -> None:  # type: ignore[no-untyped-def]
    sink, walls = scanned
    xml = next(o for o in sink.results["tcp://10.200.2.2"].observations if o.probe_id == "nmap.xml")
    assert xml.stdout.startswith(b"<?xml") and len(xml.sha256) == 64
    assert walls["total"] < 300


def test_cli_audit_runs_ssh_and_network_together(lab, enrolled, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    _, known_hosts = enrolled
    inventory = lab_inventory(
        lab,
        workdir / "net-inventory.yml",
        roles={"labh2": ["web", "db"]},
        agency_inputs={"allowed_ports_admin": "22,2222"},
    )
    db = workdir / "network.db"
    call = run_cli(
        "audit",
        "--inventory",
        str(inventory),
        "--known-hosts",
        str(known_hosts),
        "--db",
        f"sqlite:///{db}",
        "--host",
        "labh2",
        "--check",
        "services_listening_ports_allowed",
        "--check",
        "net_exposure_matches_inside_view",
        "--check",
        "net_db_ports_not_exposed",
    )
    assert call.returncode == 1, call.stderr
    assert "tcp://10.200.2.2" in call.stdout
    only_web = run_cli(
        "audit",
        "--inventory",
        str(inventory),
        "--known-hosts",
        str(known_hosts),
        "--db",
        f"sqlite:///{db}",
        "--only",
        "web",
        "--check",
        "web_trace_disabled",
    )
    assert only_web.returncode == 0, only_web.stdout + only_web.stderr  # no website declared: nothing judged
