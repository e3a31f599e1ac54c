"""Writing results: one finished target in ONE committed transaction, the moment it finishes."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auditor.errors import NotFoundError, StoreError
from auditor.evaluation.findings import HostResult
from auditor.inventory import Agency
from auditor.store.base import StoreBase, sql_reason
from auditor.store.schema import AgencyRecord, EvidenceRecord, FindingRecord, RunHostRecord, RunRecord


def _check_result(agency: Agency, result: HostResult) -> None:
    if result.agency_id != agency.id:
        raise ValueError(f"host {result.host_name!r} belongs to agency {result.agency_id!r}, not {agency.id!r}")
    probe_ids = [obs.probe_id for obs in result.observations]
    duplicates = sorted({p for p in probe_ids if probe_ids.count(p) > 1})
    if duplicates:
        raise ValueError(f"host {result.host_name!r}: duplicate observation probe ids: {', '.join(duplicates)}")
    known = set(probe_ids)
    dangling = sorted(
        f"{f.check_id} -> {f.evidence_probe_id}"
        for f in result.findings
        if f.evidence_probe_id is not None and f.evidence_probe_id not in known
    )
    if dangling:
        raise ValueError(f"host {result.host_name!r}: findings cite evidence that is not there: {dangling}")


class ResultStore(StoreBase):
    def save_host_result(self, run_id: str, agency: Agency, result: HostResult) -> int:
        """Store one finished target in ONE committed transaction; returns the run_hosts id.

        Upserts the agency (latest names win), then writes the target row, its evidence rows and its finding
        rows (each linked to the evidence whose probe_id is the finding's evidence_probe_id), in bulk.
        """
        _check_result(agency, result)
        try:
            with self._write() as session:
                self._upsert_agency(session, agency)  # a write first: SQLite takes its write lock right away
                if session.get(RunRecord, run_id) is None:
                    raise NotFoundError(f"no run {run_id!r}")
                host = RunHostRecord(
                    run_id=run_id,
                    agency_id=agency.id,
                    host_name=result.host_name,
                    kind=result.kind,
                    address=result.address,
                    status=result.status.value,
                    error_reason=result.error_reason,
                    error_detail=result.error_detail,
                    facts=result.facts.model_dump(mode="json") if result.facts is not None else None,
                    exec_requests=result.exec_requests,
                    started_at=result.started_at,
                    finished_at=result.finished_at,
                )
                session.add(host)
                session.flush()
                evidence_ids = self._insert_evidence(session, host.id, result)
                if result.findings:
                    session.execute(
                        insert(FindingRecord),
                        [
                            {
                                "run_id": run_id,
                                "run_host_id": host.id,
                                "check_id": finding.check_id,
                                "status": finding.status.value,
                                "severity": finding.severity.value,
                                "observed": finding.observed,
                                "expected": finding.expected,
                                "expected_vi": finding.expected_text.vi if finding.expected_text else None,
                                "expected_en": finding.expected_text.en if finding.expected_text else None,
                                "configured": finding.configured,
                                "reason_vi": finding.reason.vi,
                                "reason_en": finding.reason.en,
                                "requirements": [req.model_dump(mode="json") for req in finding.requirements],
                                "evidence_id": evidence_ids.get(finding.evidence_probe_id)
                                if finding.evidence_probe_id
                                else None,
                            }
                            for finding in result.findings
                        ],
                    )
                host_id = host.id
        except IntegrityError as exc:
            raise StoreError(
                f"cannot save host {result.host_name!r} for run {run_id!r} "
                f"(already saved, or inconsistent data): {sql_reason(exc)}"
            ) from None
        return host_id

    @staticmethod
    def _insert_evidence(session: Session, run_host_id: int, result: HostResult) -> dict[str, int]:
        """All evidence rows of the target in one statement; probe id → evidence id."""
        if not result.observations:
            return {}
        rows = session.execute(
            insert(EvidenceRecord).returning(EvidenceRecord.id, EvidenceRecord.probe_id, sort_by_parameter_order=True),
            [
                {
                    "run_host_id": run_host_id,
                    "probe_id": obs.probe_id,
                    "command": obs.command,
                    "outcome": obs.outcome.value,
                    "exit_code": obs.exit_code,
                    "stdout": obs.stdout,
                    "stderr": obs.stderr,
                    "sha256": obs.sha256,
                    "duration_s": obs.duration_s,
                    "truncated": obs.truncated,
                    "collected_at": obs.collected_at,
                }
                for obs in result.observations
            ],
        ).all()
        return {probe_id: evidence_id for evidence_id, probe_id in rows}

    def _upsert_agency(self, session: Session, agency: Agency) -> None:
        values = {"id": agency.id, "name_vi": agency.name.vi, "name_en": agency.name.en}
        # Only the dialect in use is imported: PostgreSQL's costs a SQLite audit tens of milliseconds.
        if self._is_sqlite:
            from sqlalchemy.dialects import sqlite as dialect
        else:
            from sqlalchemy.dialects import postgresql as dialect  # type: ignore[no-redef]
        statement = dialect.insert(AgencyRecord).values(values)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["id"],
                set_={"name_vi": statement.excluded.name_vi, "name_en": statement.excluded.name_en},
            )
        )
