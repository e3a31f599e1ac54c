"""Read models the store hands out: plain, frozen pydantic objects detached from any database session."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from auditor.evaluation.findings import HostStatus
from auditor.evaluation.observations import HostFacts, ProbeOutcome
from auditor.vocabulary import LocalizedText, RequirementRef, Severity, Status


class RunStatus(StrEnum):
    running = "running"
    completed = "completed"
    interrupted = "interrupted"  # the process stopped (or was found stale) before finish_run
    failed = "failed"


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def empty_status_counts() -> dict[str, int]:
    return {status.value: 0 for status in Status}


class RunSummary(_View):
    id: str
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    tool_version: str
    checklist_version: str
    inventory_sha256: str
    options: dict[str, Any]
    hosts_ok: int
    hosts_error: int
    finding_counts: dict[str, int]  # every Status value -> number of findings with it (zeros included)

    @property
    def hosts_total(self) -> int:
        return self.hosts_ok + self.hosts_error


class RunHostRow(_View):
    id: int
    run_id: str
    agency_id: str
    agency_name: LocalizedText  # the agency's latest known names
    host_name: str
    kind: Literal["host", "agency", "service", "website"] = "host"
    address: str
    status: HostStatus
    error_reason: str | None
    error_detail: str | None
    facts: HostFacts | None
    exec_requests: int
    started_at: datetime
    finished_at: datetime
    finding_counts: dict[str, int]  # every Status value -> count for this host


class FindingRow(_View):
    id: int
    run_id: str
    agency_id: str
    host_name: str
    check_id: str
    status: Status
    severity: Severity
    observed: str
    expected: str
    configured: bool | None = None
    reason_vi: str
    reason_en: str
    requirements: tuple[RequirementRef, ...]
    evidence_id: int | None

    @property
    def reason(self) -> LocalizedText:
        return LocalizedText(vi=self.reason_vi, en=self.reason_en)


class EvidenceRow(_View):
    id: int
    run_id: str
    agency_id: str
    host_name: str
    probe_id: str
    command: str
    outcome: ProbeOutcome
    exit_code: int | None
    stdout: bytes
    stderr: bytes
    sha256: str
    duration_s: float
    truncated: bool
    collected_at: datetime

    @property
    def host(self) -> str:
        return self.host_name

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")
