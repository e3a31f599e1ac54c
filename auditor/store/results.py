"""Writing results: finished targets committed the moment they finish, several in one transaction when several
finished during the previous commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auditor.errors import NotFoundError, StoreError
from auditor.evaluation.findings import Finding, HostResult
from auditor.foreign import theirs
from auditor.inventory import Agency
from auditor.said import said
from auditor.store.base import sql_reason
from auditor.store.run_agencies import RunAgencyStore
from auditor.store.schema import AgencyRecord, EvidenceRecord, FindingRecord, RunHostRecord, RunRecord

# Core tables: rows go in as plain dicts, in one executemany per table (the ORM's bulk path costs far more per row).
_HOSTS = cast(Table, RunHostRecord.__table__)
_EVIDENCE = cast(Table, EvidenceRecord.__table__)
_FINDINGS = cast(Table, FindingRecord.__table__)


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


class ResultStore(RunAgencyStore):
    def save_host_result(self, run_id: str, agency: Agency, result: HostResult) -> int:
        """Store one finished target in ONE committed transaction; returns the run_hosts id."""
        return self.save_host_results(run_id, [(agency, result)])[0]

    def save_host_results(self, run_id: str, results: Sequence[tuple[Agency, HostResult]]) -> list[int]:
        """Store finished targets in ONE committed transaction, all or none; returns their run_hosts ids.

        The audit service hands over, at each commit, every target that finished while the previous one was
        being written: no target waits for others to finish, and one commit (one fsync) and one statement per
        table serve many targets. Upserts the agencies (latest names win) and records each once for the run
        (``run_agencies``: owner's name and title, time zone), then writes the target rows, their
        evidence rows and their finding rows (each linked to the evidence whose probe_id is the finding's
        evidence_probe_id), in bulk.
        """
        if not results:
            return []
        for agency, result in results:
            _check_result(agency, result)
        names = [result.host_name for _, result in results]
        try:
            with self._write() as session:
                agencies = {agency.id: agency for agency, _ in results}
                for agency in agencies.values():  # a write first: SQLite takes its write lock right away
                    self._upsert_agency(session, agency)
                if session.get(RunRecord, run_id) is None:
                    raise NotFoundError(said("err_no_run", run=run_id))
                self._record_run_agencies(session, run_id, agencies.values())  # owner and zone, for reports
                host_ids = self._insert_hosts(session, run_id, results)
                evidence_ids = self._insert_evidence(session, host_ids, results)
                findings = [
                    _finding_row(run_id, host_id, finding, evidence_ids)
                    for host_id, (_, result) in zip(host_ids, results, strict=True)
                    for finding in result.findings
                ]
                if findings:
                    session.connection().execute(insert(_FINDINGS), findings)
        except IntegrityError as exc:
            which = (
                said("store_host_one", name=repr(names[0]))
                if len(names) == 1
                else said("store_host_many", count=len(names), names=", ".join(names[:3]))
            )
            reason = theirs("db", sql_reason(exc))
            raise StoreError(said("store_host_not_saved", which=which, run=repr(run_id), reason=reason)) from None
        return host_ids

    @staticmethod
    def _insert_hosts(session: Session, run_id: str, results: Sequence[tuple[Agency, HostResult]]) -> list[int]:
        """The target rows in one statement; their ids in the order given."""
        table = _HOSTS
        rows = (
            session.connection()
            .execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True),
                [
                    {
                        "run_id": run_id,
                        "agency_id": agency.id,
                        "host_name": result.host_name,
                        "kind": result.kind,
                        "address": result.address,
                        "status": result.status.value,
                        "error_reason": result.error_reason,
                        "error_detail": result.error_detail,
                        "facts": result.facts.model_dump(mode="json") if result.facts is not None else None,
                        "exec_requests": result.exec_requests,
                        "started_at": result.started_at,
                        "finished_at": result.finished_at,
                    }
                    for agency, result in results
                ],
            )
            .all()
        )
        return [row[0] for row in rows]

    @staticmethod
    def _insert_evidence(
        session: Session, host_ids: Sequence[int], results: Sequence[tuple[Agency, HostResult]]
    ) -> dict[tuple[int, str], int]:
        """All evidence rows of the targets in one statement; (run_hosts id, probe id) → evidence id."""
        rows = [
            {
                "run_host_id": host_id,
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
            for host_id, (_, result) in zip(host_ids, results, strict=True)
            for obs in result.observations
        ]
        if not rows:
            return {}
        table = _EVIDENCE
        returned = session.connection().execute(
            insert(table).returning(table.c.id, table.c.run_host_id, table.c.probe_id, sort_by_parameter_order=True),
            rows,
        )
        return {(host_id, probe_id): evidence_id for evidence_id, host_id, probe_id in returned}

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


def _finding_row(
    run_id: str, host_id: int, finding: Finding, evidence_ids: dict[tuple[int, str], int]
) -> dict[str, Any]:
    expected = finding.expected_text
    return {
        "run_id": run_id,
        "run_host_id": host_id,
        "check_id": finding.check_id,
        "status": finding.status.value,
        "severity": finding.severity.value,
        "observed": finding.observed,
        "expected": finding.expected,
        "expected_vi": expected.vi if expected else None,
        "expected_en": expected.en if expected else None,
        "configured": finding.configured,
        "reason_vi": finding.reason.vi,
        "reason_en": finding.reason.en,
        "requirements": [req.model_dump(mode="json") for req in finding.requirements],
        "evidence_id": evidence_ids.get((host_id, finding.evidence_probe_id)) if finding.evidence_probe_id else None,
    }
