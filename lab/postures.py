"""Security postures of the lab hosts: what runs and how each host is configured.

The configuration itself is real shell in ``lab/guest/<posture>.sh``, run once inside the host
after ``lab/guest/common.sh``. ``lab/POSTURES.md`` lists what each posture should pass or fail.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.hosts import HostPaths

SSHD_SYSLOG = ["/usr/sbin/sshd", "-D"]  # logs go to rsyslog -> /var/log/auth.log
SSHD_STDERR = ["/usr/sbin/sshd", "-D", "-e"]  # no syslog daemon: logs go to init.log
RSYSLOGD = ["/usr/sbin/rsyslogd", "-n", "-iNONE"]
CRON = ["/usr/sbin/cron", "-f"]
CHRONYD = ["/usr/sbin/chronyd", "-n", "-x"]  # -x: never steps or slews the real clock
INETD = ["/usr/sbin/inetd", "-i"]
# clamd's socket folder lives on the tmpfs /run, made at every start.
CLAMD = ["/bin/sh", "-c", "install -d -o clamav -g clamav /run/clamav && exec /usr/sbin/clamd --foreground"]
NETSVC = ["/bin/sh", "/opt/auditor-lab/services-run.sh"]  # lab network services (lab/guest/services.sh)


@dataclass(frozen=True)
class Posture:
    name: str
    services: list[list[str]]  # besides rsyslogd, which ``syslog_on`` decides
    nft: bool
    net_sysctls: dict[str, str] = field(default_factory=dict)
    ssh_port: int = 22  # must match "Port" in lab/guest/<name>.sh
    # Releases on which the host runs rsyslog. Debian 13 installs none by default (the journal is
    # the system log): a trixie posture that wants one installs it (lab/guest/common.sh).
    syslog_on: frozenset[str] = frozenset()
    tmp_mounts: bool = False  # /tmp, /var/tmp as tmpfs and /dev/shm, nodev,nosuid,noexec (lab/guest/init.py)

    def runs_syslog(self, release: str) -> bool:
        return release in self.syslog_on

    def release_services(self, release: str) -> list[list[str]]:
        return [RSYSLOGD, *self.services] if self.runs_syslog(release) else list(self.services)

    def sshd(self, release: str) -> list[str]:
        return SSHD_SYSLOG if self.runs_syslog(release) else SSHD_STDERR


POSTURES: dict[str, Posture] = {
    "hardened": Posture(
        name="hardened",
        services=[CRON, CHRONYD, CLAMD, NETSVC],
        syslog_on=frozenset({"bookworm", "trixie"}),  # forwarding to the central server needs it
        tmp_mounts=True,
        nft=True,
        ssh_port=2222,  # level 3: a non-default admin port
        net_sysctls={
            "net.ipv4.ip_forward": "0",
            "net.ipv6.conf.all.forwarding": "0",
            "net.ipv6.conf.all.accept_redirects": "0",
            "net.ipv6.conf.default.accept_redirects": "0",
            "net.ipv6.conf.all.accept_source_route": "0",
            "net.ipv6.conf.default.accept_source_route": "0",
            "net.ipv4.conf.default.accept_source_route": "0",
            "net.ipv4.conf.default.rp_filter": "1",
            "net.ipv4.conf.default.log_martians": "1",
            "net.ipv4.conf.all.send_redirects": "0",
            "net.ipv4.conf.default.send_redirects": "0",
            "net.ipv4.conf.all.accept_redirects": "0",
            "net.ipv4.conf.default.accept_redirects": "0",
            "net.ipv4.conf.all.accept_source_route": "0",
            "net.ipv4.conf.all.rp_filter": "1",
            "net.ipv4.conf.all.log_martians": "1",
            "net.ipv4.icmp_echo_ignore_broadcasts": "1",
            "net.ipv4.tcp_syncookies": "1",
        },
    ),
    "weak": Posture(
        name="weak",
        services=[INETD, NETSVC],
        nft=False,
        net_sysctls={
            "net.ipv4.ip_forward": "1",
            "net.ipv4.conf.all.accept_source_route": "1",
            "net.ipv4.conf.all.rp_filter": "0",
            "net.ipv4.conf.default.rp_filter": "0",
            "net.ipv4.conf.all.log_martians": "0",
            "net.ipv4.conf.all.accept_redirects": "1",
            "net.ipv4.conf.all.send_redirects": "1",
            "net.ipv4.tcp_syncookies": "0",
        },
    ),
    "mixed": Posture(
        name="mixed",
        services=[CRON, NETSVC],
        syslog_on=frozenset({"bookworm"}),  # trixie: a default installation, journal only
        nft=True,
        net_sysctls={"net.ipv4.ip_forward": "0"},
    ),
}
ORDER = ["hardened", "weak", "mixed"]

# What the lab cannot run, so the hardened hosts of every release fail it; the only failures a
# hardened host may have (tests/integration/test_postures.py; lab/POSTURES.md says the same).
LAB_CANNOT_RUN: dict[str, str] = {
    "auditd_service_running": (
        "auditd cannot run in a lab host: audit control is only allowed from the initial PID namespace"
    ),
}


def posture_for(index: int) -> Posture:
    """labh1 hardened, labh2 weak, labh3 mixed, then the cycle repeats."""
    return POSTURES[ORDER[(index - 1) % len(ORDER)]]


def guest_file(name: str) -> str:
    return resources.files("lab").joinpath("guest", name).read_text(encoding="utf-8")


def configure_script(posture: Posture, *, paths: HostPaths) -> str:
    header = (
        "# Generated by the auditor lab. Runs once inside the host (sh -eu).\n"
        f"LAB_NAME={paths.name}\nLAB_INDEX={paths.index}\nLAB_ADDR={paths.address}\n"
        f"LAB_HOSTSIDE={paths.hostside}\nLAB_POSTURE={posture.name}\nLAB_RELEASE={paths.release}\n"
        f"LAB_SYSLOG={'yes' if posture.runs_syslog(paths.release) else 'no'}\n"
    )
    trailer = "\n# Refuse to finish with an sshd configuration that does not load.\n/usr/sbin/sshd -t\n"
    body = guest_file("common.sh") + "\n" + guest_file(f"{posture.name}.sh") + "\n" + guest_file("services.sh")
    return header + body + trailer


def host_config(posture: Posture, *, paths: HostPaths, config_hash: str) -> str:
    return json.dumps(
        {
            "name": paths.name,
            "index": paths.index,
            "release": paths.release,
            "posture": posture.name,
            "services": posture.release_services(paths.release),
            "sshd": posture.sshd(paths.release),
            "nft": posture.nft,
            "tmp_mounts": posture.tmp_mounts,
            "net_sysctls": posture.net_sysctls,
            "config_hash": config_hash,
        },
        indent=2,
    )


def config_hash(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]
