"""Collectors: observe a target read-only and hand back typed observations."""

from auditor.collectors.known_hosts import KnownHostsStore, fingerprint, host_spec
from auditor.collectors.script import build_script, new_token, parse_stream
from auditor.collectors.ssh import SshCollector
from auditor.collectors.transport import ExecResult, LocalTransport, ParamikoTransport, Transport

__all__ = [
    "ExecResult",
    "KnownHostsStore",
    "LocalTransport",
    "ParamikoTransport",
    "SshCollector",
    "Transport",
    "build_script",
    "fingerprint",
    "host_spec",
    "new_token",
    "parse_stream",
]
