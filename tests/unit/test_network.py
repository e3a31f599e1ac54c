"""Network agents without a network: script policy, nmap XML, facts and their verdicts."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest

from auditor.collectors.network import nmap
from auditor.collectors.network.facts import address_facts, exposure_fact, software, ssh_facts
from auditor.collectors.network.inside import InsideView
from auditor.collectors.network.nmap import ScanOptions, ScriptPolicyError, check_scripts, nmap_arguments, parse_xml
from auditor.collectors.network.sshalgos import SshAlgorithms, parse_kexinit
from auditor.collectors.network.tls import CertificateInfo, hostname_matches
from auditor.content.loader import Content, load_content
from auditor.evaluation.evaluate import evaluate
from auditor.evaluation.observations import HostFacts, Observation
from auditor.evaluation.parsers import listening_sockets
from auditor.vocabulary import Status

XML = b"""<?xml version="1.0"?>
<nmaprun><host><status state="up"/><address addr="10.0.0.5" addrtype="ipv4"/><ports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/>
 <service name="ssh" product="OpenSSH" version="5.3"/></port>
<port protocol="tcp" portid="443"><state state="open" reason="syn-ack"/>
 <service name="http" product="nginx" version="1.22.1" tunnel="ssl"/>
 <script id="ssl-enum-ciphers" output="...">
  <table key="TLSv1.0"><table key="ciphers"><table>
   <elem key="name">TLS_RSA_WITH_3DES_EDE_CBC_SHA</elem><elem key="strength">C</elem></table></table></table>
 </script></port>
<port protocol="tcp" portid="3306"><state state="open" reason="syn-ack"/>
 <service name="mysql" product="MySQL" version="5.5.5-10.11.6-MariaDB-0+deb12u1"/></port>
