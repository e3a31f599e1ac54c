"""Named parsers for source output that no selection can read. Small, pure and tested one by one."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_SS_STATES = frozenset({"LISTEN", "UNCONN", "ESTAB"})
_LOOPBACK = re.compile(r"^(127\.|\[?::1\]?$|\[?::ffff:127\.)")
# DHCP client ports answer only a server's reply: they offer no service.
_DHCP_CLIENT_PORTS = frozenset({68, 546})


@dataclass(frozen=True, order=True)
class ListeningSocket:
    port: int
    proto: str  # tcp | udp
    address: str  # as printed: 0.0.0.0, [::], 127.0.0.1, *, 10.0.0.2%eth0 ...

    @property
    def loopback(self) -> bool:
        return bool(_LOOPBACK.match(self.address)) or self.address.endswith("%lo")

    @property
    def label(self) -> str:
        """How the network agents name the port: "22" for TCP, "53/udp" for UDP."""
        return str(self.port) if self.proto == "tcp" else f"{self.port}/udp"


def listening_sockets(text: str) -> list[ListeningSocket]:
    """Sockets from ``ss -H -tlnu`` lines (Netid State Recv-Q Send-Q Local:Port Peer:Port) or from
    ``netstat -tlnu`` lines (Proto Recv-Q Send-Q Local:Port Foreign:Port [State]). Other lines are skipped."""
    sockets = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or not fields[0].lower().startswith(("tcp", "udp")):
            continue
        local = fields[4] if len(fields) > 4 and fields[1].upper() in _SS_STATES else fields[3]
        address, sep, port = local.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            continue
        sockets.add(ListeningSocket(int(port), fields[0][:3].lower(), address))
    return sorted(sockets)


def listening_ports(text: str) -> str:
    """Port numbers listening on a network address (not loopback), one per line, ascending."""
    ports = {
        s.port
        for s in listening_sockets(text)
        if not s.loopback and not (s.proto == "udp" and s.port in _DHCP_CLIENT_PORTS)
    }
    return "\n".join(str(port) for port in sorted(ports))


PARSERS: dict[str, Callable[[str], str]] = {"listening_ports": listening_ports}
