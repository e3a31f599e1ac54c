"""What an SSH server offers, read from its banner and its first (cleartext) KEXINIT packet.

RFC 4253 §7.1: after the version exchange both sides send SSH_MSG_KEXINIT in the clear. We send
our banner, read the server's KEXINIT and close: no key exchange, no authentication attempt.
"""

from __future__ import annotations

import socket
import struct

from pydantic import BaseModel, ConfigDict

from auditor.errors import CollectorError
from auditor.foreign import foreign, os_error_said

CLIENT_BANNER = b"SSH-2.0-auditor_algos\r\n"
MSG_KEXINIT = 20
_MAX_PACKET = 256 * 1024
_NAME_LISTS = (
    "kex",
    "host_key",
    "ciphers_c2s",
    "ciphers_s2c",
    "macs_c2s",
    "macs_s2c",
    "compression_c2s",
    "compression_s2c",
)


class SshAlgorithms(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    banner: str
    kex: tuple[str, ...]
    host_key: tuple[str, ...]
    ciphers: tuple[str, ...]
    macs: tuple[str, ...]


def _recv_exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise CollectorError(foreign("net_ssh_closed"), "unreachable")
        data += chunk
    return data


def _read_banner(sock: socket.socket) -> str:
    """Lines before the version line are allowed by RFC 4253 §4.2; at most 50 are read."""
    for _ in range(50):
        line = b""
        while not line.endswith(b"\n"):
            line += _recv_exact(sock, 1)
            if len(line) > 255:
                raise CollectorError(foreign("net_ssh_banner_too_long"), "protocol_error")
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        if text.startswith("SSH-"):
            return text
    raise CollectorError(foreign("net_ssh_no_version"), "protocol_error")


def parse_kexinit(payload: bytes) -> dict[str, tuple[str, ...]]:
    """Name-lists of a KEXINIT payload (message byte, 16-byte cookie, ten name-lists, ...)."""
    if not payload or payload[0] != MSG_KEXINIT:
        raise CollectorError(foreign("net_ssh_not_kexinit"), "protocol_error")
    offset = 17
    lists: dict[str, tuple[str, ...]] = {}
    for name in _NAME_LISTS:
        if offset + 4 > len(payload):
            raise CollectorError(foreign("net_ssh_kexinit_truncated"), "protocol_error")
        (length,) = struct.unpack(">I", payload[offset : offset + 4])
        offset += 4
        raw = payload[offset : offset + length].decode("ascii", errors="replace")
        offset += length
        lists[name] = tuple(item for item in raw.split(",") if item)
    return lists


def read_algorithms(address: str, port: int, timeout: float = 10.0) -> SshAlgorithms:
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(CLIENT_BANNER)
            banner = _read_banner(sock)
            packet_length, padding = struct.unpack(">IB", _recv_exact(sock, 5))
            if not 0 < packet_length <= _MAX_PACKET or padding >= packet_length:
                raise CollectorError(foreign("net_ssh_packet_length"), "protocol_error")
            payload = _recv_exact(sock, packet_length - 1)[: packet_length - 1 - padding]
    except OSError as exc:
        failed = foreign("ssh_cannot_connect", where=f"{address}:{port}", cause=os_error_said(exc))
        raise CollectorError(failed, "unreachable") from None
    lists = parse_kexinit(payload)
    return SshAlgorithms(
        banner=banner,
        kex=lists["kex"],
        host_key=lists["host_key"],
        ciphers=tuple(dict.fromkeys((*lists["ciphers_c2s"], *lists["ciphers_s2c"]))),
        macs=tuple(dict.fromkeys((*lists["macs_c2s"], *lists["macs_s2c"]))),
    )
