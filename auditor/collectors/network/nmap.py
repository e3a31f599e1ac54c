"""The nmap agent: a bounded, non-intrusive port and service scan through python-nmap.

Only NSE scripts from a fixed allow-list run, and any script that nmap files under a refused
category (intrusive, vuln, brute, dos, exploit) is refused in code, whatever the caller asks.
The raw XML comes back with the parsed result, to be stored as evidence with its SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from pydantic import BaseModel, ConfigDict, Field

from auditor.errors import CollectorError, ConfigError
from auditor.foreign import foreign, joined, theirs
from auditor.said import Said

REFUSED_CATEGORIES = frozenset({"intrusive", "vuln", "brute", "dos", "exploit"})
# Scripts we run: each only reads what a service shows any client. No script arguments are accepted.
SAFE_SCRIPTS = frozenset(
    {
        "banner",
        "ftp-anon",
        "http-generator",
        "http-methods",
        "http-security-headers",
        "http-server-header",
        "http-title",
        "mysql-info",
        "ntp-info",
        "ssh-hostkey",
        "ssh2-enum-algos",
        "ssl-cert",
        "ssl-enum-ciphers",
    }
)
# nmap files ssl-enum-ciphers under "intrusive" only because it makes many ordinary handshakes;
# it sends no payload. This is the one reviewed exemption; nothing else bypasses the category rule.
CATEGORY_EXEMPT = {"ssl-enum-ciphers": "many ordinary TLS handshakes, no payload"}
DEFAULT_SCRIPTS = (
    "ssl-cert",
    "ssl-enum-ciphers",
    "ssh2-enum-algos",
    "http-security-headers",
    "http-methods",
    "http-server-header",
    "http-generator",
    "ftp-anon",
)
# Always scanned besides the top ports: what the exposure policy asks about.
POLICY_TCP_PORTS = (
    21,
    22,
    23,
    111,
    139,
    445,
    1433,
    2082,
    2083,
    2086,
    2087,
    2222,
    3306,
    3389,
    5432,
    5900,
    6379,
    9200,
    10000,
    27017,
)
POLICY_UDP_PORTS = (69, 161)
SCRIPT_DB = Path("/usr/share/nmap/scripts/script.db")
SERVICES_FILE = Path("/usr/share/nmap/nmap-services")


class ScriptPolicyError(ConfigError):
    """An NSE script or category outside the allow-list was asked for."""


class NmapMissingError(CollectorError):
    reason = "nmap_missing"


class ScanOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ports: Literal["top", "all"] = "top"
    top_ports: int = Field(default=1000, ge=1, le=65535)
    scripts: tuple[str, ...] = DEFAULT_SCRIPTS
    udp: bool = True  # the legacy UDP ports (69, 161); needs root, skipped otherwise
    host_timeout_s: int = Field(default=300, ge=10, le=7200)
    process_timeout_s: int = Field(default=900, ge=10, le=86400)


class NmapScript(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    output: str
    elems: dict[str, str] = Field(default_factory=dict)  # flattened structured output: "a/b/key" → value


class NmapPort(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: str
    port: int
    state: str
    reason: str = ""
    service: str = ""
    product: str = ""
    version: str = ""
    extrainfo: str = ""
    tunnel: str = ""  # "ssl" when nmap found TLS
    cpe: tuple[str, ...] = ()
    scripts: tuple[NmapScript, ...] = ()

    @property
    def label(self) -> str:
        return str(self.port) if self.protocol == "tcp" else f"{self.port}/{self.protocol}"

    def script(self, script_id: str) -> NmapScript | None:
        return next((s for s in self.scripts if s.id == script_id), None)


class NmapHost(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str
    state: str
    ports: tuple[NmapPort, ...] = ()


class NmapScan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str
    xml: bytes
    hosts: tuple[NmapHost, ...]
    duration_s: float
    privileged: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.xml).hexdigest()


def script_categories(path: Path = SCRIPT_DB) -> dict[str, set[str]]:
    """script name → categories, from nmap's script.db (empty when it cannot be read)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    found: dict[str, set[str]] = {}
    for match in re.finditer(r'filename\s*=\s*"([^"]+)\.nse"\s*,\s*categories\s*=\s*\{([^}]*)\}', text):
        found[match.group(1)] = set(re.findall(r'"([^"]+)"', match.group(2)))
    return found