<port protocol="tcp" portid="8080"><state state="filtered" reason="no-response"/></port>
<port protocol="udp" portid="161"><state state="open" reason="udp-response"/><service name="snmp"/></port>
</ports></host></nmaprun>"""


@cache
def content() -> Content:
    return load_content()


def judge(check_id: str, observation: Observation, **inputs: object) -> Status:
    values = {**content().profile.values(), **inputs}
    return evaluate(content().checks[check_id], observation, HostFacts(), values).status  # type: ignore[arg-type]


@pytest.mark.parametrize("refused", ["vuln", "intrusive", "brute", "dos", "exploit", "VULN"])
def test_refused_categories(refused: str) -> None:
    with pytest.raises(ScriptPolicyError, match="category refused"):
        check_scripts([refused])


@pytest.mark.parametrize(
    "name", ["default", "safe", "ssl-*", "not intrusive", "/tmp/evil.nse", "http-sql-injection", "smb-vuln-ms17-010"]
)
def test_only_allow_listed_plain_names(name: str) -> None:
    with pytest.raises(ScriptPolicyError):
        check_scripts([name])


def test_script_filed_under_a_refused_category_is_refused() -> None:
    categories = {"ssh2-enum-algos": {"discovery", "intrusive"}}
    with pytest.raises(ScriptPolicyError, match="refused categories"):
        check_scripts(["ssh2-enum-algos"], categories)


def test_default_scripts_pass_against_nmaps_own_script_db() -> None:
    assert check_scripts(nmap.DEFAULT_SCRIPTS) == nmap.DEFAULT_SCRIPTS
    # ssl-enum-ciphers is filed "intrusive" by nmap: the one reviewed exemption
    assert check_scripts(["ssl-enum-ciphers"], {"ssl-enum-ciphers": {"discovery", "intrusive"}})


def test_refused_before_nmap_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[object] = []
    monkeypatch.setattr(nmap, "_nmap", lambda *args: ran.append(args))
    with pytest.raises(ScriptPolicyError):
        nmap.run_scan(["127.0.0.1"], ScanOptions(scripts=("ssl-cert", "vuln")))
    assert ran == []


def test_missing_nmap_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nmap.shutil, "which", lambda _: None)
    with pytest.raises(nmap.NmapMissingError, match="apt-get install nmap"):
        nmap.run_scan(["127.0.0.1"])


def test_arguments_are_bounded_and_unprivileged_falls_back_to_connect_scan() -> None:
    args = nmap_arguments(ScanOptions(host_timeout_s=120), privileged=False)
    assert args[0] == "-sT" and "--host-timeout" in args and "120s" in args
    assert nmap_arguments(ScanOptions(), privileged=True)[0] == "-sS"
    assert nmap.port_spec(ScanOptions(ports="all")) == "T:1-65535"
    assert "3306" in nmap.port_spec(ScanOptions(top_ports=10)).split(",")


def test_xml_to_exposure_verdicts() -> None:
    (host,) = parse_xml(XML)
    facts = {o.probe_id: o for o in address_facts(host, "nmap test")}
    assert facts["open_ports"].stdout_text.split() == ["22", "443", "3306", "161/udp"]
    assert judge("net_db_ports_not_exposed", facts["open_ports"]) is Status.failed
    assert judge("net_legacy_services_not_exposed", facts["open_ports"]) is Status.failed
    assert judge("net_unexpected_services_absent", facts["open_ports"], host_allowed_ports="22,443") is Status.failed
    assert judge("net_remote_admin_not_exposed", facts["admin_ports"], allowed_ports_admin="2222") is Status.failed
    assert judge("net_remote_admin_not_exposed", facts["admin_ports"], allowed_ports_admin="22") is Status.passed
    assert judge("net_eol_server_software_absent", facts["server_software"]) is Status.failed  # OpenSSH 5.3
    refs = content().requirements_of("net_db_ports_not_exposed")
    assert any(r.framework == "TCVN 11930:2017" and r.clause == "7.2.1.2" for r in refs)


def test_mariadb_banner_is_not_mistaken_for_mysql_5() -> None:
    (host,) = parse_xml(XML)
    mysql = next(p for p in host.ports if p.port == 3306)
    assert software(mysql) == "MariaDB 10.11.6"


def test_inside_outside_join() -> None:
    (host,) = parse_xml(XML)
    ss = (
        "tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\ntcp LISTEN 0 80 [::]:3306 [::]:*\n"
        "tcp LISTEN 0 128 0.0.0.0:8080 0.0.0.0:*\ntcp LISTEN 0 128 *:9000 *:*\n"
        "tcp LISTEN 0 100 127.0.0.1:25 0.0.0.0:*\n"
    )
    inside = InsideView("10.0.0.5", tuple(listening_sockets(ss)), "source.listening_sockets")
    assert inside.ports == {"22", "3306", "8080", "9000"}  # loopback-only 25 is not exposure
    observation = exposure_fact(inside, host, {"22", "443", "3306", "8080"}, {"22", "443"})
    text = observation.stdout_text
    assert "exposed beyond role: 3306" in text
    assert "blocked (firewall): 8080" in text and "not scanned: 9000" in text
    assert "source.listening_sockets" in observation.command  # the evidence names the record it joined
    assert judge("net_exposure_matches_inside_view", observation) is Status.failed


def _name_list(names: str) -> bytes:
    return struct.pack(">I", len(names)) + names.encode()


def test_kexinit_parsing_and_ssh_verdicts() -> None:
    lists = [
        "diffie-hellman-group1-sha1,curve25519-sha256",
        "ssh-ed25519",
        "aes128-cbc",
        "aes128-ctr",
        "hmac-sha1",
        "hmac-sha2-256",
        "none",
        "none",
        "",
        "",
    ]
    payload = bytes([20]) + bytes(16) + b"".join(_name_list(x) for x in lists) + b"\0" + bytes(4)
    parsed = parse_kexinit(payload)
    assert parsed["kex"] == ("diffie-hellman-group1-sha1", "curve25519-sha256")
    algos = SshAlgorithms(
        banner="SSH-2.0-x",
        kex=parsed["kex"],
        host_key=parsed["host_key"],
        ciphers=("aes128-cbc", "aes128-ctr"),
        macs=("hmac-sha1", "hmac-sha2-256"),
    )
    facts = {o.probe_id: o for o in ssh_facts(algos, None)}
    assert judge("ssh_kex_algorithms_strong", facts["ssh_kex"]) is Status.failed
    assert judge("ssh_ciphers_macs_strong", facts["ssh_ciphers_macs"]) is Status.failed
    assert "nmap gave no result" in facts["ssh_kex"].command  # the evidence says which source decided


def test_hostname_matching() -> None:
    now = datetime.now(UTC)
    cert = CertificateInfo(
        subject="CN=x",
        issuer="CN=ca",
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=90),
        san_dns=("*.example.vn", "example.vn"),
        san_ip=("10.0.0.5",),
        key_type="RSA",
        key_bits=2048,
        strength_bits=2048,
        chain_verified=True,
        chain_detail="ok",
    )
    assert hostname_matches("www.example.vn", cert) and hostname_matches("example.vn", cert)
    assert hostname_matches("10.0.0.5", cert) and not hostname_matches("a.b.example.vn", cert)
    assert not hostname_matches("10.0.0.6", cert)
