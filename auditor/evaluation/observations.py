"""What collectors hand to evaluation: raw, typed observations of one target."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class ProbeOutcome(StrEnum):
    """How a probe ended on the target."""

    completed = "completed"  # ran to the end; exit_code is meaningful
    timed_out = "timed_out"  # killed by its own time limit
    skipped = "skipped"  # not run: the target's OS family is outside the check's applicability
    missing = "missing"  # no record came back (the batch died before reaching it)
    conflicting = "conflicting"  # the target sent two different complete records for it: neither is judged


class ProbeRequest(BaseModel):
    """One read-only shell probe to run inside the batched script."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    probe_id: str
    command: str
    timeout_s: float = Field(default=20.0, gt=0)
    output_cap: int = Field(default=256 * 1024, gt=0)
    os_families: tuple[str, ...] = ()  # empty: run on every family
    slow: bool = False  # known to take long: queued before the others, so it does not finish last


class Observation(BaseModel):
    """The result of one probe, split back out of the batched stream."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64")

    probe_id: str
    command: str
    outcome: ProbeOutcome
    exit_code: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    duration_s: float = 0.0
    truncated: bool = False
    collected_at: datetime

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")

    @property
    def sha256(self) -> str:
        """Hash over exactly what was recorded: command, exit code, stdout and stderr."""
        digest = hashlib.sha256()
        for part in (self.command.encode(), str(self.exit_code).encode(), self.stdout, self.stderr):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        return digest.hexdigest()


class HostFacts(BaseModel):
    """OS facts gathered in the same execution as the probes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hostname: str = ""
    os_id: str = ""  # /etc/os-release ID, e.g. debian, ubuntu, rocky
    os_like: str = ""  # ID_LIKE
    os_version: str = ""  # VERSION_ID
    os_pretty: str = ""
    os_family: str = "unknown"  # debian | rhel | unknown
    kernel: str = ""
    arch: str = ""
    uid: int | None = None  # effective uid the probes ran as
    has_systemd: bool = False  # systemctl answers (PID 1 is systemd)


class HostObservations(BaseModel):
    """Everything one batched execution brought back from one host."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    facts: HostFacts
    observations: dict[str, Observation]
    exec_requests: int  # SSH exec requests used for this host (constant, 1, by design)
    started_at: datetime
    finished_at: datetime
    probes_wall_s: float | None = None  # on the target: first probe's start to last probe's end
