"""SSH collection: one strictly verified connection and ONE exec request per host, whatever the probe count."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import paramiko

from auditor.collectors.ssh.known_hosts import fingerprint
from auditor.collectors.ssh.script import StreamSummary, build_script, new_token, parse_stream, summarize_stream
from auditor.collectors.ssh.transport import ExecResult, ParamikoTransport, Transport
from auditor.errors import AuthError, ConnectError, ExecError, HostKeyError
from auditor.evaluation.observations import HostObservations, ProbeRequest
from auditor.inventory import Host

TransportFactory = Callable[[Host, Path, float], Transport]
PREPARE_AT_ONCE = 8  # handshakes started ahead of collection, at most, at a time


def _close_transport(future: Future[Transport]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


_STDERR_LINE_MAX = 200


def _clip(text: str, limit: int = _STDERR_LINE_MAX) -> str:
    """One line of remote text, safe to print: control characters escaped, length capped."""
    escaped = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


class _RejectUnknownHost(paramiko.RejectPolicy):
    """RejectPolicy that says *why*: the host is not in the tool's known-hosts file at all."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> NoReturn:
        raise HostKeyError(
            f"{hostname}: host key not trusted yet ({key.get_name()} {fingerprint(key)}); "
            "verify the fingerprint out of band and record it first",
            reason="host_key_unknown",
        )


def _load_private_key(path: Path) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(path)
    except paramiko.PasswordRequiredException:
        raise AuthError(
            f"key_file {path} is encrypted; load it into ssh-agent and set use_agent", reason="auth_failed"
        ) from None
    except FileNotFoundError:
        raise AuthError(f"key_file {path} does not exist", reason="auth_failed") from None
    except (OSError, paramiko.SSHException, ValueError, TypeError) as exc:
        raise AuthError(f"key_file {path} cannot be loaded ({type(exc).__name__})", reason="auth_failed") from None


def connect_client(host: Host, known_hosts_path: Path, connect_timeout_s: float) -> paramiko.SSHClient:
    """An authenticated SSHClient, after strict host-key checking against the tool's own file only.

    paramiko's SSHClient puts the key type recorded for the host first in its host-key preferences,
    so the server presents the recorded key; a host that presents another type is treated as changed.
    """
    password: str | None = None
    if host.password_env is not None:
        if host.password_env not in os.environ:
            raise AuthError(
                f"{host.name}: environment variable {host.password_env} (password_env) is not set",
                reason="auth_failed",
            )
        password = os.environ[host.password_env]
    pkey = _load_private_key(host.key_file) if host.key_file is not None else None

    client = paramiko.SSHClient()
    if Path(known_hosts_path).is_file():
        try:
            client.load_host_keys(str(known_hosts_path))  # never load_system_host_keys(): only the tool's file
        except (OSError, UnicodeDecodeError) as exc:
            message = f"{host.name}: cannot read the known-hosts file {known_hosts_path} ({type(exc).__name__})"
            raise HostKeyError(message, reason="host_key_unknown") from None
    client.set_missing_host_key_policy(_RejectUnknownHost())
    where = f"{host.name} ({host.address}:{host.port})"
    try:
        client.connect(
            hostname=host.address,
            port=host.port,
            username=host.user,
            pkey=pkey,
            password=password,
            allow_agent=host.use_agent,
            look_for_keys=False,
            timeout=connect_timeout_s,
            banner_timeout=connect_timeout_s,
            auth_timeout=connect_timeout_s,
            channel_timeout=connect_timeout_s,
        )
    except HostKeyError as exc:
        client.close()
        raise HostKeyError(f"{where}: {exc}", reason=exc.reason) from None
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyError(
            f"{where}: HOST KEY CHANGED: presented {exc.key.get_name()} {fingerprint(exc.key)}, "
            f"trusted {exc.expected_key.get_name()} {fingerprint(exc.expected_key)}",
            reason="host_key_changed",
        ) from None
    except paramiko.AuthenticationException as exc:
        client.close()
        message = f"{where}: login refused for user {host.user} ({type(exc).__name__})"
        raise AuthError(message, reason="auth_failed") from None
    except TimeoutError:
        client.close()
        raise ConnectError(f"{where}: connection timed out", reason="timeout") from None
    except (paramiko.SSHException, EOFError, OSError) as exc:
        client.close()
        text = str(exc)
        reason = "timeout" if "timeout" in text.lower() or "timed out" in text.lower() else "unreachable"
        raise ConnectError(f"{where}: {type(exc).__name__}: {_clip(text)}", reason=reason) from None
    except BaseException:
        client.close()
        raise
    return client


