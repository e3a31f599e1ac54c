"""Facts for network checks: what the agents saw, as named text lines a check's `expect` judges.

Each fact is an Observation (probe_id = fact name) whose command names the source that decided
it, so a finding's evidence says whether nmap, a direct handshake or the web agent saw it. The
policy (which ports, protocols or algorithms are bad) stays in the checks; here we only describe.
An Observation with exit code 100 says the fact does not apply to this target, and why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from auditor.collectors.network.inside import InsideView
from auditor.collectors.network.nmap import NmapHost, NmapPort
from auditor.collectors.network.sshalgos import SshAlgorithms
from auditor.collectors.network.tls import TlsReport, days_left, hostname_matches
from auditor.content.checks import NOT_APPLICABLE_EXIT
from auditor.evaluation.observations import Observation, ProbeOutcome

# nmap service names (and well-known ports) of remote administration front ends
ADMIN_SERVICES = frozenset({"ssh", "ms-wbt-server", "vnc", "telnet", "webmin", "rdp", "x11"})
ADMIN_PORTS = frozenset({22, 3389, 5900, 10000, 2082, 2083, 2086, 2087})
TLS_SERVICES = frozenset({"https", "ssl", "imaps", "pop3s", "smtps", "ldaps", "ftps"})
TLS_PORTS = frozenset({443, 465, 636, 993, 995, 8443})
_MARIADB = re.compile(r"^5\.5\.5-(\d+\.\d+\.\d+)-MariaDB", re.IGNORECASE)


def fact(name: str, source: str, lines: Iterable[str], not_applicable: str | None = None) -> Observation:
    now = datetime.now(UTC)
    if not_applicable is not None:
        return Observation(
            probe_id=name,
            command=source,
            outcome=ProbeOutcome.completed,
            exit_code=NOT_APPLICABLE_EXIT,
            stdout=not_applicable.encode(),
            collected_at=now,
        )
    text = "\n".join(lines)
    return Observation(
        probe_id=name,
        command=source,
        outcome=ProbeOutcome.completed,
        exit_code=0,
        stdout=(text + "\n" if text else "").encode(),
        collected_at=now,
    )


def open_ports(host: NmapHost) -> list[NmapPort]:
    return [port for port in host.ports if port.state == "open"]


def is_tls(port: NmapPort) -> bool:
    return port.protocol == "tcp" and (
        port.tunnel == "ssl"
        or port.service in TLS_SERVICES
        or port.script("ssl-enum-ciphers") is not None
        or port.script("ssl-cert") is not None
        or port.port in TLS_PORTS
    )


def software(port: NmapPort) -> str:
    """Product and version from -sV, with MariaDB's "5.5.5-" MySQL-protocol prefix undone."""
    product, version = port.product, port.version
    match = _MARIADB.match(version)
    if match:
        product, version = "MariaDB", match.group(1)
    return " ".join(part for part in (product, version) if part)


def address_facts(host: NmapHost, command: str) -> list[Observation]:
    source = f"nmap port scan ({command})"
    ports = open_ports(host)
    admin = [p.label for p in ports if p.service in ADMIN_SERVICES or (p.protocol == "tcp" and p.port in ADMIN_PORTS)]
    banners = [f"{p.label} {software(p)}" for p in ports if software(p)]
    table = [f"{p.label} {p.state} {p.service} {software(p)} {p.extrainfo}".strip() for p in host.ports]
    return [
        fact("open_ports", source, [p.label for p in ports]),
        fact("admin_ports", source + "; admin services by nmap service name or well-known port", admin),
        fact("server_software", "nmap service and version detection (-sV)", banners),
        fact("nmap.ports", source, table),
    ]


def ftp_facts(port: NmapPort) -> list[Observation]:
    if port.service != "ftp":
        return []
    script = port.script("ftp-anon")
    if script is not None and "allowed" in script.output.lower():
        line = f"anonymous login allowed (nmap ftp-anon: {script.output.strip().splitlines()[0]})"
    else:
        line = "anonymous login refused (nmap ftp-anon found no anonymous access)"
    return [fact("ftp_anonymous", "nmap NSE ftp-anon", [line])]


def _nmap_tls(port: NmapPort) -> tuple[set[str], list[str]]:
    """Protocols and cipher lines from ssl-enum-ciphers' structured output."""
    script = port.script("ssl-enum-ciphers")
    protocols: set[str] = set()
    ciphers: list[str] = []
    if script is None:
        return protocols, ciphers
    for key, value in script.elems.items():
        parts = key.split("/")
        if len(parts) >= 4 and parts[1] == "ciphers" and parts[3] == "name":
            grade = script.elems.get("/".join([*parts[:3], "strength"]), "?")
            ciphers.append(f"cipher {parts[0]} {value} grade {grade} [nmap]")
        if parts[0].startswith(("TLSv", "SSLv")):
            protocols.add(parts[0])
    return protocols, ciphers


