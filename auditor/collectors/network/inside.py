"""The inside view: what a host audited over SSH says about its own listening sockets, handed to the
network agents as a typed fact so they can tell exposure (inside and outside) from firewalling."""

from __future__ import annotations

from dataclasses import dataclass

from auditor.evaluation.parsers import ListeningSocket


@dataclass(frozen=True)
class InsideView:
    address: str
    sockets: tuple[ListeningSocket, ...]
    evidence: str  # the record it came from (a shared source's probe id), named in the fact

    @property
    def ports(self) -> set[str]:
        """Labels ("22", "53/udp") of the sockets on a network address (not loopback)."""
        return {s.label for s in self.sockets if not s.loopback}
