"""Render report view models with the Jinja2 templates of reports/ to self-contained HTML, and HTML to PDF."""

from __future__ import annotations

import logging
from datetime import datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from auditor.errors import AuditorError
from auditor.reports.locale import strings
from auditor.reports.models import AgencyReport, SummaryReport

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
    return env


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def render_html(report: AgencyReport | SummaryReport) -> str:
    template = environment().get_template(TEMPLATES[report.kind])
    context: dict[str, Any] = {"report": report, "t": strings(report.lang).table}
    return template.render(context)


def render_pdf(html: str) -> bytes:
    """The same HTML printed by WeasyPrint; nothing is fetched (every URL is refused)."""
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:  # OSError: pango or cairo libraries missing
        raise RenderError(f"PDF output needs WeasyPrint and its libraries (scripts/setup.sh): {exc}") from None

    class _NoFetch(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError(f"reports fetch nothing: {url[:80]}")

    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # CSS it does not know (screen-only rules) is expected
    try:
        pdf: bytes = HTML(string=html, url_fetcher=_NoFetch(), base_url="about:blank").write_pdf()
    except Exception as exc:
        raise RenderError(f"PDF rendering failed: {type(exc).__name__}: {exc}") from None
    return pdf
