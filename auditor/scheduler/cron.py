"""Cron expressions evaluated in a schedule's own timezone: validation with clear messages, the next slot,
and the one slot due now (however many were missed, only the latest one runs)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

from auditor.errors import ConfigError
from auditor.foreign import foreign, quoted
from auditor.said import Said, said

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
FIELDS = "minute hour day-of-month month day-of-week"  # as the messages (err_cron_*) name them
ALIASES = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_PROBE = datetime(2026, 1, 1, tzinfo=UTC)
_VALUE_CHARS = 40  # of a field's value quoted in a message


def validate_cron(expression: str) -> str:
    """The expression with its fields separated by one space; ConfigError says what is wrong."""
    fields = expression.split()
    shown = " ".join(fields)
    if not fields:
        raise ConfigError(said("err_cron_empty"))
    if fields[0].startswith("@"):
        if len(fields) != 1 or fields[0].lower() not in ALIASES:
            raise ConfigError(said("err_cron_shortcut", cron=shown, known=", ".join(sorted(ALIASES))))
        return fields[0].lower()
    if len(fields) != 5:
        raise ConfigError(said("err_cron_count", cron=shown, count=len(fields)))
    try:
        croniter(shown, _PROBE).get_next(datetime)
    except CroniterBadDateError:
        raise ConfigError(said("err_cron_never", cron=shown)) from None
    except (CroniterBadCronError, CroniterError, ValueError, KeyError):
        raise ConfigError(said("err_cron_bad", cron=shown, reason=_fields_problem(fields))) from None
    return shown


def validate_timezone(name: str) -> str:
    """An IANA timezone name such as Asia/Ho_Chi_Minh; ConfigError otherwise."""
    cleaned = name.strip()
    try:
        if not cleaned or cleaned.startswith(("/", ".")):
            raise ValueError(cleaned)
        ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(said("err_timezone", zone=name, example=DEFAULT_TIMEZONE)) from None
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


_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))  # minute, hour, day-of-month, month, day-of-week
_NAMES: tuple[frozenset[str], ...] = (
    frozenset(),
    frozenset(),
    frozenset(),
    frozenset({"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}),
    frozenset({"sun", "mon", "tue", "wed", "thu", "fri", "sat"}),
)
# croniter's own additions (last day, nearest weekday, nth weekday): croniter judges them
_EXTENSION = re.compile(r"L|LW|\d{1,2}W|[0-7a-z]{1,3}#[1-5]|L[0-7]|[0-7]L", re.IGNORECASE)


def _fields_problem(fields: list[str]) -> Said:
    """Why croniter refused the five fields, found by reading them: the first value out of its field's range,
    step that is not a whole number of 1 or more, or value that is neither a number nor a name."""
    for index, text in enumerate(fields):
        name = foreign(f"cron_field_{index + 1}")
        low, high = _BOUNDS[index]
        for part in text.split(","):
            base, *steps = part.split("/")
            if len(steps) > 1:
                return foreign("cron_value", field=name, value=quoted(part, _VALUE_CHARS))
            if steps and (not steps[0].isdigit() or int(steps[0]) < 1):
                return foreign("cron_step", field=name, step=quoted(steps[0], _VALUE_CHARS))
            if base in {"*", "?"} or _EXTENSION.fullmatch(base):
                continue
            for value in base.split("-", 1):
                if value.isdigit() and not low <= int(value) <= high:
                    return foreign("cron_range", field=name, value=int(value), low=low, high=high)
                if not value.isdigit() and value.lower() not in _NAMES[index]:
                    return foreign("cron_value", field=name, value=quoted(part, _VALUE_CHARS))
    return foreign("cron_other")
