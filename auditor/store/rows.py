"""From database records to the read models (pydantic views) the Store returns."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from typing import Any

from auditor.evaluation.observations import Observation
from auditor.store.schema import EvidenceRecord, FindingRecord, RunRecord
from auditor.store.views import EvidenceRow, FindingRow, RunStatus, RunSummary, TargetCounts
from auditor.vocabulary import RequirementRef, Status

EXPORT_TEXT_CAP = 64 * 1024  # bytes of stdout/stderr per evidence row in export_run


def aware(value: datetime) -> datetime:
    """Timestamps read through raw (non-ORM-typed) columns: make them UTC-aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def recompute_sha256(record: EvidenceRecord) -> str:
    observation = Observation(
        probe_id=record.probe_id,
        command=record.command,
        outcome=record.outcome,
        exit_code=record.exit_code,
        stdout=bytes(record.stdout),
        stderr=bytes(record.stderr),
        duration_s=record.duration_s,
        truncated=record.truncated,
        collected_at=record.collected_at,
    )
    return observation.sha256


def export_stream(head: bytes, size: int) -> dict[str, Any]:
    """``head`` is the first EXPORT_TEXT_CAP bytes of a stream of ``size`` bytes."""
    if size <= EXPORT_TEXT_CAP:
        return {"size": size, "text": head.decode("utf-8", errors="replace"), "omitted_bytes": 0}
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(head[:EXPORT_TEXT_CAP], final=False)
    kept = min(len(head), EXPORT_TEXT_CAP) - len(decoder.getstate()[0])  # an incomplete last character stays out
    return {"size": size, "text": text, "omitted_bytes": size - kept}


def run_summary(record: RunRecord, targets: TargetCounts, findings: dict[str, int]) -> RunSummary:
    return RunSummary(
        id=record.id,
        started_at=record.started_at,
        finished_at=record.finished_at,
        status=RunStatus(record.status),
        status_detail=record.status_detail,
        tool_version=record.tool_version,
        checklist_version=record.checklist_version,
        inventory_sha256=record.inventory_sha256,
        options=record.options,
        targets=targets,
        finding_counts=findings,
    )


def finding_row(finding: FindingRecord, agency_id: str, host_name: str) -> FindingRow:
    return FindingRow(
        id=finding.id,
        run_id=finding.run_id,
        agency_id=agency_id,
        host_name=host_name,
        check_id=finding.check_id,
        status=Status(finding.status),
        severity=finding.severity,
        observed=finding.observed,
        expected=finding.expected,
        expected_vi=finding.expected_vi,
        expected_en=finding.expected_en,
        configured=finding.configured,
        reason_vi=finding.reason_vi,
        reason_en=finding.reason_en,
        requirements=tuple(RequirementRef.model_validate(req) for req in finding.requirements),
        evidence_id=finding.evidence_id,
        source=finding.source,
    )


def evidence_row(
    record: EvidenceRecord, run_id: str, agency_id: str, host_name: str, verified: bool | None = None
) -> EvidenceRow:
    return EvidenceRow(
        id=record.id,
        run_id=run_id,
        agency_id=agency_id,
        host_name=host_name,
        probe_id=record.probe_id,
        command=record.command,
        outcome=record.outcome,
        exit_code=record.exit_code,
        stdout=bytes(record.stdout),
        stderr=bytes(record.stderr),
        sha256=record.sha256,
        duration_s=record.duration_s,
        truncated=record.truncated,
        collected_at=record.collected_at,
        verified=verified,
    )
