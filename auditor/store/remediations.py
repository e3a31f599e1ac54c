"""Remediation records: what `auditor remediate` ran, against which audit run, and the run that re-verified it.

The table lives on the store's metadata (migration 0004); the record is written at start and updated
when the remediation ends, so an interrupted remediation is visible as ``running``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, ForeignKey, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from auditor.errors import NotFoundError
from auditor.store.repository import Store
from auditor.store.schema import Base, UTCDateTime


class RemediationRecord(Base):
    __tablename__ = "remediations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_run_id: Mapped[str] = mapped_column(String(40), ForeignKey("runs.id"), nullable=False)
    verify_run_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("runs.id"), nullable=True)
    mode: Mapped[str] = mapped_column(String(8), nullable=False)  # check | apply
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # running | completed | stopped | failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    tool_version: Mapped[str] = mapped_column(String(64), nullable=False)
    data_dir: Mapped[str] = mapped_column(Text, nullable=False)  # ansible-runner private data dir (evidence)
    selection: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class RemediationRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

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


def new_remediation_id(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"m-{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def start_remediation(
    store: Store,
    remediation_id: str,
    source_run_id: str,
    mode: str,
    tool_version: str,
    data_dir: str,
    selection: dict[str, Any],
) -> None:
    with store._write() as session:
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
    store: Store, remediation_id: str, status: str, outcome: dict[str, Any], verify_run_id: str | None = None
) -> None:
    with store._write() as session:
        done = session.execute(
            update(RemediationRecord)
            .where(RemediationRecord.id == remediation_id)
            .values(status=status, outcome=outcome, verify_run_id=verify_run_id, finished_at=datetime.now(UTC))
            .returning(RemediationRecord.id)
        ).first()
        if done is None:
            raise NotFoundError(f"no remediation {remediation_id!r}")


def get_remediation(store: Store, remediation_id: str) -> RemediationRow:
    with store._read() as session:
        record = session.get(RemediationRecord, remediation_id)
        if record is None:
            raise NotFoundError(f"no remediation {remediation_id!r}")
        return _row(record)


def list_remediations(store: Store, source_run_id: str | None = None) -> list[RemediationRow]:
    query = select(RemediationRecord).order_by(RemediationRecord.started_at.desc())
    if source_run_id is not None:
        query = query.where(RemediationRecord.source_run_id == source_run_id)
    with store._read() as session:
        return [_row(record) for record in session.scalars(query)]


def _row(record: RemediationRecord) -> RemediationRow:
    return RemediationRow(
        id=record.id,
        source_run_id=record.source_run_id,
        verify_run_id=record.verify_run_id,
        mode=record.mode,
        status=record.status,
        started_at=record.started_at,
        finished_at=record.finished_at,
        tool_version=record.tool_version,
        data_dir=record.data_dir,
        selection=record.selection,
        outcome=record.outcome,
    )
