"""Schedules of audits, and the leases that keep two runs of one agency from overlapping, also across
server processes sharing the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auditor.errors import NotFoundError
from auditor.said import said
from auditor.store.base import StoreBase
from auditor.store.runs import mark_interrupted
from auditor.store.schema import AuditLeaseRecord, ScheduleRecord
from auditor.store.views import LeaseRow, ScheduleRow
from auditor.vocabulary import RunEndReason


class ScheduleStore(StoreBase):
    # -- schedules ---------------------------------------------------------------------------------------------

    def add_schedule(
        self,
        cron: str,
        timezone: str,
        created_by: str,
        now: datetime,
        *,
        agency_id: str | None = None,
        only_agent: str | None = None,
    ) -> ScheduleRow:
        with self._write() as session:
            record = ScheduleRecord(
                agency_id=agency_id,
                cron=cron,
                timezone=timezone,
                only_agent=only_agent,
                paused=False,
                removed_at=None,
                created_by=created_by,
                created_at=now,
                # the first slot due is the first one after its creation, not a backlog
                last_slot_at=now,
            )
            session.add(record)
            session.flush()
            return ScheduleRow.model_validate(record, from_attributes=True)

    def list_schedules(self, *, include_removed: bool = False) -> list[ScheduleRow]:
        query = select(ScheduleRecord).order_by(ScheduleRecord.id)
        if not include_removed:
            query = query.where(ScheduleRecord.removed_at.is_(None))
        with self._read() as session:
            return [ScheduleRow.model_validate(r, from_attributes=True) for r in session.scalars(query)]

    def get_schedule(self, schedule_id: int) -> ScheduleRow:
        with self._read() as session:
            record = session.get(ScheduleRecord, schedule_id)
            if record is None or record.removed_at is not None:
                raise NotFoundError(said("err_no_schedule", id=schedule_id))
            return ScheduleRow.model_validate(record, from_attributes=True)

    def set_schedule_paused(self, schedule_id: int, paused: bool) -> ScheduleRow:
        return self._update_schedule(schedule_id, paused=paused)

    def remove_schedule(self, schedule_id: int, now: datetime) -> ScheduleRow:
        """Removed schedules stay in the table (the activity log refers to them) and never run again."""
        return self._update_schedule(schedule_id, removed_at=now)

    def claim_slot(self, schedule_id: int, slot: datetime) -> bool:
        """Mark ``slot`` handled for this schedule unless a later or equal one is: exactly one process wins it."""
        with self._write() as session:
            result = session.execute(
                update(ScheduleRecord)
                .where(
                    ScheduleRecord.id == schedule_id,
                    ScheduleRecord.removed_at.is_(None),
                    or_(ScheduleRecord.last_slot_at.is_(None), ScheduleRecord.last_slot_at < slot),
                )
                .values(last_slot_at=slot)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def _update_schedule(self, schedule_id: int, **values: object) -> ScheduleRow:
        with self._write() as session:
            record = session.get(ScheduleRecord, schedule_id)
            if record is None or record.removed_at is not None:
                raise NotFoundError(said("err_no_schedule", id=schedule_id))
            for name, value in values.items():
                setattr(record, name, value)
            session.flush()
            return ScheduleRow.model_validate(record, from_attributes=True)

    # -- leases ------------------------------------------------------------------------------------------------

    def acquire_leases(self, agency_ids: Sequence[str], holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take the lease of every agency, or of none (another holder still has one that has not expired).

        An expired lease taken over here may be the last trace of a run whose process died: that run, if still
        ``running``, is ended as interrupted in the same transaction."""
        wanted = sorted(set(agency_ids))
        try:
            with self._write() as session:
                _drop_expired_leases(session, AuditLeaseRecord.agency_id.in_(wanted), AuditLeaseRecord.expires_at < now)
                session.add_all(
                    AuditLeaseRecord(agency_id=a, holder=holder, run_id=None, acquired_at=now, expires_at=now + ttl)
                    for a in wanted
                )
                session.flush()
        except IntegrityError:
            return False
        return True

    def renew_leases(self, holder: str, now: datetime, ttl: timedelta, run_id: str | None = None) -> int:
        """Extend the holder's leases (and name the run they protect); returns how many it still holds."""
        values: dict[str, object] = {"expires_at": now + ttl}
        if run_id is not None:
            values["run_id"] = run_id
        with self._write() as session:
            result = session.execute(
                update(AuditLeaseRecord)
                .where(AuditLeaseRecord.holder == holder, AuditLeaseRecord.expires_at >= now)
                .values(**values)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def interrupt_orphaned_runs(self, now: datetime) -> list[str]:
        """End as interrupted every ``running`` run whose lease expired, and drop those leases; returns the runs.

        A live run renews its leases every heartbeat, so an expired lease naming a run means the process that
        started it stopped. Runs without a lease (started from the command line) are left alone: nothing here
        can tell whether their process still lives. Should a run's process outlive its lease after all, its
        own end overwrites this status."""
        with self._write() as session:
            return _drop_expired_leases(
                session, AuditLeaseRecord.expires_at < now, AuditLeaseRecord.run_id.is_not(None)
            )

    def release_leases(self, holder: str) -> None:
        with self._write() as session:
            session.execute(delete(AuditLeaseRecord).where(AuditLeaseRecord.holder == holder))

    def list_leases(self) -> list[LeaseRow]:
        with self._read() as session:
            records = session.scalars(select(AuditLeaseRecord).order_by(AuditLeaseRecord.agency_id))
            return [LeaseRow.model_validate(r, from_attributes=True) for r in records]


def _drop_expired_leases(session: Session, *expired: ColumnElement[bool]) -> list[str]:
    """Delete the leases matching ``expired``; the runs they named that are still running end as interrupted
    (their process stopped renewing them). Returns those runs. A write first: SQLite locks at once."""
    named = session.scalars(delete(AuditLeaseRecord).where(*expired).returning(AuditLeaseRecord.run_id)).all()
    return mark_interrupted(
        session, sorted({run_id for run_id in named if run_id is not None}), RunEndReason.process_stopped
    )