def paramiko_transport(host: Host, known_hosts_path: Path, connect_timeout_s: float) -> Transport:
    return ParamikoTransport(connect_client(host, known_hosts_path, connect_timeout_s))


def _first_error_line(stderr: bytes, token: str) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line and not line.startswith(token)]
    preferred = [line for line in lines if "sudo" in line.lower() or "password" in line.lower()]
    return _clip((preferred or lines or ["(no message)"])[0])


class SshCollector:
    """Collects a batch of probes from one host: one connection, one exec request, one script on stdin."""

    def __init__(
        self,
        known_hosts_path: Path,
        connect_timeout_s: float = 10,
        deadline_s: float = 300,
        transport_factory: TransportFactory = paramiko_transport,
        probe_jobs: int = 4,
    ) -> None:
        self.known_hosts_path = Path(known_hosts_path)
        self.probe_jobs = probe_jobs  # probes run at once on the target (1: one after another)
        self.connect_timeout_s = connect_timeout_s
        self.deadline_s = deadline_s
        self.transport_factory = transport_factory
        self._prepared: dict[tuple[str, str, int], Future[Transport]] = {}
        self._lock = threading.Lock()

    def prepare(self, hosts: Sequence[Host]) -> None:
        """Start connecting to these hosts now, in the background (at most PREPARE_AT_ONCE at a time).

        A connection's handshake is most of a host's round trips; started early, it overlaps with
        whatever the caller does before collecting (loading content, opening the store, planning).
        ``collect`` takes a prepared connection, or raises the error connecting gave; ``close``
        drops those never used. Host keys are checked exactly as when connecting in ``collect``.
        """
        if not hosts:
            return
        pool = ThreadPoolExecutor(max_workers=min(len(hosts), PREPARE_AT_ONCE), thread_name_prefix="connect")
        with self._lock:
            for host in hosts:
                key = (host.name, host.address, host.port)
                if key not in self._prepared:
                    self._prepared[key] = pool.submit(
                        self.transport_factory, host, self.known_hosts_path, self.connect_timeout_s
                    )
        pool.shutdown(wait=False)

    def close(self) -> None:
        """Close the prepared connections nobody collected (each as soon as its handshake ends)."""
        with self._lock:
            unused = list(self._prepared.values())
            self._prepared.clear()
        for future in unused:
            future.add_done_callback(_close_transport)

    def _transport(self, host: Host) -> Transport:
        with self._lock:
            prepared = self._prepared.pop((host.name, host.address, host.port), None)
        if prepared is not None:
            return prepared.result()  # the connect error, if any, is raised here as it would be below
        return self.transport_factory(host, self.known_hosts_path, self.connect_timeout_s)

    def collect(self, host: Host, requests: Sequence[ProbeRequest]) -> HostObservations:
        started_at = datetime.now(UTC)
        begun = time.monotonic()
        token = new_token()
        # ValueError: bad requests or probe_jobs
        jobs = host.probe_jobs or self.probe_jobs
        script = build_script(requests, token, os_family_hint=host.os_family, jobs=jobs)
        transport = self._transport(host)
        try:
            command = "sudo -n sh -s" if host.sudo else "sh -s"
            remaining = max(1.0, self.deadline_s - (time.monotonic() - begun))
            result = transport.exec(command, script.encode("utf-8"), remaining)
            exec_requests = transport.exec_requests
        finally:
            transport.close()
        summary = self._check_started(host, result, token)
        finished_at = datetime.now(UTC)
        facts, observations = parse_stream(result.stdout, result.stderr, requests, token, finished_at)
        return HostObservations(
            facts=facts,
            observations=observations,
            exec_requests=exec_requests,
            started_at=started_at,
            finished_at=finished_at,
            probes_wall_s=summary.probes_wall_s,
        )

    @staticmethod
    def _check_started(host: Host, result: ExecResult, token: str) -> StreamSummary:
        """No start record means the script never ran: sudo refused, no `sh`, or the session died at once."""
        summary = summarize_stream(result.stdout, token)
        if summary.started:
            return summary
        line = _first_error_line(result.stderr, token)
        status = "none" if result.exit_status is None else str(result.exit_status)
        if host.sudo:
            message = f"{host.name}: sudo -n refused to run the probes (exit {status}): {line}"
            raise ExecError(message, reason="sudo_failed")
        raise ExecError(f"{host.name}: the probe script did not start (exit {status}): {line}", reason="exec_failed")
