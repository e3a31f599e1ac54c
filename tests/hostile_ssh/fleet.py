"""The behaviours, the running fleet as ``fleet.json`` describes it, and the context manager tests use."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

ADDRESS = "127.0.0.1"
USER = "auditor"  # the login name the fleet accepts (commands run as whoever runs the fleet)
DEFAULT_FLOOD_BYTES = 64 * 1024 * 1024
FLEET_FILE = "fleet.json"
LOG_FILE = "hostile_ssh.log"
STARTUP_TIMEOUT_S = 20.0
STOP_GRACE_S = 5.0


class Behaviour(StrEnum):
    """What the server on one port does. Each value is also the fleet's host name (``_`` becomes ``-``)."""

    HONEST = "honest"  # runs the command faithfully: the only one that yields a real audit
    SILENT_EXEC = "silent_exec"  # accepts the session, never answers the exec request
    HANG_AFTER_BANNER = "hang_after_banner"  # sends its banner, then never goes on with the key exchange
    ENDLESS_BANNER = "endless_banner"  # sends pre-banner lines forever, never an SSH-2.0 line
    DRIP_FEED = "drip_feed"  # the honest stdout, one byte at a time with a pause
    FLOOD_STDOUT_LONG = "flood_stdout_long"  # flood_bytes of stdout in lines of 8 MiB
    FLOOD_STDOUT_SHORT = "flood_stdout_short"  # flood_bytes of stdout as "x\n" lines
    FLOOD_STDERR_SHORT = "flood_stderr_short"  # flood_bytes of stderr as "x\n" lines
    NUL_BINARY = "nul_binary"  # the honest stream, every probe's stdout followed by hostile bytes, well framed
    CLOSE_WITHOUT_STATUS = "close_without_status"  # the honest output, then a channel close: no exit status
    TRUNCATE_MID_RECORD = "truncate_mid_record"  # the honest stdout cut inside a data line about halfway
    REKEY_STALL = "rekey_stall"  # once the exec is accepted, starts a key re-exchange and never finishes it
    AUTH_FAILURE = "auth_failure"  # refuses every authentication
    CHANGED_HOST_KEY = "changed_host_key"  # presents a host key other than the one in known_hosts
    ECHO_SCRIPT = "echo_script"  # sends the received stdin (the script, with its token) back on stdout
    FORGE_RECORDS = "forge_records"  # forged, well-formed records, then the honest stream
    DROP_DURING_EXEC = "drop_during_exec"  # accepts the exec, then drops the TCP connection


