"""Render report view models with the Jinja2 templates of reports/ to self-contained HTML, and HTML to PDF."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from auditor.errors import AuditorError
from auditor.foreign import foreign, theirs
from auditor.reports.agency import COMMAND_LIMIT, STDOUT_LIMIT
from auditor.reports.locale import strings
from auditor.reports.models import AgencyReport, SummaryReport
from auditor.reports.timing import DEFAULT_TIMEZONE, local

TEMPLATES = {"agency": "templates/agency.html.j2", "summary": "templates/summary.html.j2"}


class RenderError(AuditorError):
    """The PDF engine is missing or failed."""


def reports_dir() -> Path:
    return Path(str(files("auditor.bundled") / "reports"))


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(reports_dir())),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = _when
    env.filters["day"] = _day
    env.filters["utc_offset"] = _utc_offset
    env.filters["breakable"] = breakable
    return env


_BREAK_AFTER = re.compile(r"(?<=[,;])(?=\S)|(?<=://)(?=\S)")
_BREAK_AFTER_LABEL = re.compile(r"(?<=[,;])(?=\S)|(?<=://)(?=\S)|(?<=[^\W\d_]\.)(?=[^\W\d_])")


def breakable(value: str, labels: bool = False) -> Markup:
    """Escaped text with a line-break opportunity (<wbr>) after each comma or semicolon that no space follows, so
    a list written without spaces (a cipher suite list) wraps between its items instead of inside one, and after
    the "://" of a target such as tcp://10.200.3.2:2222, so the address after it stays whole on its line.
    ``labels`` (a target's name): also between the labels of a domain name (baosoctrang.<wbr>example.<wbr>vn),
    so a long one fits a narrow column; an IP address gets none."""
    pattern = _BREAK_AFTER_LABEL if labels else _BREAK_AFTER
    return Markup("<wbr>").join(escape(part) for part in pattern.split(value))


_FORMATS = {"vi": ("%d/%m/%Y %H:%M", "%d/%m/%Y"), "en": ("%Y-%m-%d %H:%M", "%Y-%m-%d")}


def _zone_and_lang(context: Context) -> tuple[ZoneInfo, str]:
    """Templates of the reports have ``report``; others (the portal's) fall back to the default zone."""
    report = context.get("report")
    zone = getattr(report, "timezone", None) or context.get("timezone") or DEFAULT_TIMEZONE
    lang = getattr(report, "lang", None) or context.get("lang") or "vi"
    return ZoneInfo(zone), lang if lang in _FORMATS else "vi"


@pass_context
def _when(context: Context, value: datetime) -> str:
    """A stored (UTC) time in the agency's local time: DD/MM/YYYY HH:MM in Vietnamese."""
    zone, lang = _zone_and_lang(context)
    return local(value, zone).strftime(_FORMATS[lang][0])


@pass_context
def _day(context: Context, value: datetime) -> str:
    zone, lang = _zone_and_lang(context)
    return local(value, zone).strftime(_FORMATS[lang][1])


@pass_context
def _utc_offset(context: Context, value: datetime) -> str:
    """The zone's offset at that moment, e.g. UTC+07:00."""
    zone, _lang = _zone_and_lang(context)
    offset = local(value, zone).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"


def render_html(report: AgencyReport | SummaryReport) -> str:
    template = environment().get_template(TEMPLATES[report.kind])
    context: dict[str, Any] = {
        "report": report,
        "t": strings(report.lang).table,
        "evidence_limits": {"stdout": STDOUT_LIMIT, "command": COMMAND_LIMIT},
    }
    return template.render(context)


def render_pdf(html: str) -> bytes:
    """The same HTML printed by WeasyPrint; nothing is fetched (every URL is refused)."""
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:  # OSError: pango or cairo libraries missing
        raise RenderError(foreign("render_pdf_unavailable", error=theirs("python", str(exc)))) from None

    class _NoFetch(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError(f"reports fetch nothing: {url[:80]}")

    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # CSS it does not know (screen-only rules) is expected
    try:
        pdf: bytes = HTML(string=html, url_fetcher=_NoFetch(), base_url="about:blank").write_pdf()
    except Exception as exc:
        raise RenderError(
            foreign("render_pdf_failed", error=theirs("python", f"{type(exc).__name__}: {exc}"))
        ) from None
    return pdf
