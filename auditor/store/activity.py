"""The activity log: every login, download, upload, decision, schedule change and manual run, append-only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from auditor.store.base import StoreBase
from auditor.store.schema import ActivityRecord
from auditor.store.views import ActivityRow

_TEXT_MAX = 500  # characters kept of a target or a detail value (they may come from request data)


def _clip(value: str) -> str:
    return value if len(value) <= _TEXT_MAX else value[: _TEXT_MAX - 1] + "…"


class ActivityStore(StoreBase):
    def log_activity(
        self,
        actor: str,
        action: str,
        target: str,
        now: datetime,
        *,
        role: str | None = None,
        agency_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        remote_addr: str | None = None,
    ) -> int:
        """Append one entry (there is no way to change or remove one). Returns its id."""
        clean = {str(k): _clip(v) if isinstance(v, str) else v for k, v in (detail or {}).items()}
        with self._write() as session:
            record = ActivityRecord(
                at=now,
                actor=_clip(actor),
                role=role,
                action=action,
                agency_id=agency_id,
                target=_clip(target),
                detail=clean,
                remote_addr=remote_addr,
            )
            session.add(record)
            session.flush()
            return record.id

    def list_activity(
        self,
        *,
        since: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        agency_id: str | None = None,
        limit: int | None = 500,
    ) -> list[ActivityRow]:
        """Newest first, narrowed by each filter given."""
        query = select(ActivityRecord).order_by(ActivityRecord.at.desc(), ActivityRecord.id.desc())
        if since is not None:
            query = query.where(ActivityRecord.at >= since)
        if actor is not None:
            query = query.where(ActivityRecord.actor == actor)
        if action is not None:
            query = query.where(ActivityRecord.action == action)
        if agency_id is not None:
            query = query.where(ActivityRecord.agency_id == agency_id)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as session:
            return [ActivityRow.model_validate(r, from_attributes=True) for r in session.scalars(query)]
