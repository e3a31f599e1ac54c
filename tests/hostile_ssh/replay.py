"""Replaying a real host: what the collector's script would write, rebuilt from a recording of a lab host.

A recording (JSON, written by ``bench.fleet_record``) holds a host's facts and, per probe id, its exit
code, stdout, stderr and duration as the collector observed them. :class:`ReplayStream` answers a
received script with exactly the stream format the script writes (``start``, the facts record, one
record per probe the script asks for, ``done``), under the script's own token: the collector parses and
judges it as it would a real host's answer, so findings are real evaluations. Nothing is run. A probe
the script asks for and the recording lacks gets no record, which the collector reports as ``missing``.

Each record's lines are encoded once, without the token; answering a script only joins them behind
its token, so a fleet of a thousand replaying ports costs its server little CPU.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.hostile_ssh.streams import FACTS_ID, record_part, script_probe_ids, script_token

RECORDING_VERSION = 1
FACT_KEYS = ("hostname", "os_id", "os_like", "os_version", "os_pretty", "os_family", "kernel", "arch", "uid", "systemd")


@dataclass(frozen=True)
class RecordedProbe:
    probe_id: str
    outcome: str  # completed | timed_out | skipped (others are not replayed: no record is sent)
    exit_code: int | None
    stdout: bytes
    stderr: bytes
    duration_s: float


@dataclass(frozen=True)
class Recording:
    host: str  # the lab host it was recorded on
    facts: dict[str, str]  # the facts record's key=value lines, in the script's names
    probes: dict[str, RecordedProbe]

    def to_json(self) -> str:
        data = {
            "version": RECORDING_VERSION,
            "host": self.host,
            "facts": self.facts,
            "probes": [
                {
                    "id": probe.probe_id,
                    "outcome": probe.outcome,
                    "exit_code": probe.exit_code,
                    "duration_s": round(probe.duration_s, 3),
                    "stdout_b64": base64.b64encode(probe.stdout).decode("ascii"),
                    "stderr_b64": base64.b64encode(probe.stderr).decode("ascii"),
                }
                for probe in self.probes.values()
            ],
        }
        return json.dumps(data, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Recording:
        data = json.loads(text)
        if data.get("version") != RECORDING_VERSION:
            raise ValueError(f"recording version {data.get('version')!r}, expected {RECORDING_VERSION}")
        probes = {
            str(item["id"]): RecordedProbe(
                probe_id=str(item["id"]),
                outcome=str(item["outcome"]),
                exit_code=None if item["exit_code"] is None else int(item["exit_code"]),
                stdout=base64.b64decode(item["stdout_b64"]),
                stderr=base64.b64decode(item["stderr_b64"]),
                duration_s=float(item["duration_s"]),
            )
            for item in data["probes"]
        }
        return cls(host=str(data["host"]), facts={str(k): str(v) for k, v in data["facts"].items()}, probes=probes)

    @classmethod
    def load(cls, path: Path) -> Recording:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


# A placeholder token the records are encoded with once; each answer puts the script's token in its place.
_PLACEHOLDER = "0" * 32


def _without_token(lines: list[bytes]) -> list[bytes]:
    return [line[len(_PLACEHOLDER) + 1 :] for line in lines]


@dataclass(frozen=True)
class _Encoded:
    stdout: tuple[bytes, ...]  # framing lines without "<token> " and without the newline
    stderr: tuple[bytes, ...]


class ReplayStream:
    """Answers scripts from one recording: ``answer(script)`` is the (stdout, stderr, exit status) to send."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        facts = "".join(f"{key}={recording.facts.get(key, '')}\n" for key in FACT_KEYS).encode("utf-8")
        facts_lines = record_part(_PLACEHOLDER, FACTS_ID.decode("ascii"), "o", facts)
        self._facts = (*_without_token(facts_lines), b"end " + FACTS_ID)
        family = recording.facts.get("os_family", "unknown")
        self._probes = {probe_id: self._encode(probe, family) for probe_id, probe in recording.probes.items()}

    @staticmethod
    def _encode(probe: RecordedProbe, family: str) -> _Encoded | None:
        if probe.outcome == "skipped":
            return _Encoded(stdout=(f"skip {probe.probe_id} {family}".encode(),), stderr=())
        if probe.outcome not in ("completed", "timed_out") or probe.exit_code is None:
            return None  # it never came back whole on the recorded host: not sent here either
        out = _without_token(record_part(_PLACEHOLDER, probe.probe_id, "o", probe.stdout))
        err = _without_token(record_part(_PLACEHOLDER, probe.probe_id, "e", probe.stderr))
        # Times count from boot on a target; only their difference (the probe's duration) is read.
        start = time.monotonic_ns()
        end = f"end {probe.probe_id} {probe.exit_code} {start} {start + int(probe.duration_s * 1e9)}".encode()
        return _Encoded(stdout=(*out, end), stderr=tuple(err))

    def answer(self, script: bytes) -> tuple[bytes, bytes, int]:
        """The stream the script would write on the recorded host; (b"", message, 127) without a token."""
        token = script_token(script)
        if token is None:
            return b"", b"sh: the replayed host only answers the collector's probe script\n", 127
        prefix = token.encode("ascii") + b" "
        stdout: list[bytes] = [b"start 2", *self._facts]
        stderr: list[bytes] = [b"start 2"]
        for probe_id in script_probe_ids(script):
            encoded = self._probes.get(probe_id)
            if encoded is not None:
                stdout += encoded.stdout
                stderr += encoded.stderr
        stdout.append(b"done")
        stderr.append(b"done")
        return _framed(prefix, stdout), _framed(prefix, stderr), 0


