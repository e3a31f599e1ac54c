"""The shared vocabulary: types every layer speaks (localized text, severities, statuses, clause
references, identifiers) and the documented exit codes. Nothing here imports the rest of the package."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
RunId = str  # "r-YYYYMMDD-HHMMSS-xxxx"


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalizedText(StrictModel):
    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


class Status(StrEnum):
    """The outcome of one check on one target."""

    passed = "pass"
    failed = "fail"
    error = "error"
    not_applicable = "not_applicable"
    manual = "manual"


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class RequirementRef(StrictModel):
    framework: str  # e.g. "TCVN 11930:2017"
    clause: str  # exactly as the standard numbers it, e.g. "7.2.2.1"


class RunStatus(StrEnum):
    """How a run stands. Every run ends in one of the four final statuses; only a live run is ``running``."""

    running = "running"
    completed = "completed"  # every target was observed
    completed_with_errors = "completed_with_errors"  # ran to its end, but some target ended in error
    interrupted = "interrupted"  # the process stopped (Ctrl-C, or found dead) before the run was closed
    failed = "failed"  # the run itself broke (e.g. the database went away); the reason is stored with it


class RunEndReason(StrEnum):
    """Why a run ended interrupted, when the auditor itself knows it; stored as the run's ``status_detail``
    (a failed run keeps its error's own text there instead) and shown in each language."""

    stopped_by_user = "stopped_by_user"  # Ctrl-C
    process_stopped = "process_stopped"  # the process running it stopped: its leases expired unrenewed
    no_activity = "no_activity"  # nothing stored for hours: found stale


class Only(StrEnum):
    """One agent instead of all: the SSH audit, the network agents (nmap, TLS, SSH algorithms) or the web agent."""

    ssh = "ssh"
    network = "network"
    web = "web"


class ExitCode(IntEnum):
    """Exit codes of every command.

    0    audit finished and nothing failed / command succeeded
    1    audit finished and at least one check failed (verdict: level 3 not met; coverage: a clause
         without an evidence path)
    2    audit finished with errors (a host or a probe could not be observed), or a store error
    3    bad usage or configuration: malformed inventory or checklist, unknown run/finding id
    130  the run was interrupted (Ctrl-C); finished hosts are kept
    """

    ok = 0
    failures = 1
    errors = 2
    config = 3
    interrupted = 130


OsFamily = Literal["debian", "rhel"]
