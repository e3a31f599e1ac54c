"""Typed progress of an audit run, as the service reports it to its caller, and the run's tally."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from auditor.evaluation.findings import HostResult, HostStatus
from auditor.vocabulary import RunStatus, Status


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str


def status_counts(result: HostResult) -> dict[Status, int]:
    counts = dict.fromkeys(Status, 0)
    for finding in result.findings:
        counts[finding.status] += 1
    return counts


class RunTally(BaseModel):
    """What a run found so far: servers (over SSH) apart from network targets; agency items count only by status."""

    model_config = ConfigDict(extra="forbid")

    servers_ok: int = 0
    servers_error: int = 0
    network_ok: int = 0
    network_error: int = 0
    by_status: dict[Status, int] = Field(default_factory=lambda: dict.fromkeys(Status, 0))
    interrupted: bool = False

    def add(self, result: HostResult) -> None:
        ok = result.status is HostStatus.ok
        if result.kind == "host":
            self.servers_ok += ok
            self.servers_error += not ok
        elif result.kind in ("service", "website"):
            self.network_ok += ok
            self.network_error += not ok
        for status, count in status_counts(result).items():
            self.by_status[status] += count

    @property
    def has_errors(self) -> bool:
        return bool(self.servers_error or self.network_error or self.by_status[Status.error])

    @property
    def has_failures(self) -> bool:
        return bool(self.by_status[Status.failed])


class RunStarted(_Event):
    kind: Literal["run_started"] = "run_started"
    servers: int  # hosts to audit over SSH
    agencies: int  # agencies whose manual items are recorded
    checks: int
    network_agencies: int  # agencies the network agents look at (0: no network phase)


class HostStarted(_Event):
    kind: Literal["host_started"] = "host_started"
    agency_id: str
    host_name: str
    address: str


class HostFinished(_Event):
    kind: Literal["host_finished"] = "host_finished"
    agency_id: str
    host_name: str
    address: str
    target_kind: Literal["host", "agency"]
    status: HostStatus
    error_reason: str | None
    counts: dict[Status, int]
    duration_s: float


class NetworkTargetFinished(_Event):
    kind: Literal["network_target_finished"] = "network_target_finished"
    agency_id: str
    target: str  # tcp://address[:port] or a website URL
    target_kind: Literal["service", "website"]
    status: HostStatus
    error_reason: str | None
    counts: dict[Status, int]


class RunFinished(_Event):
    kind: Literal["run_finished"] = "run_finished"
    status: RunStatus
    tally: RunTally


AuditEvent = Annotated[
    RunStarted | HostStarted | HostFinished | NetworkTargetFinished | RunFinished, Field(discriminator="kind")
]
EventSink = Callable[[AuditEvent], None]


def finished_event(run_id: str, result: HostResult) -> HostFinished | NetworkTargetFinished:
    counts = status_counts(result)
    if result.kind in ("service", "website"):
        return NetworkTargetFinished(
            run_id=run_id,
            agency_id=result.agency_id,
            target=result.host_name,
            target_kind="service" if result.kind == "service" else "website",
            status=result.status,
            error_reason=result.error_reason,
            counts=counts,
        )
    return HostFinished(
        run_id=run_id,
        agency_id=result.agency_id,
        host_name=result.host_name,
        address=result.address,
        target_kind="agency" if result.kind == "agency" else "host",
        status=result.status,
        error_reason=result.error_reason,
        counts=counts,
        duration_s=(result.finished_at - result.started_at).total_seconds(),
    )