def _framed(prefix: bytes, lines: list[bytes]) -> bytes:
    return b"".join(prefix + line + b"\n" for line in lines)


# ------------------------------------------------------------------------------------------ the fleet

REPLAY_FILE = "replay.json"


@dataclass(frozen=True, kw_only=True)
class ReplayFleet:
    """A running replay fleet, as its server describes it in ``replay.json``: one port per host, one host key."""

    address: str
    ports: tuple[int, ...]
    user: str
    client_key_file: Path  # Ed25519, unencrypted, 0600
    host_key_line: str  # "<type> <base64>": the key every port presents
    log_file: Path
    server_pid: int  # to measure the server apart from the auditor

    def to_json(self) -> str:
        data = {
            "address": self.address,
            "ports": list(self.ports),
            "user": self.user,
            "client_key_file": str(self.client_key_file),
            "host_key_line": self.host_key_line,
            "log_file": str(self.log_file),
            "server_pid": self.server_pid,
        }
        return json.dumps(data) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ReplayFleet:
        data = json.loads(text)
        return cls(
            address=str(data["address"]),
            ports=tuple(int(port) for port in data["ports"]),
            user=str(data["user"]),
            client_key_file=Path(data["client_key_file"]),
            host_key_line=str(data["host_key_line"]),
            log_file=Path(data["log_file"]),
            server_pid=int(data["server_pid"]),
        )

    def host_names(self, count: int) -> list[str]:
        return [f"replay-{number:04d}" for number in range(1, self._count(count) + 1)]

    def _count(self, count: int) -> int:
        if not 1 <= count <= len(self.ports):
            raise ValueError(f"this fleet serves 1 to {len(self.ports)} hosts, not {count}")
        return count

    def known_hosts(self, path: Path, count: int) -> Path:
        """The first ``count`` hosts' entries, one line each (as ``auditor hosts trust`` writes them)."""
        lines = [f"[{self.address}]:{port} {self.host_key_line}\n" for port in self.ports[: self._count(count)]]
        path.write_text("".join(lines), encoding="ascii")
        path.chmod(0o600)
        return path

    def inventory(self, path: Path, count: int, *, hosts_per_agency: int = 20) -> Path:
        """An inventory of the first ``count`` hosts, ``hosts_per_agency`` to an agency (as a province has them)."""
        import yaml  # only the auditor's side writes inventories; the server never imports this

        hosts = [
            {
                "name": name,
                "address": self.address,
                "port": port,
                "user": self.user,
                "key_file": str(self.client_key_file),
                "sudo": True,
                "roles": ["web"],
            }
            for name, port in zip(self.host_names(count), self.ports, strict=False)
        ]
        agencies = [
            {
                "id": f"coquan-{number:03d}",
                "name": {"vi": f"Cơ quan {number}", "en": f"Agency {number}"},
                "inputs": {"allowed_ports_admin": "22,2222"},
                "hosts": hosts[start : start + hosts_per_agency],
            }
            for number, start in enumerate(range(0, len(hosts), hosts_per_agency), start=1)
        ]
        path.write_text(yaml.safe_dump({"agencies": agencies}, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path


@contextmanager
def replay_fleet(workdir: Path, recording: Path, hosts: int, *, target_ms: float = 0.0) -> Iterator[ReplayFleet]:
    """Serve ``hosts`` replaying hosts from ``recording`` in their own process for the ``with`` block.

    ``target_ms``: how long each host takes before it answers, as the probes take on a real target.
    """
    from tests.hostile_ssh.fleet import serving

    arguments = ["--recording", str(Path(recording).resolve()), "--hosts", str(hosts), "--target-ms", str(target_ms)]
    with serving("replay", arguments, workdir, REPLAY_FILE) as description:
        yield ReplayFleet.from_json(description)
