"""Report settings read from the profile inputs (time zone, reporting day, fix deadlines), and local time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from auditor.content.checks import Profile
from auditor.errors import ConfigError
from auditor.foreign import foreign, theirs

if TYPE_CHECKING:
    from auditor.inventory import Agency

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


class ReportSettings(BaseModel):
    """What the reports need from the profile: validated once, so a bad value is named before any page renders."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = DEFAULT_TIMEZONE
    reporting_day: str = Field(default="11-25", pattern=r"^\d{2}-\d{2}$")  # MM-DD
    fix_deadline_days: dict[str, int] = Field(
        default_factory=lambda: {"critical": 7, "high": 30, "medium": 90, "low": 180}
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "Asia"
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Ho_Chi_Minh)") from None
        return value

    @field_validator("reporting_day")
    @classmethod
    def _real_day(cls, value: str) -> str:
        month, day = (int(part) for part in value.split("-"))
        date(2024, month, day)  # a leap year, so 02-29 is accepted; ValueError names a bad month or day
        return value

    @field_validator("fix_deadline_days")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(severity for severity, days in value.items() if days < 0)
        if bad:
            raise ValueError(f"fix deadlines must be 0 days or more: {', '.join(bad)}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def due(self, audit_started: datetime, severity: str) -> datetime:
        return audit_started + timedelta(days=self.fix_deadline_days.get(severity, self.fix_deadline_days["low"]))

    def next_reporting_date(self, generated_at: datetime) -> datetime:
        """The first reporting day (end of that day, local time) not before the generation date."""
        local = generated_at.astimezone(self.zone)
        month, day = (int(part) for part in self.reporting_day.split("-"))
        for year in (local.year, local.year + 1, local.year + 2):
            try:
                candidate = datetime(year, month, day, 23, 59, tzinfo=self.zone)
            except ValueError:  # 29 February in a common year
                continue
            if candidate.date() >= local.date():
                return candidate
        raise ConfigError(foreign("report_no_reporting_day", day=self.reporting_day))  # unreachable for valid days


def report_settings(profile: Profile, overrides: dict[str, int | float | str | bool] | None = None) -> ReportSettings:
    """The profile's report inputs (an agency's overrides applied); a profile without them gets the defaults."""
    values = {name: value for name, value in profile.values().items()}
    values.update({k: v for k, v in (overrides or {}).items() if k in profile.inputs})
    raw: dict[str, object] = {}
    if "report_timezone" in values:
        raw["timezone"] = str(values["report_timezone"])
    if "reporting_day" in values:
        raw["reporting_day"] = str(values["reporting_day"])
    deadlines = {
        severity: values[f"fix_deadline_days_{severity}"]
        for severity in ("critical", "high", "medium", "low")
        if f"fix_deadline_days_{severity}" in values
    }
    if deadlines:
        raw["fix_deadline_days"] = {**ReportSettings().fix_deadline_days, **deadlines}
    try:
        return ReportSettings.model_validate(raw)
    except ValueError as exc:
        raise ConfigError(
            foreign("report_inputs_invalid", profile=profile.id, error=theirs("python", str(exc)))
        ) from None


def agency_report_settings(profile: Profile, agency: Agency | None) -> ReportSettings:
    """The report settings of one agency: the profile's, the agency's input overrides applied, in the agency's own
    time zone when the inventory gives one (``None``: an agency the inventory does not list: the profile's)."""
    if agency is None:
        return report_settings(profile)
    settings = report_settings(profile, agency.inputs)
    return settings.model_copy(update={"timezone": agency.timezone}) if agency.timezone else settings


def local(value: datetime, zone: ZoneInfo) -> datetime:
    """A stored time (UTC; a naive one is read as UTC) in the agency's zone."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(zone)