@dataclass(frozen=True, kw_only=True)
class Fleet:
    """A running fleet, as its server describes it in ``fleet.json``."""

    address: str = ADDRESS
    ports: dict[Behaviour, int]
    user: str
    client_key_file: Path  # Ed25519, unencrypted, 0600
    encrypted_client_key_file: Path  # the same key, encrypted with ``passphrase``, 0600
    passphrase: str
    known_hosts: Path  # ``[127.0.0.1]:PORT ssh-ed25519 ...`` for every port, all with the fleet's host key
    flood_bytes: int
    log_file: Path  # the server's log
    server_pid: int  # to measure the server apart from the auditor

    @staticmethod
    def host_name(behaviour: Behaviour) -> str:
        """The behaviour's host name in :meth:`inventory`."""
        return behaviour.value.replace("_", "-")

    def to_json(self) -> str:
        data = {
            "address": self.address,
            "ports": {behaviour.value: port for behaviour, port in self.ports.items()},
            "user": self.user,
            "client_key_file": str(self.client_key_file),
            "encrypted_client_key_file": str(self.encrypted_client_key_file),
            "passphrase": self.passphrase,
            "known_hosts": str(self.known_hosts),
            "flood_bytes": self.flood_bytes,
            "log_file": str(self.log_file),
            "server_pid": self.server_pid,
        }
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Fleet:
        data = json.loads(text)
        return cls(
            address=str(data["address"]),
            ports={Behaviour(name): int(port) for name, port in data["ports"].items()},
            user=str(data["user"]),
            client_key_file=Path(data["client_key_file"]),
            encrypted_client_key_file=Path(data["encrypted_client_key_file"]),
            passphrase=str(data["passphrase"]),
            known_hosts=Path(data["known_hosts"]),
            flood_bytes=int(data["flood_bytes"]),
            log_file=Path(data["log_file"]),
            server_pid=int(data["server_pid"]),
        )

    def inventory(self, path: Path, behaviours: Iterable[Behaviour] | None = None, **host_fields: Any) -> Path:
        """Write an auditor inventory: one agency ``hostile``, one host per behaviour; returns ``path``.

        ``behaviours`` defaults to every behaviour the fleet serves. ``host_fields`` are added to (or
        replace fields of) every host, e.g. ``probe_jobs=2``.
        """
        import yaml  # only the test process writes inventories; the server never imports this

        chosen = list(self.ports) if behaviours is None else list(behaviours)
        missing = [behaviour.value for behaviour in chosen if behaviour not in self.ports]
        if missing:
            raise ValueError(f"this fleet does not serve {', '.join(missing)}")
        hosts = [
            {
                "name": self.host_name(behaviour),
                "address": self.address,
                "port": self.ports[behaviour],
                "user": self.user,
                "key_file": str(self.client_key_file),
                "sudo": False,
                **host_fields,
            }
            for behaviour in chosen
        ]
        agency = {
            "id": "hostile",
            "name": {"vi": "Máy chủ SSH giả lập lỗi", "en": "Misbehaving SSH servers"},
            "hosts": hosts,
        }
        text = yaml.safe_dump({"agencies": [agency]}, allow_unicode=True, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path


@contextmanager
def hostile_fleet(
    workdir: Path, behaviours: Iterable[Behaviour] = tuple(Behaviour), *, flood_bytes: int = DEFAULT_FLOOD_BYTES
) -> Iterator[Fleet]:
    """Run a fleet in its own process (same interpreter, repository root as cwd) for the ``with`` block.

    The server's log goes to ``workdir/hostile_ssh.log``; if the server exits or is not ready within
    STARTUP_TIMEOUT_S, the RuntimeError carries that log. On exit the server gets SIGTERM, then
    SIGKILL after STOP_GRACE_S.
    """
    arguments = [
        "--flood-bytes",
        str(flood_bytes),
        "--behaviours",
        ",".join(Behaviour(behaviour).value for behaviour in behaviours),
    ]
    with serving("serve", arguments, workdir, FLEET_FILE) as description:
        yield Fleet.from_json(description)


@contextmanager
def serving(command: str, arguments: list[str], workdir: Path, ready_file: str) -> Iterator[str]:
    """Run ``python -m tests.hostile_ssh COMMAND --workdir WORKDIR ARGUMENTS...`` for the ``with`` block and
    yield the text of ``WORKDIR/ready_file``, which the server writes once it is ready (see :func:`hostile_fleet`)."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    fleet_file = workdir / ready_file
    fleet_file.unlink(missing_ok=True)  # never mistake an earlier fleet for this one
    log_path = workdir / LOG_FILE
    argv = [sys.executable, "-m", "tests.hostile_ssh", command, "--workdir", str(workdir), *arguments]
    repository = Path(__file__).resolve().parents[2]
    with log_path.open("wb") as log:  # a file, not a pipe: nobody has to keep reading it
        server = subprocess.Popen(argv, cwd=repository, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not fleet_file.exists():
            if server.poll() is not None:
                raise RuntimeError(f"the hostile SSH server exited with {server.returncode}:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the hostile SSH server was not ready in {STARTUP_TIMEOUT_S:.0f} s:\n{_tail(log_path)}"
                )
            time.sleep(0.05)
        yield fleet_file.read_text(encoding="utf-8")
    finally:
        server.terminate()
        try:
            server.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _tail(path: Path, limit: int = 8000) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    return text[-limit:] or "(no output)"
