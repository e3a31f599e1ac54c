"""What a run recorded of each agency it audited: the owner of the fixes (name and title) and the time zone,
written with the agency's first targets of the run. The contact's email and phone are never stored."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.inventory import Agency
from auditor.store.base import StoreBase
from auditor.store.schema import RunAgencyRecord


class RunAgencyRow(BaseModel):
    """An agency as one run recorded it; None fields: the inventory gave none."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    agency_id: str
    owner_name: str | None = None
    owner_title: str | None = None
    timezone: str | None = None

    @property
    def has_owner(self) -> bool:
        return bool(self.owner_name or self.owner_title)


def _blank_to_none(value: str | None) -> str | None:
    return value if value and value.strip() else None


def recorded_values(run_id: str, agency: Agency) -> dict[str, str | None]:
    """The row a run records of ``agency``: only what reports need, chosen field by field."""
    contact = agency.contact
    return {
        "run_id": run_id,
        "agency_id": agency.id,
        "owner_name": _blank_to_none(contact.name) if contact else None,
        "owner_title": _blank_to_none(contact.title) if contact else None,
        "timezone": agency.timezone,
    }


class RunAgencyStore(StoreBase):
    def _record_run_agencies(self, session: Session, run_id: str, agencies: Iterable[Agency]) -> None:
        """Record each agency in the run once: the first record of an agency in a run stands (a run appended to
        later keeps what it recorded first)."""
        if self._is_sqlite:
            from sqlalchemy.dialects import sqlite as dialect
        else:
            from sqlalchemy.dialects import postgresql as dialect  # type: ignore[no-redef]
        rows = [recorded_values(run_id, agency) for agency in agencies]
        if rows:
            session.execute(dialect.insert(RunAgencyRecord).values(rows).on_conflict_do_nothing())

    def run_agency(self, run_id: str, agency_id: str) -> RunAgencyRow | None:
        """What ``run_id`` recorded of ``agency_id``; None for a run recorded before this was kept, or one that
        did not audit the agency."""
        with self._read() as session:
            record = session.get(RunAgencyRecord, (run_id, agency_id))
            if record is None:
                return None
            return RunAgencyRow(
                run_id=record.run_id,
                agency_id=record.agency_id,
                owner_name=record.owner_name,
                owner_title=record.owner_title,
                timezone=record.timezone,
            )

    def run_agencies(self, run_id: str) -> list[RunAgencyRow]:
        """Every agency ``run_id`` recorded, by id."""
        with self._read() as session:
            records = session.scalars(
                select(RunAgencyRecord).where(RunAgencyRecord.run_id == run_id).order_by(RunAgencyRecord.agency_id)
            )
            return [
                RunAgencyRow(
                    run_id=r.run_id,
                    agency_id=r.agency_id,
                    owner_name=r.owner_name,
                    owner_title=r.owner_title,
                    timezone=r.timezone,
                )
                for r in records
            ]
