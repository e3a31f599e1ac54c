"""The canonical dump of one run: every target, finding and evidence row (evidence text capped), JSON-ready."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from auditor.run_end import run_end_for_machines
from auditor.store.findings import FindingStore
from auditor.store.rows import EXPORT_TEXT_CAP, aware, export_stream
from auditor.store.schema import EvidenceRecord, RunHostRecord

EXPORT_FORMAT = "auditor-run-export"
# 2: run counts split servers, network targets and agency items; 3: completed_with_errors, the run's status_detail
EXPORT_FORMAT_VERSION = 3


class ExportStore(FindingStore):
    def export_run(self, run_ref: str) -> dict[str, Any]:
        """A canonical, JSON-ready dump of one run (evidence text capped at 64 KiB per stream)."""
        run = self.get_run(run_ref)
        hosts = self.list_run_hosts(run.id)
        findings = self.list_findings(run.id)
        capped = func.substr
        with self._read() as session:
            evidence_rows = session.execute(
                select(
                    EvidenceRecord.id,
                    RunHostRecord.agency_id,
                    RunHostRecord.host_name,
                    EvidenceRecord.probe_id,
                    EvidenceRecord.command,
                    EvidenceRecord.outcome,
                    EvidenceRecord.exit_code,
                    EvidenceRecord.sha256,
                    EvidenceRecord.duration_s,
                    EvidenceRecord.truncated,
                    EvidenceRecord.collected_at,
                    func.length(EvidenceRecord.stdout),
                    func.length(EvidenceRecord.stderr),
                    capped(EvidenceRecord.stdout, 1, EXPORT_TEXT_CAP, type_=EvidenceRecord.stdout.type),
                    capped(EvidenceRecord.stderr, 1, EXPORT_TEXT_CAP, type_=EvidenceRecord.stderr.type),
                )
                .join(RunHostRecord, RunHostRecord.id == EvidenceRecord.run_host_id)
                .where(RunHostRecord.run_id == run.id)
                .order_by(RunHostRecord.agency_id, RunHostRecord.host_name, EvidenceRecord.probe_id)
            ).all()
        agencies = {h.agency_id: h.agency_name for h in hosts}
        return {
            "format": EXPORT_FORMAT,
            "format_version": EXPORT_FORMAT_VERSION,
            # a failed run's detail is stored in both languages; machines read its English, as always
            "run": {**run.model_dump(mode="json"), "status_detail": run_end_for_machines(run.status_detail)},
            "agencies": [{"id": aid, "name": agencies[aid].model_dump(mode="json")} for aid in sorted(agencies)],
            "hosts": [h.model_dump(mode="json") for h in hosts],
            "findings": [f.model_dump(mode="json") for f in findings],
            "evidence": [
                {
                    "id": eid,
                    "agency_id": agency_id,
                    "host_name": host_name,
                    "probe_id": probe_id,
                    "command": command,
                    "outcome": outcome,
                    "exit_code": exit_code,
                    "sha256": sha256,
                    "duration_s": duration_s,
                    "truncated": bool(truncated),
                    "collected_at": aware(collected_at).isoformat().replace("+00:00", "Z"),  # as pydantic writes
                    "stdout": export_stream(bytes(out_head or b""), int(out_len or 0)),
                    "stderr": export_stream(bytes(err_head or b""), int(err_len or 0)),
                }
                for (
                    eid,
                    agency_id,
                    host_name,
                    probe_id,
                    command,
                    outcome,
                    exit_code,
                    sha256,
                    duration_s,
                    truncated,
                    collected_at,
                    out_len,
                    err_len,
                    out_head,
                    err_head,
                ) in evidence_rows
            ],
        }
