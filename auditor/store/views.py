"""Read models the store hands out: plain, frozen pydantic objects detached from any database session."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from auditor.evaluation.findings import HostStatus
from auditor.evaluation.observations import HostFacts, ProbeOutcome
from auditor.vocabulary import LocalizedText, RequirementRef, RunStatus, Severity, Status


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def empty_status_counts() -> dict[str, int]:
    return {status.value: 0 for status in Status}


class TargetCounts(_View):
    """A run's targets by kind: servers audited over SSH, targets seen from the network, agencies' own items."""

    servers_ok: int = 0
    servers_error: int = 0
    network_ok: int = 0  # services (tcp://address[:port]) and websites
    network_error: int = 0
    agencies: int = 0  # one `agency:<id>` target per agency audited (manual items)

    @property
    def servers(self) -> int:
        return self.servers_ok + self.servers_error

    @staticmethod
    def field_for(kind: str, status: str) -> str:
        if kind == "agency":
            return "agencies"
        prefix = "servers" if kind == "host" else "network"
        return f"{prefix}_{'ok' if status == HostStatus.ok.value else 'error'}"


class RunSummary(_View):
    id: str
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    status_detail: str | None = None  # why the run ended failed or interrupted
    tool_version: str
    checklist_version: str
    inventory_sha256: str
    options: dict[str, Any]
    targets: TargetCounts
    finding_counts: dict[str, int]  # every Status value -> number of findings with it (zeros included)


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
    expected: str  # compact notation, for machines (JSON exports, logs)
    expected_vi: str | None = None  # the requirement in words; None on findings stored before it was kept
    expected_en: str | None = None
    configured: bool | None = None
    reason_vi: str
    reason_en: str
    requirements: tuple[RequirementRef, ...]
    evidence_id: int | None
    source: str | None = None  # None: the auditor's own check; "external:<tool>": an imported result

    @property
    def reason(self) -> LocalizedText:
        return LocalizedText(vi=self.reason_vi, en=self.reason_en)

    @property
    def expected_text(self) -> LocalizedText | None:
        """The requirement in words for people. None when the finding has no expectation (manual evidence) or
        was stored before words were kept: the notation in `expected` is for machines, not for a report. Readers
        use auditor.evaluation.expected_words.expected_in_words, which words those older rows too."""
        if self.expected_vi and self.expected_en:
            return LocalizedText(vi=self.expected_vi, en=self.expected_en)
        return None


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
    verified: bool | None = None  # the stored hash recomputed from the stored bytes, when asked for

    @property
    def host(self) -> str:
        return self.host_name

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")


DiffChange = Literal["new", "fixed", "regressed", "still_failing", "not_rechecked"]


class DiffEntry(_View):
    """One (target, check) pair whose failing state changed, or stayed failing, between two runs."""

    host_name: str
    check_id: str
    severity: Severity
    change: DiffChange
    before: Status | None  # None: not audited in the earlier run
    after: Status | None  # None: not re-checked in this run


class RunDiff(_View):
    run_id: str
    previous_run_id: str
    previous_started_at: datetime
    agency_id: str
    entries: tuple[DiffEntry, ...]

    def of(self, change: DiffChange) -> tuple[DiffEntry, ...]:
        return tuple(e for e in self.entries if e.change == change)


class RemediationRow(_View):
    id: str
    source_run_id: str
    verify_run_id: str | None
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    tool_version: str
    data_dir: str
    selection: dict[str, Any]
    outcome: dict[str, Any] | None


# -- the portal ---------------------------------------------------------------------------------------------

Role = Literal["officer", "department", "agency"]


class UserRow(_View):
    id: int
    username: str
    display_name: str
    role: Role
    agency_id: str | None
    email: str | None
    disabled: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    password_changed_at: datetime


class ActivityRow(_View):
    id: int
    at: datetime
    actor: str
    role: str | None
    action: str
    agency_id: str | None
    target: str
    detail: dict[str, Any]
    remote_addr: str | None


class ScheduleRow(_View):
    id: int
    agency_id: str | None  # None: every agency
    cron: str
    timezone: str
    only_agent: str | None
    paused: bool
    removed_at: datetime | None
    created_by: str
    created_at: datetime
    last_slot_at: datetime | None


class LeaseRow(_View):
    agency_id: str
    holder: str
    run_id: str | None
    acquired_at: datetime
    expires_at: datetime


class SubmissionRow(_View):
    id: int
    agency_id: str
    check_id: str
    document_sha256: str
    file_name: str
    note: str
    submitted_by: str
    submitted_at: datetime
    decision: Literal["accepted", "rejected"] | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    attestation_id: int | None = None


class MailRow(_View):
    id: int
    kind: str
    dedupe_key: str | None
    run_id: str | None
    agency_id: str | None
    to_addr: str
    subject: str
    body: str
    attachment_name: str | None
    attachment: bytes | None
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None
