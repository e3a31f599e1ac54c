"""SSH collection: one strictly verified connection and ONE exec request per host, whatever the probe count.

Each host ends within its deadline: the handshake within the connect timeout (never more than the
deadline), the execution within what is left of the deadline, both enforced by watchdogs that cut
the connection (see :mod:`auditor.collectors.ssh.transport`). Output is parsed as it arrives
(:class:`~auditor.collectors.ssh.stream.StreamParser`), so memory stays bounded whatever a host sends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import paramiko

from auditor.collectors.ssh.connect import connect_client, paramiko_transport
from auditor.collectors.ssh.known_hosts import KnownHostsIndex
from auditor.collectors.ssh.script import build_script, new_token
from auditor.collectors.ssh.stream import StreamParser, stream_budget
from auditor.collectors.ssh.transport import DEFAULT_MAX_OUTPUT, RunEnd, Transport, clip
from auditor.errors import CollectorError, ExecError
from auditor.evaluation.observations import HostObservations, ProbeRequest
from auditor.foreign import connection_error_said, foreign, theirs
from auditor.inventory import Host
from auditor.said import Said

__all__ = ["PREPARE_AT_ONCE", "SshCollector", "TransportFactory", "connect_client", "paramiko_transport"]

TransportFactory = Callable[[Host, KnownHostsIndex, float], Transport]
PREPARE_AT_ONCE = 8  # handshakes started ahead of collection, at most, at a time
_MIN_EXEC_S = 0.5  # less than this left of the deadline after connecting: not worth starting


def _close_transport(future: Future[tuple[Transport, float]]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result()[0].close()


def _first_line(raw: bytes, token: str, prefer: tuple[str, ...] = ()) -> str | None:
    lines = [line.strip() for line in raw.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line and not line.startswith(token)]
    preferred = [line for line in lines if any(word in line.lower() for word in prefer)]
    candidates = preferred or lines
    return clip(candidates[0]) if candidates else None


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


class SshCollector:
    """Collects a batch of probes from one host: one connection, one exec request, one script on stdin."""

    def __init__(
        self,
        known_hosts_path: Path,
        connect_timeout_s: float = 10,
        deadline_s: float = 300,
        transport_factory: TransportFactory = paramiko_transport,
        probe_jobs: int = 4,
        max_output: int = DEFAULT_MAX_OUTPUT,
    ) -> None:
        self.known_hosts_path = Path(known_hosts_path)
        self.known_hosts = KnownHostsIndex(self.known_hosts_path)  # read once, at the first connection
        self.probe_jobs = probe_jobs  # probes run at once on the target (1: one after another)
        self.connect_timeout_s = connect_timeout_s
        self.deadline_s = deadline_s
        self.transport_factory = transport_factory
        self.max_output = max_output  # bytes one host may send, at most, whatever its probes' caps
        self._prepared: dict[tuple[str, str, int], Future[tuple[Transport, float]]] = {}
        self._lock = threading.Lock()

    def prepare(self, hosts: Sequence[Host]) -> None:
        """Start connecting to these hosts now, in the background (at most PREPARE_AT_ONCE at a time).

        A connection's handshake is most of a host's round trips; started early, it overlaps with
        whatever the caller does before collecting (loading content, opening the store, planning).
        ``collect`` takes a prepared connection, or raises the error connecting gave; ``close``
        drops those never used. Host keys are checked exactly as when connecting in ``collect``, and
        the host's deadline counts from the moment its connection was started.
        """
        if not hosts:
            return
        pool = ThreadPoolExecutor(max_workers=min(len(hosts), PREPARE_AT_ONCE), thread_name_prefix="connect")
        with self._lock:
            for host in hosts:
                key = (host.name, host.address, host.port)
                if key not in self._prepared:
                    self._prepared[key] = pool.submit(self._connect, host)
        pool.shutdown(wait=False)

    def close(self) -> None:
        """Close the prepared connections nobody collected (each as soon as its handshake ends)."""
        with self._lock:
            unused = list(self._prepared.values())
            self._prepared.clear()
        for future in unused:
            future.add_done_callback(_close_transport)

    def _connect(self, host: Host) -> tuple[Transport, float]:
        """A transport and the moment connecting began; the handshake never gets more than the deadline."""
        began = time.monotonic()
        timeout = min(self.connect_timeout_s, self.deadline_s)
        try:
            return self.transport_factory(host, self.known_hosts, timeout), began
        except CollectorError:
            raise
        except (paramiko.SSHException, EOFError, OSError) as exc:  # a factory that let one through
            failed = foreign("ssh_connecting_failed", where=host.name, cause=connection_error_said(exc))
            raise CollectorError(failed, "unreachable") from None

    def _transport(self, host: Host) -> tuple[Transport, float]:
        with self._lock:
            prepared = self._prepared.pop((host.name, host.address, host.port), None)
        if prepared is not None:
            return prepared.result()  # the connect error, if any, is raised here as it would be below
        return self._connect(host)

    def collect(self, host: Host, requests: Sequence[ProbeRequest]) -> HostObservations:
        started_at = datetime.now(UTC)
        token = new_token()
        # ValueError: bad requests or probe_jobs
        jobs = host.probe_jobs or self.probe_jobs
        script = build_script(requests, token, os_family_hint=host.os_family, jobs=jobs)
        budget = min(self.max_output, stream_budget(requests))
        parser = StreamParser(requests, token, max_bytes=budget)
        transport, began = self._transport(host)
        try:
            remaining = self.deadline_s - (time.monotonic() - began)
            if remaining < _MIN_EXEC_S:
                raise CollectorError(
                    f"{host.name}: connecting took {self.deadline_s - remaining:.1f} s of its "
                    f"{self.deadline_s:g} s deadline; no time was left to run the probes",
                    reason="deadline_exceeded",
                )
            end = self._run(host, transport, script, parser, remaining)
            exec_requests = transport.exec_requests
        finally:
            transport.close()
        finished_at = datetime.now(UTC)
        self._check_stream(host, parser, end, token, budget)
        facts, observations = parser.result(finished_at)
        return HostObservations(
            facts=facts,
            observations=observations,
            exec_requests=exec_requests,
            started_at=started_at,
            finished_at=finished_at,
            probes_wall_s=parser.summary().probes_wall_s,
        )

    def _run(self, host: Host, transport: Transport, script: str, parser: StreamParser, remaining: float) -> RunEnd:
        """The one exec request; every failure comes out as a CollectorError naming the host."""
        command = "sudo -n sh -s" if host.sudo else "sh -s"
        try:
            return transport.run(command, script.encode("utf-8"), parser, remaining)
        except CollectorError as exc:
            message: str | Said
            if exc.reason == "deadline_exceeded":
                message = (
                    f"{host.name}: not finished within its deadline of {self.deadline_s:g} s "
                    f"(cut {remaining:.1f} s after the exec request was sent; {parser.summary().records} records "
                    "had arrived)"
                )
            else:
                own = exc.said
                message = f"{host.name}: {exc}" if own is None else foreign("ssh_other", where=host.name, detail=own)
            raise type(exc)(message, reason=exc.reason) from None
        except (paramiko.SSHException, EOFError, OSError) as exc:  # a transport that let one through
            failed = foreign("ssh_connection_failed", where=host.name, cause=connection_error_said(exc))
            raise CollectorError(failed, "connection_lost") from None

    @staticmethod
    def _check_stream(host: Host, parser: StreamParser, end: RunEnd, token: str, budget: int) -> None:
        """Host-level failures the stream shows: a flood, a lost connection, a script that never started."""
        summary = parser.summary()
        if summary.saturated and not summary.finished:
            done = (
                foreign("ssh_output_flood_records", records=summary.records)
                if summary.started
                else foreign("ssh_output_flood_none")
            )
            raise ExecError(
                foreign("ssh_output_flood", host=host.name, budget=_mib(budget), done=done),
                reason="output_cap_exceeded",
            )
        if summary.started:
            return  # records that did not arrive are the probes' own `missing` errors
        status = foreign("ssh_exit_none") if end.exit_status is None else foreign("ssh_exit_code", code=end.exit_status)
        if end.connection_lost:
            raise CollectorError(
                foreign("ssh_dropped_before_start", host=host.name, status=status), reason="connection_lost"
            )
        # No start record: the script never ran (sudo refused, no `sh`, the session died at once) or the
        # target answered with something else entirely. What the host wrote is quoted as its own words.
        line = _first_line(bytes(parser.stderr_head), token, prefer=("sudo", "password"))
        said_line = theirs("target", line) if line is not None else foreign("ssh_no_message")
        if host.sudo:
            raise ExecError(
                foreign("ssh_sudo_refused", host=host.name, status=status, line=said_line), reason="sudo_failed"
            )
        if line is None and parser.stdout_head:
            first = _first_line(bytes(parser.stdout_head), token)
            raise ExecError(
                foreign(
                    "ssh_script_not_run",
                    host=host.name,
                    status=status,
                    received=summary.received,
                    first=theirs("target", first) if first is not None else foreign("ssh_blank_lines"),
                ),
                reason="exec_failed",
            )
        raise ExecError(
            foreign("ssh_script_not_started", host=host.name, status=status, line=said_line), reason="exec_failed"
        )
