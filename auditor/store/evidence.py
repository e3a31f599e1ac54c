"""Evidence: the exact bytes a finding was judged on, read in batches and re-verified against their hashes."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy import Select, select

from auditor.errors import NotFoundError
from auditor.said import said
from auditor.store.base import StoreBase
from auditor.store.rows import evidence_row, recompute_sha256
from auditor.store.schema import EvidenceRecord, FindingRecord, RunHostRecord
from auditor.store.views import EvidenceRow

_BATCH = 500  # ids per IN (...) list


def evidence_query() -> Select[EvidenceRecord, str, str, str]:
    return select(EvidenceRecord, RunHostRecord.run_id, RunHostRecord.agency_id, RunHostRecord.host_name).join(
        RunHostRecord, RunHostRecord.id == EvidenceRecord.run_host_id
    )


class EvidenceStore(StoreBase):
    def evidence(self, ids: Iterable[int], *, verify: bool = True) -> dict[int, EvidenceRow]:
        """Evidence rows by id, all in one session; with ``verify`` each row says whether its stored hash still
        matches its stored bytes. Ids that do not exist are absent from the answer."""
        wanted = sorted(set(ids))
        found: dict[int, EvidenceRow] = {}
        with self._read() as session:
            for start in range(0, len(wanted), _BATCH):
                chunk = wanted[start : start + _BATCH]
                for record, run_id, agency_id, host_name in session.execute(
                    evidence_query().where(EvidenceRecord.id.in_(chunk))
                ):
                    verified = secrets.compare_digest(recompute_sha256(record), record.sha256) if verify else None
                    found[record.id] = evidence_row(record, run_id, agency_id, host_name, verified)
        return found

    def get_evidence(self, finding_id: int, *, verify: bool = True) -> EvidenceRow:
        """The evidence backing a finding; NotFoundError when the finding does not exist or cites none."""
        with self._read() as session:
            finding = session.get(FindingRecord, finding_id)
            if finding is None:
                raise NotFoundError(said("err_no_finding", finding=finding_id))
            if finding.evidence_id is None:
                raise NotFoundError(said("err_finding_no_evidence", finding=finding_id, check=finding.check_id))
            evidence_id = finding.evidence_id
        row = self.evidence([evidence_id], verify=verify).get(evidence_id)
        if row is None:  # pragma: no cover - the foreign key prevents it
            raise NotFoundError(said("err_no_evidence_for", finding=finding_id))
        return row

    def verify_evidence(self, evidence_id: int) -> bool:
        """Recompute the stored evidence hash exactly as Observation.sha256 does and compare it."""
        row = self.evidence([evidence_id], verify=True).get(evidence_id)
        if row is None:
            raise NotFoundError(said("err_no_evidence", evidence=evidence_id))
        return bool(row.verified)