def check_scripts(names: Iterable[str], categories: dict[str, set[str]] | None = None) -> tuple[str, ...]:
    """Return the scripts if every one is allowed; raise ScriptPolicyError naming every refusal."""
    cats = script_categories() if categories is None else categories
    problems: list[Said] = []
    checked: list[str] = []
    for raw in names:
        name = raw.strip()
        lowered = name.lower()
        if lowered in REFUSED_CATEGORIES or any(lowered.startswith(c + " ") for c in REFUSED_CATEGORIES):
            problems.append(foreign("net_nse_category_refused", name=name))
        elif not re.fullmatch(r"[a-z0-9][a-z0-9-]*", lowered):
            problems.append(foreign("net_nse_plain_names", name=name))
        elif lowered not in SAFE_SCRIPTS:
            problems.append(foreign("net_nse_not_allowed", name=name))
        elif (cats.get(lowered, set()) & REFUSED_CATEGORIES) and lowered not in CATEGORY_EXEMPT:
            refused = ", ".join(sorted(cats[lowered] & REFUSED_CATEGORIES))
            problems.append(foreign("net_nse_refused_categories", name=name, refused=refused))
        else:
            checked.append(lowered)
    if problems:
        raise ScriptPolicyError(foreign("net_nse_refused", problems=joined(problems)))
    return tuple(dict.fromkeys(checked))


def top_tcp_ports(count: int, path: Path = SERVICES_FILE) -> list[int]:
    """The `count` most frequent TCP ports from nmap-services (empty when it cannot be read)."""
    ranked: list[tuple[float, int]] = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and not line.startswith("#") and fields[1].endswith("/tcp"):
            try:
                ranked.append((float(fields[2]), int(fields[1].split("/")[0])))
            except ValueError:
                continue
    ranked.sort(key=lambda item: (-item[0], item[1]))
    return [port for _, port in ranked[:count]]


def port_spec(options: ScanOptions) -> str:
    """TCP ports to scan: the top ports plus the policy ports, or the full range."""
    if options.ports == "all":
        return "T:1-65535"
    return "T:" + ",".join(str(p) for p in sorted({*top_tcp_ports(options.top_ports), *POLICY_TCP_PORTS}))


def nmap_arguments(options: ScanOptions, privileged: bool) -> list[str]:
    scripts = check_scripts(options.scripts)
    args = ["-sS" if privileged else "-sT", "-sV", "--version-light", "-Pn", "-n", "--max-retries", "2"]
    args += ["--host-timeout", f"{options.host_timeout_s}s", "--script-timeout", "60s"]
    if scripts:
        args += ["--script", ",".join(scripts)]
    return args


# UDP runs apart and without -sV: version probes on silent (open|filtered) UDP ports cost ~40 s a host.
UDP_ARGUMENTS = ["-sU", "-Pn", "-n", "--max-retries", "1"]


def is_privileged() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _nmap(targets: Sequence[str], ports: str, args: list[str], timeout_s: int) -> tuple[str, bytes]:
    import nmap  # python-nmap; imported here so the policy functions work without it

    scanner = nmap.PortScanner()
    try:
        scanner.scan(" ".join(targets), ports, " ".join(args), timeout=timeout_s)
    except nmap.PortScannerTimeout:
        raise CollectorError(foreign("net_nmap_timeout", seconds=timeout_s), "timeout") from None
    except nmap.PortScannerError as exc:
        raise CollectorError(
            foreign("net_nmap_failed", error=theirs("nmap", str(exc).strip()[:300])), "scan_failed"
        ) from None
    raw = scanner.get_nmap_last_output()
    xml = raw if isinstance(raw, bytes) else str(raw).encode()
    return " ".join(["nmap", "-oX", "-", *targets, "-p", ports, *args]), xml


