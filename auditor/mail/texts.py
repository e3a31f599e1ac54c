"""The words of the mails, from auditor/locale/portal_mail.yml, and how they show dates: DD/MM/YYYY in the
agency's time zone (Viet Nam time unless the inventory gives it another). Mails are Vietnamese with at most one
English line."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from auditor.reports.locale import strings
from auditor.reports.models import Lang

LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")


def text(key: str, lang: Lang = "vi", **values: object) -> str:
    return strings(lang, "portal_mail").format(key, **values)


def verdict_label(verdict: str, lang: Lang = "vi") -> str:
    return strings(lang, "report").get(f"verdict_{verdict}")


def local_day(moment: datetime, zone: ZoneInfo = LOCAL_TIME) -> date:
    return moment.astimezone(zone).date()


def day(value: datetime | date, zone: ZoneInfo = LOCAL_TIME) -> str:
    """A day as people in Viet Nam write it, in ``zone`` (an agency's own, else Viet Nam time)."""
    return (local_day(value, zone) if isinstance(value, datetime) else value).strftime("%d/%m/%Y")


def stamp(value: datetime | date, zone: ZoneInfo = LOCAL_TIME) -> str:
    """A day in file names: YYYYMMDD, in ``zone``."""
    return (local_day(value, zone) if isinstance(value, datetime) else value).strftime("%Y%m%d")


def one_line(value: str, limit: int = 200) -> str:
    """Text from the inventory or the store made safe for a subject or a list line: no control characters,
    no line breaks, no bidi overrides, whitespace collapsed, cut."""
    flat = " ".join(_CONTROL.sub(" ", value).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
