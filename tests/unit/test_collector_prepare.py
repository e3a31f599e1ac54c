"""Connections prepared ahead of collection: used once, errors raised where connecting would raise
them, the unused ones closed. A local shell stands in for the SSH server."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from auditor.collectors.ssh.collector import SshCollector
from auditor.collectors.ssh.transport import LocalTransport, Transport
from auditor.errors import ConnectError
from auditor.evaluation.observations import ProbeOutcome, ProbeRequest
from auditor.inventory import Host

KEY = Path("/nonexistent/key")
WEB = Host(name="web", address="10.0.0.2", key_file=KEY)
DB = Host(name="db", address="10.0.0.3", key_file=KEY)


class CountingFactory:
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.refuse = refuse or set()
        self.connected: list[str] = []
        self.closed: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, host: Host, _known_hosts: Path, _timeout: float) -> Transport:
        with self.lock:
            self.connected.append(host.name)
        if host.name in self.refuse:
            raise ConnectError(f"{host.name}: connection refused", reason="unreachable")
        factory = self

        class Recorded(LocalTransport):
            def close(self) -> None:
                with factory.lock:
                    factory.closed.append(host.name)

        return Recorded()


def test_a_prepared_connection_is_used_once_and_the_unused_are_closed() -> None:
    factory = CountingFactory()
    collector = SshCollector(Path("/nonexistent/known_hosts"), transport_factory=factory)
    collector.prepare([WEB, DB])
    observed = collector.collect(WEB, [ProbeRequest(probe_id="hello", command="echo hi")])
    assert observed.observations["hello"].stdout == b"hi\n"
    assert observed.observations["hello"].outcome is ProbeOutcome.completed
    collector.collect(WEB, [ProbeRequest(probe_id="again", command="true")])  # a second collect connects anew
    collector.close()
    for _ in range(100):  # the unused connection closes as soon as its handshake has ended
        if "db" in factory.closed:
            break
        threading.Event().wait(0.01)
    assert sorted(factory.connected) == ["db", "web", "web"]
    assert sorted(factory.closed) == ["db", "web", "web"]


def test_a_failed_prepared_connection_raises_at_collect() -> None:
    factory = CountingFactory(refuse={"web"})
    collector = SshCollector(Path("/nonexistent/known_hosts"), transport_factory=factory)
    collector.prepare([WEB])
    with pytest.raises(ConnectError, match="connection refused"):
        collector.collect(WEB, [ProbeRequest(probe_id="hello", command="echo hi")])
    assert factory.connected == ["web"]  # the error came from the prepared attempt, not a second one
