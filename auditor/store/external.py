"""Results of other tools: an import is a run of its own (options ``kind: external``) with one target, the
results file as its one evidence row, and one finding per result, of source ``external:<tool>``, all written in
ONE transaction. Reports and verdicts of an agency take the latest import per host and tool recorded by their
moment, next to the run they describe."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from auditor.errors import NotFoundError, StoreError
from auditor.evaluation.findings import HostStatus
from auditor.evaluation.observations import Observation, ProbeOutcome
from auditor.foreign import theirs
from auditor.inventory import Agency
from auditor.said import said
from auditor.store.base import sql_reason
from auditor.store.findings import FindingStore, finding_query
from auditor.store.results import ResultStore
from auditor.store.rows import finding_row
from auditor.store.runs import IMPORT_KIND, new_run_id
from auditor.store.schema import AgencyRecord, EvidenceRecord, FindingRecord, RunHostRecord, RunRecord
from auditor.store.views import FindingRow, RunStatus

if TYPE_CHECKING:
    from auditor.external.record import ExternalImport


def evidence_of(imported: ExternalImport, collected_at: datetime) -> Observation:
    """The results file as the evidence of every finding of the import, hashed like any observation."""
    return Observation(
        probe_id=imported.source,
        command=f"auditor import --tool {imported.source.removeprefix('external:')} {imported.file_name}",
        outcome=ProbeOutcome.completed,
        exit_code=0,
        stdout=imported.file_bytes,
        collected_at=collected_at,
    )


class ExternalStore(ResultStore, FindingStore):
    def save_external_import(
        self,
        imported: ExternalImport,
        *,
        address: str,
        tool_version: str,
        checklist_version: str,
        agency: Agency | None = None,
        now: datetime | None = None,
    ) -> str:
        """Record one import as a completed run; returns its id. ``agency`` (from an inventory) is upserted; without
        it the agency must already be known to the store. Nothing is written unless everything is."""
        moment = now or datetime.now(UTC)
        report = imported.report
        observation = evidence_of(imported, report.finished_at or moment)
        options = {
            "kind": IMPORT_KIND,
            "source": imported.source,
            "tool": imported.tool_name,
            "agency": imported.agency_id,
            "host": imported.host_name,
            "file": imported.file_name,
            "file_sha256": imported.file_sha256,
            "benchmark": report.benchmark,
            "target_in_file": report.target,
            "results": len(imported.findings),
            "mapped": imported.mapped,
            "unmapped": imported.unmapped,
            "skipped": report.skipped,
        }
        for _attempt in range(5):
            run_id = new_run_id(moment)
            try:
                with self._write() as session:
                    if agency is not None:
                        self._upsert_agency(session, agency)  # a write first: SQLite takes its write lock at once
                    elif session.get(AgencyRecord, imported.agency_id) is None:
                        ids = ", ".join(session.scalars(select(AgencyRecord.id).order_by(AgencyRecord.id)))
                        known = ids or said("known_none")
                        raise NotFoundError(
                            said(
                                "err_store_import_unknown_agency",
                                agency=imported.agency_id,
                                known=known,
                                option="--inventory",
                            )
                        )
                    session.add(
                        RunRecord(
                            id=run_id,
                            started_at=moment,
                            finished_at=moment,
                            status=RunStatus.completed.value,
                            tool_version=tool_version,
                            checklist_version=checklist_version,
                            inventory_sha256="",
                            options=options,
                            counts={"findings": imported.status_counts()},
                        )
                    )
                    session.flush()  # the run row first: nothing orders these inserts by foreign key
                    host = RunHostRecord(
                        run_id=run_id,
                        agency_id=imported.agency_id,
                        host_name=imported.host_name,
                        kind="host",
                        address=address,
                        status=HostStatus.ok.value,
                        exec_requests=0,
                        started_at=report.started_at or moment,
                        finished_at=report.finished_at or moment,
                    )
                    session.add(host)
                    session.flush()
                    evidence = EvidenceRecord(
                        run_host_id=host.id,
                        probe_id=observation.probe_id,
                        command=observation.command,
                        outcome=observation.outcome.value,
                        exit_code=observation.exit_code,
                        stdout=observation.stdout,
                        stderr=observation.stderr,
                        sha256=observation.sha256,
                        duration_s=0.0,
                        truncated=False,
                        collected_at=observation.collected_at,
                    )
                    session.add(evidence)
                    session.flush()
                    if imported.findings:
                        session.execute(
                            insert(FindingRecord),
                            [
                                {
                                    "run_id": run_id,
                                    "run_host_id": host.id,
                                    "check_id": f.check_id,
                                    "status": f.status.value,
                                    "severity": f.severity.value,
                                    "observed": f.observed,
                                    "expected": f.expected,
                                    "expected_vi": f.expected_text.vi,
                                    "expected_en": f.expected_text.en,
                                    "configured": None,
                                    "reason_vi": f.reason.vi,
                                    "reason_en": f.reason.en,
                                    "requirements": [r.model_dump(mode="json") for r in f.requirements],
                                    "evidence_id": evidence.id,
                                    "source": imported.source,
                                }
                                for f in imported.findings
                            ],
                        )
                return run_id
            except IntegrityError as exc:
                with self._read() as check:
                    if check.get(RunRecord, run_id) is not None:
                        continue  # another run took this id (same second, same 4 random hex digits): draw again
                raise StoreError(
                    said("err_store_import_unsaved", file=imported.file_name, reason=theirs("db", sql_reason(exc)))
                ) from None
        raise StoreError(said("err_store_run_id_exhausted"))

    def external_findings(self, agency_id: str, as_of: datetime, exclude_run: str | None = None) -> list[FindingRow]:
        """The agency's imported findings in effect at ``as_of``: per host and source, those of the latest import
        recorded by then. ``exclude_run``: a run whose own findings the caller already has."""
        latest = (
            select(RunHostRecord.host_name, FindingRecord.source, RunRecord.id, RunRecord.started_at)
            .join(RunRecord, RunRecord.id == RunHostRecord.run_id)
            .join(FindingRecord, FindingRecord.run_host_id == RunHostRecord.id)
            .where(
                RunHostRecord.agency_id == agency_id,
                FindingRecord.source.is_not(None),
                RunRecord.started_at <= as_of,
            )
            .distinct()
            .order_by(RunRecord.started_at, RunRecord.id)
        )
        with self._read() as session:
            chosen: dict[tuple[str, str | None], str] = {}
            for host_name, source, run_id, _started in session.execute(latest):
                chosen[(host_name, source)] = run_id  # later imports win
            wanted = sorted({run_id for run_id in chosen.values() if run_id != exclude_run})
            if not wanted:
                return []
            rows = session.execute(
                finding_query()
                .where(FindingRecord.run_id.in_(wanted), FindingRecord.source.is_not(None))
                .order_by(RunHostRecord.host_name, FindingRecord.source, FindingRecord.check_id)
            ).all()
        return [
            finding_row(row[0], row[1], row[2]) for row in rows if chosen.get((row[2], row[0].source)) == row[0].run_id
        ]
