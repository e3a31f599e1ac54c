"""Times as the agency reads them. The store keeps UTC; the command line shows the profile's time zone
(``report_timezone``, Asia/Ho_Chi_Minh by default, the zone the reports use) and names its offset, e.g. "+07"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Clock:
    zone: ZoneInfo

    def local(self, value: datetime) -> datetime:
        from auditor.reports.timing import local

        return local(value, self.zone)

    def minute(self, value: datetime) -> str:
        return self.local(value).strftime("%Y-%m-%d %H:%M")

    def second(self, value: datetime) -> str:
        return self.local(value).isoformat(sep=" ", timespec="seconds")

    def offset(self, at: datetime | None = None) -> str:
        """The zone's offset from UTC as a label: "+07", "-03:30"."""
        delta = (at or datetime.now(UTC)).astimezone(self.zone).utcoffset()
        minutes = int(delta.total_seconds() // 60) if delta is not None else 0
        sign = "-" if minutes < 0 else "+"
        hours, rest = divmod(abs(minutes), 60)
        return f"{sign}{hours:02d}" + (f":{rest:02d}" if rest else "")

    def end_of_day(self, day: date) -> datetime:
        """The last second of ``day`` in this zone, as a UTC moment (how the store compares)."""
        return datetime.combine(day, time(23, 59, 59), tzinfo=self.zone).astimezone(UTC)


def profile_clock() -> Clock:
    """The profile's zone (validated as the reports validate it); the default when the profile sets none."""
    from auditor.cli.profile import bundled_profile
    from auditor.reports.timing import DEFAULT_TIMEZONE, report_settings

    profile = bundled_profile()
    return Clock(report_settings(profile).zone if profile is not None else ZoneInfo(DEFAULT_TIMEZONE))
