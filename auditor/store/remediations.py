"""Remediation records: what `auditor remediate` ran, against which audit run, and the run that re-verified it."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from auditor.errors import NotFoundError
from auditor.said import said
from auditor.store.base import StoreBase
from auditor.store.schema import RemediationRecord
from auditor.store.views import RemediationRow


def new_remediation_id(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"m-{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


class RemediationStore(StoreBase):
    def start_remediation(
        self,
        remediation_id: str,
        source_run_id: str,
        mode: str,
        tool_version: str,
        data_dir: str,
        selection: dict[str, Any],
    ) -> None:
        """Recorded as ``running`` before anything runs, so an interrupted remediation stays visible."""
        with self._write() as session:
            session.add(
                RemediationRecord(
                    id=remediation_id,
                    source_run_id=source_run_id,
                    verify_run_id=None,
                    mode=mode,
                    status="running",
                    started_at=datetime.now(UTC),
                    finished_at=None,
                    tool_version=tool_version,
                    data_dir=data_dir,
                    selection=selection,
                    outcome=None,
                )
            )

    def finish_remediation(
        self, remediation_id: str, status: str, outcome: dict[str, Any], verify_run_id: str | None = None
    ) -> None:
        with self._write() as session:
            done = session.execute(
                update(RemediationRecord)
                .where(RemediationRecord.id == remediation_id)
                .values(status=status, outcome=outcome, verify_run_id=verify_run_id, finished_at=datetime.now(UTC))
                .returning(RemediationRecord.id)
            ).first()
            if done is None:
                raise NotFoundError(said("err_store_no_remediation", remediation=remediation_id))

    def get_remediation(self, remediation_id: str) -> RemediationRow:
        with self._read() as session:
            record = session.get(RemediationRecord, remediation_id)
            if record is None:
                raise NotFoundError(said("err_store_no_remediation", remediation=remediation_id))
            return RemediationRow.model_validate(record, from_attributes=True)

    def list_remediations(self, source_run_id: str | None = None) -> list[RemediationRow]:
        query = select(RemediationRecord).order_by(RemediationRecord.started_at.desc())
        if source_run_id is not None:
            query = query.where(RemediationRecord.source_run_id == source_run_id)
        with self._read() as session:
            return [RemediationRow.model_validate(record, from_attributes=True) for record in session.scalars(query)]
