"""Cron expressions evaluated in a schedule's own timezone: validation with clear messages, the next slot,
and the one slot due now (however many were missed, only the latest one runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

from auditor.errors import ConfigError

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
FIELDS = "minute hour day-of-month month day-of-week"
ALIASES = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_PROBE = datetime(2026, 1, 1, tzinfo=UTC)


def validate_cron(expression: str) -> str:
    """The expression with its fields separated by one space; ConfigError says what is wrong."""
    fields = expression.split()
    shown = " ".join(fields)
    if not fields:
        raise ConfigError(f"empty cron expression: give five fields ({FIELDS}), e.g. '0 2 * * 1'")
    if fields[0].startswith("@"):
        if len(fields) != 1 or fields[0].lower() not in ALIASES:
            raise ConfigError(f"cron {shown!r}: unknown shortcut (known: {', '.join(sorted(ALIASES))})")
        return fields[0].lower()
    if len(fields) != 5:
        raise ConfigError(f"cron {shown!r}: {len(fields)} fields, expected five ({FIELDS}), e.g. '0 2 * * 1'")
    try:
        croniter(shown, _PROBE).get_next(datetime)
    except CroniterBadDateError:
        raise ConfigError(f"cron {shown!r}: this date never occurs (e.g. 30 February)") from None
    except (CroniterBadCronError, CroniterError, ValueError, KeyError) as exc:
        raise ConfigError(f"cron {shown!r}: {_reason(exc)}; the five fields are {FIELDS}, e.g. '0 2 * * 1'") from None
    return shown


def validate_timezone(name: str) -> str:
    """An IANA timezone name such as Asia/Ho_Chi_Minh; ConfigError otherwise."""
    cleaned = name.strip()
    try:
        if not cleaned or cleaned.startswith(("/", ".")):
            raise ValueError(cleaned)
        ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            f"unknown timezone {name!r}: give an IANA name such as {DEFAULT_TIMEZONE} or Europe/Paris"
        ) from None
    return cleaned


def next_slot(cron: str, timezone: str, after: datetime) -> datetime:
    """The first slot strictly after ``after`` (UTC)."""
    local = after.astimezone(ZoneInfo(timezone))
    found: datetime = croniter(cron, local).get_next(datetime)
    return found.astimezone(UTC)


def latest_slot(cron: str, timezone: str, at: datetime) -> datetime:
    """The last slot at or before ``at`` (UTC)."""
    # croniter's previous slot is strictly earlier than its start: start at the next whole minute
    ceiling = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    found: datetime = croniter(cron, ceiling.astimezone(ZoneInfo(timezone))).get_prev(datetime)
    return found.astimezone(UTC)


def due_slot(cron: str, timezone: str, since: datetime, now: datetime) -> datetime | None:
    """The slot to run now, or None: the latest slot in (since, now], ``since`` being the last slot handled.
    Many missed slots (no server ran) give one slot, the latest, so a backlog runs once."""
    if next_slot(cron, timezone, since) > now:
        return None
    return latest_slot(cron, timezone, now)


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    if "out of range" in text:
        return "a value is out of range"
    if "step" in text:
        return text.split("] ", 1)[-1]
    return "a field holds a value cron does not know"
