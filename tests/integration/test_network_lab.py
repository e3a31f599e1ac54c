"""Network and web agents against the lab's services: weak ones found with clause and evidence,
sound ones pass. labh1 hardened (nginx + lab CA, SSH on 2222), labh2 weak (nginx TLS 1.0/1.1,
MariaDB on all interfaces, anonymous FTP), labh3 mixed (a second sshd with weak algorithms)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from auditor.content.loader import load_content
from auditor.inventory import Inventory
from auditor.service.audit import AuditOptions, AuditScope, AuditService
from auditor.service.events import AuditEvent
from auditor.store import FindingRow, Store, open_store
from auditor.vocabulary import Only, Status
from tests.integration.conftest import lab_inventory, run_cli

pytestmark = pytest.mark.lab


@dataclass(frozen=True)
class Scanned:
    store: Store
    run_id: str
    wall_s: float


@pytest.fixture(scope="module")
def scanned(lab, tmp_path_factory: pytest.TempPathFactory) -> Scanned:  # type: ignore[no-untyped-def]
    """The network agents through the audit service (`--only network` and web), into a store."""
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
    tmp = tmp_path_factory.mktemp("network")
    store = open_store(f"sqlite:///{tmp / 'network.db'}")
    ca = lab.hosts[0].rootdir / "etc/auditor-lab-ca/ca.pem"
    events: list[AuditEvent] = []
    started = time.monotonic()
    run_id = AuditService(store, load_content()).start_audit(
        AuditScope(inventory=inventory, inventory_sha256="0" * 64, only=Only.network),
        AuditOptions(known_hosts=tmp / "known_hosts", trust_ca=ca),
        on_event=events.append,
    )
    web = AuditService(store, load_content()).start_audit(
        AuditScope(inventory=inventory, inventory_sha256="0" * 64, only=Only.web),
        AuditOptions(known_hosts=tmp / "known_hosts", trust_ca=ca, append_to=run_id),
    )
    assert web == run_id
    wall = time.monotonic() - started
    print(
        f"network and web agents: {wall:.1f} s for {sum(e.kind == 'network_target_finished' for e in events)} targets"
    )
    return Scanned(store, run_id, wall)


def finding(scanned: Scanned, target: str, check_id: str) -> FindingRow:
    rows = scanned.store.list_findings(scanned.run_id, host_name=target, check_id=check_id)
    assert rows, f"{target}: no finding for {check_id}"
    return rows[0]


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
    found = finding(scanned, target, check_id)
    assert found.status is Status.failed, found
    refs = load_content().requirements_of(check_id)
    assert refs and found.requirements == refs
    if clause is not None:
        assert any(ref.framework == "TCVN 11930:2017" and ref.clause == clause for ref in refs)
    evidence = scanned.store.get_evidence(found.id)
    assert evidence.host_name == target and evidence.command and evidence.verified


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
    for check_id in check_ids:
        found = finding(scanned, target, check_id)
        assert found.status is Status.passed, found


def test_tls_finding_says_which_source_decided(scanned) -> None:  # type: ignore[no-untyped-def]
    found = finding(scanned, "tcp://10.200.2.2:443", "tls_protocols_modern")
    assert "TLSv1.0 offered [decided by python handshake" in found.observed


def test_raw_nmap_xml_is_evidence(scanned) -> None:  # type: ignore[no-untyped-def]
    evidence = scanned.store.export_run(scanned.run_id)["evidence"]
    (xml,) = [e for e in evidence if e["host_name"] == "tcp://10.200.2.2" and e["probe_id"] == "nmap.xml"]
    assert xml["stdout"]["text"].startswith("<?xml") and scanned.store.verify_evidence(xml["id"])
    assert scanned.wall_s < 300
    run = scanned.store.get_run(scanned.run_id)
    assert run.targets.servers == 0 and run.targets.network_ok > 0  # no server was audited over SSH


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