def tls_facts(report: TlsReport, port: NmapPort | None) -> list[Observation]:
    nmap_protocols, nmap_ciphers = _nmap_tls(port) if port is not None else (set(), [])
    had_nmap = port is not None and port.script("ssl-enum-ciphers") is not None
    lines = []
    for result in report.protocols:
        name = result.protocol
        seen_by_nmap = name in nmap_protocols
        if result.offered is None:
            verdict = "offered" if seen_by_nmap else "not offered"
            lines.append(f"{name} {verdict} [decided by nmap; python client cannot test it]")
            continue
        verdict = "offered" if result.offered else "refused"
        if not had_nmap:
            agree = "nmap gave no result"
        elif seen_by_nmap == result.offered:
            agree = "nmap agrees"
        else:
            agree = f"nmap {'listed' if seen_by_nmap else 'did not list'} it"
        lines.append(f"{name} {verdict} [decided by python handshake; {agree}]")
    for extra in sorted(nmap_protocols - set(r.protocol for r in report.protocols)):
        lines.append(f"{extra} offered [decided by nmap ssl-enum-ciphers]")
    source = "python ssl handshake per protocol version, cross-checked with nmap ssl-enum-ciphers"
    weak_lines = [
        f"cipher {w.protocol} family {w.cipher} accepted [python handshake]" for w in report.weak_ciphers if w.offered
    ]
    tested = ", ".join(w.protocol for w in report.weak_ciphers if w.offered is not None)
    cipher_lines = [*nmap_ciphers, *weak_lines, f"python tried weak families: {tested or 'none testable'}"]
    observations = [
        fact("tls_protocols", source, lines),
        fact(
            "tls_ciphers",
            "nmap ssl-enum-ciphers (names, grades) and python handshakes offering weak families",
            cipher_lines,
        ),
    ]
    cert = report.certificate
    if cert is None:
        return observations
    cert_source = f"python ssl handshake + cryptography; certificate {cert.subject} issued by {cert.issuer}"
    now = datetime.now(UTC)
    current = cert.not_before <= now <= cert.not_after
    dates = (
        f"dates: {'current' if current else 'NOT current'} (not before {cert.not_before:%Y-%m-%d}, "
        f"not after {cert.not_after:%Y-%m-%d})"
    )
    chain = f"chain: {'verified' if cert.chain_verified else 'failed'}: {cert.chain_detail}"
    names = ", ".join([*(f"DNS:{d}" for d in cert.san_dns), *(f"IP:{i}" for i in cert.san_ip)]) or "no SAN"
    matched = hostname_matches(report.server_name, cert)
    key = f"{cert.key_type} {cert.key_bits} bits"
    observations += [
        fact("tls_certificate_status", cert_source, [chain, dates]),
        fact(
            "tls_certificate_days_left",
            f"{cert_source}; not after {cert.not_after:%Y-%m-%d}",
            [str(days_left(cert, now))],
        ),
        fact(
            "tls_certificate_hostname",
            cert_source,
            [f"{'match' if matched else 'mismatch'}: {report.server_name} against {names}"],
        ),
        fact(
            "tls_certificate_key_strength",
            f"{cert_source}; key {key} (RSA-equivalent strength judged)",
            [str(cert.strength_bits)],
        ),
    ]
    return observations


def _nmap_ssh(port: NmapPort | None) -> dict[str, set[str]]:
    script = port.script("ssh2-enum-algos") if port is not None else None
    found: dict[str, set[str]] = {}
    if script is None:
        return found
    for key, value in script.elems.items():
        found.setdefault(key.split("/")[0], set()).add(value)
    return found


def ssh_facts(algos: SshAlgorithms, port: NmapPort | None) -> list[Observation]:
    nmap = _nmap_ssh(port)

    def tag(kind: str, names: Iterable[str]) -> str:
        if not nmap:
            return "direct KEXINIT; nmap gave no result"
        return "direct KEXINIT; nmap agrees" if set(names) == nmap.get(kind, set()) else "direct KEXINIT; nmap differs"

    source = f"direct read of the server's KEXINIT ({algos.banner}), cross-checked with nmap ssh2-enum-algos"
    kex_note = tag("kex_algorithms", algos.kex)
    cipher_note = tag("encryption_algorithms", algos.ciphers)
    mac_note = tag("mac_algorithms", algos.macs)
    return [
        fact("ssh_kex", f"{source} [{kex_note}]", [f"kex {name}" for name in algos.kex]),
        fact(
            "ssh_ciphers_macs",
            f"{source} [ciphers: {cipher_note}; macs: {mac_note}]",
            [*(f"cipher {name}" for name in algos.ciphers), *(f"mac {name}" for name in algos.macs)],
        ),
    ]


def exposure_fact(inside: InsideView, host: NmapHost, scanned: set[str], allowed: set[str]) -> Observation:
    outside = {p.label for p in open_ports(host)}
    listening = inside.ports
    lines = []
    for label in sorted(listening | outside, key=lambda x: (len(x), x)):
        if label in listening and label in outside:
            kind = "reachable, allowed for the host's roles" if label in allowed else "exposed beyond role"
            lines.append(f"{kind}: {label} listens inside and answers the scanner")
        elif label in listening:
            why = "blocked (firewall)" if label in scanned else "not scanned"
            lines.append(f"{why}: {label} listens inside, not reachable from the scanner")
        else:
            lines.append(f"reachable, not listed inside: {label} (forwarded or NAT?)")
    return fact("inside_outside", f"SSH audit {inside.evidence} joined with {len(scanned)} scanned ports", lines)