def run_scan(targets: Sequence[str], options: ScanOptions | None = None) -> NmapScan:
    """Scan the targets (addresses or networks); raise CollectorError when nmap cannot run.

    TCP (with -sV and the allowed scripts) is one nmap run; the policy UDP ports, when running as
    root, a second one. Both XML documents are kept, one after the other, as the evidence.
    """
    opts = options or ScanOptions()
    privileged = is_privileged()
    args = nmap_arguments(opts, privileged)  # refuses scripts before anything runs
    if shutil.which("nmap") is None:
        raise NmapMissingError(foreign("net_nmap_missing"))
    started = time.monotonic()
    command, xml = _nmap(targets, port_spec(opts), [*args], opts.process_timeout_s)
    hosts = {host.address: host for host in parse_xml(xml)}
    if opts.udp and privileged:
        udp_ports = "U:" + ",".join(str(p) for p in POLICY_UDP_PORTS)
        timeout_args = [*UDP_ARGUMENTS, "--host-timeout", f"{opts.host_timeout_s}s"]
        udp_command, udp_xml = _nmap(targets, udp_ports, timeout_args, opts.process_timeout_s)
        for host in parse_xml(udp_xml):
            known = hosts.get(host.address)
            merged = host if known is None else known.model_copy(update={"ports": (*known.ports, *host.ports)})
            hosts[host.address] = merged
        command += " ; " + udp_command
        xml += b"\n" + udp_xml
    return NmapScan(
        command=command,
        xml=xml,
        hosts=tuple(hosts.values()),
        duration_s=time.monotonic() - started,
        privileged=privileged,
    )


def _flatten(node: Element, prefix: str, into: dict[str, str]) -> None:
    counter = 0
    for child in node:
        key = child.get("key")
        if key is None:
            key = str(counter)
            counter += 1
        path = f"{prefix}/{key}" if prefix else key
        if child.tag == "elem":
            into[path] = (child.text or "").strip()
        elif child.tag == "table":
            _flatten(child, path, into)


def _port(node: Element) -> NmapPort:
    state = node.find("state")
    service = node.find("service")
    scripts = []
    for script in node.findall("script"):
        elems: dict[str, str] = {}
        _flatten(script, "", elems)
        scripts.append(NmapScript(id=script.get("id", ""), output=script.get("output", ""), elems=elems))
    return NmapPort(
        protocol=node.get("protocol", "tcp"),
        port=int(node.get("portid", "0")),
        state=state.get("state", "") if state is not None else "",
        reason=state.get("reason", "") if state is not None else "",
        service=service.get("name", "") if service is not None else "",
        product=service.get("product", "") if service is not None else "",
        version=service.get("version", "") if service is not None else "",
        extrainfo=service.get("extrainfo", "") if service is not None else "",
        tunnel=service.get("tunnel", "") if service is not None else "",
        cpe=tuple((c.text or "") for c in service.findall("cpe")) if service is not None else (),
        scripts=tuple(scripts),
    )


def parse_xml(xml: bytes) -> tuple[NmapHost, ...]:
    """Hosts and ports from nmap's XML output (through defusedxml: the output echoes targets)."""
    try:
        root = SafeET.fromstring(xml)
    except Exception as exc:  # defusedxml raises several types; all mean the same here
        raise CollectorError(foreign("net_nmap_bad_xml", error=theirs("python", str(exc))), "scan_failed") from None
    hosts = []
    for node in root.findall("host"):
        address = next((a.get("addr", "") for a in node.findall("address") if a.get("addrtype") != "mac"), "")
        status = node.find("status")
        ports_node = node.find("ports")
        ports = tuple(_port(p) for p in ports_node.findall("port")) if ports_node is not None else ()
        hosts.append(
            NmapHost(address=address, state=status.get("state", "") if status is not None else "", ports=ports)
        )
    return tuple(hosts)
