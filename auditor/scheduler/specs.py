"""What a schedule is made of, checked once for the command line and the portal alike, and the changes both
make to it (resuming skips the slots missed while paused)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from auditor.errors import ConfigError
from auditor.said import said
from auditor.scheduler.cron import DEFAULT_TIMEZONE, next_slot, validate_cron, validate_timezone
from auditor.vocabulary import Only

if TYPE_CHECKING:
    from auditor.store import Store
    from auditor.store.views import ScheduleRow

ALL_AGENCIES = "*"  # what forms send for "every agency"


@dataclass(frozen=True)
class ScheduleSpec:
    cron: str
    timezone: str = DEFAULT_TIMEZONE
    agency_id: str | None = None  # None: every agency of the inventory at the time of each run
    only: Only | None = None

    def detail(self) -> dict[str, Any]:
        """For the activity log."""
        return {
            "cron": self.cron,
            "timezone": self.timezone,
            "agency_id": self.agency_id,
            "only": self.only.value if self.only else None,
        }


def parse_only(value: str | None) -> Only | None:
    if value is None or not value.strip():
        return None
    try:
        return Only(value.strip())
    except ValueError:
        raise ConfigError(said("err_unknown_agent", agent=value, known=", ".join(o.value for o in Only))) from None


def schedule_spec(
    cron: str, timezone: str | None, agency_id: str | None, only: str | Only | None, known: Collection[str]
) -> ScheduleSpec:
    """A checked schedule: a valid cron and timezone, an agency that exists (or every agency), a known agent."""
    agency = (agency_id or "").strip()
    if agency in ("", ALL_AGENCIES):
        agency = ""
    elif agency not in known:
        listed = ", ".join(sorted(known)) or said("known_none")
        raise ConfigError(said("err_unknown_agency", agency=agency, known=listed))
    return ScheduleSpec(
        cron=validate_cron(cron),
        timezone=validate_timezone(timezone or DEFAULT_TIMEZONE),
        agency_id=agency or None,
        only=only if isinstance(only, Only) else parse_only(only),
    )


def add_schedule(store: Store, spec: ScheduleSpec, created_by: str, now: datetime) -> ScheduleRow:
    return store.add_schedule(
        spec.cron,
        spec.timezone,
        created_by,
        now,
        agency_id=spec.agency_id,
        only_agent=spec.only.value if spec.only else None,
    )


def resume_schedule(store: Store, schedule_id: int, now: datetime) -> ScheduleRow:
    """Active again from now on: the slots that passed while it was paused are not run."""
    store.set_schedule_paused(schedule_id, False)
    store.claim_slot(schedule_id, now)
    return store.get_schedule(schedule_id)


def next_due(row: ScheduleRow) -> datetime | None:
    """When the schedule runs next (in the past: it is overdue and runs at the next check); None when paused."""
    if row.paused or row.removed_at is not None:
        return None
    return next_slot(row.cron, row.timezone, row.last_slot_at or row.created_at)


def spec_of(row: ScheduleRow) -> ScheduleSpec:
    return ScheduleSpec(
        cron=row.cron,
        timezone=row.timezone,
        agency_id=row.agency_id,
        only=Only(row.only_agent) if row.only_agent else None,
    )
