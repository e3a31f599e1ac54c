"""Rendering pages: one Jinja2 environment (the portal's templates, then the report templates for reuse),
autoescaped and strict, with the portal's and the reports' strings in the page's language."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from auditor.portal.access import optional_principal
from auditor.portal.security import LANG_COOKIE
from auditor.reports.locale import strings
from auditor.reports.render import environment as report_environment
from auditor.reports.render import reports_dir
from auditor.run_end import run_end_text
from auditor.textsafe import inert_text
from auditor.vocabulary import RunStatus

Lang = Literal["vi", "en"]
LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")


def portal_dir() -> Path:
    return Path(str(files("auditor.portal")))


@cache
def environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(portal_dir() / "templates")), FileSystemLoader(str(reports_dir()))]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(report_environment().filters)
    env.filters["local"] = _local_in_page_zone
    env.filters["inert"] = inert_text  # text a target sent: control and invisible characters made visible
    env.filters["run_end"] = run_end_text  # why a run ended, in the page's language
    env.globals["run_statuses"] = tuple(status.value for status in RunStatus)
    return env


def local_time(value: datetime | None, zone: ZoneInfo = LOCAL_TIME) -> str:
    """A moment as people read it where they are (Viet Nam, UTC+7, unless the agency's zone says otherwise), day
    first."""
    if value is None:
        return "—"
    return value.astimezone(zone).strftime("%d/%m/%Y %H:%M")


@pass_context
def _local_in_page_zone(context: Context, value: datetime | None) -> str:
    """``| local``: in the page's zone (``zone``: the agency's on its pages, else the profile's)."""
    zone = context.get("zone")
    return local_time(value, zone if isinstance(zone, ZoneInfo) else LOCAL_TIME)


@cache
def portal_strings(lang: Lang) -> dict[str, str]:
    """The portal's strings: ``auditor/locale/portal.yml`` and every ``portal_<area>.yml`` beside it (one file
    per area of the portal), merged; a key defined twice is an error."""
    merged: dict[str, str] = {}
    found = [entry.name for entry in files("auditor.locale").iterdir()]
    names = sorted(name.removesuffix(".yml") for name in found if name.startswith("portal") and name.endswith(".yml"))
    for name in names:
        for key, value in strings(lang, name).table.items():
            if key in merged:
                raise ValueError(f"auditor/locale/{name}.yml: string {key!r} is defined in another portal file too")
            merged[key] = value
    return merged


def lang_of(request: Request) -> Lang:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "vi"


def render(request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    lang = lang_of(request)
    principal = optional_principal(request)
    portal = getattr(request.app.state, "portal", None)
    zone = portal.report_settings().zone if portal is not None else LOCAL_TIME
    page = (
        environment()
        .get_template(template)
        .render(
            {
                "lang": lang,
                "p": portal_strings(lang),
                "t": strings(lang, "report").table,
                "principal": principal,
                "csrf": principal.csrf if principal else "",
                "path": request.url.path,
                "zone": zone,
                **(context or {}),
            }
        )
    )
    return HTMLResponse(page, status_code=status)
