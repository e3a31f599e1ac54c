"""Verdicts: one Finding per (host, check), and the per-host result that the store commits at once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from auditor.evaluation.observations import HostFacts, Observation
from auditor.vocabulary import LocalizedText, RequirementRef, Severity, Status


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    check_id: str
    status: Status
    severity: Severity
    observed: str  # what the target showed (capped); "" when nothing was observed
    expected: str  # the expectation in a compact, language-neutral notation (for machines and logs)
    expected_text: LocalizedText | None = None  # the same in words, for people; None without an expectation
    # For thresholds the standard leaves open: is the setting configured at all (what the TCVN 11930
    # clause asks), whatever our profile's default says. None when the check makes no such split.
    configured: bool | None = None
    reason: LocalizedText  # one sentence saying why this status
    requirements: tuple[RequirementRef, ...] = ()
    evidence_probe_id: str | None = None  # which observation of the same host backs this finding


class HostStatus(StrEnum):
    ok = "ok"  # observed; findings are meaningful
    error = "error"  # could not be observed; every finding is `error` with the reason


class HostResult(BaseModel):
    """One host of one run, as committed to the store the moment the host finishes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agency_id: str
    host_name: str  # for kind "agency": "agency:<agency id>"
    address: str
    status: HostStatus
    # host: a server over SSH; agency: the agency itself (manual items); service: tcp://address:port
    # seen from the network; website: a public URL
    kind: Literal["host", "agency", "service", "website"] = "host"
    error_reason: str | None = None  # stable code: host_key_unknown, host_key_changed, unreachable, ...
    error_detail: str | None = None  # one line for people; never contains secrets
    facts: HostFacts | None = None
    exec_requests: int = 0
    started_at: datetime
    finished_at: datetime
    findings: tuple[Finding, ...] = ()
    observations: tuple[Observation, ...] = ()
