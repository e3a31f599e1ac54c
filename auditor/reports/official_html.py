"""Lay an official document model out as HTML (reports/official/yearly.html.j2), and print it to PDF through
the reports' WeasyPrint path: the same content as the DOCX."""

from __future__ import annotations

from auditor.reports.official import OfficialDocument
from auditor.reports.render import environment, render_pdf

TEMPLATE = "official/yearly.html.j2"


def render_official_html(document: OfficialDocument) -> str:
    return environment().get_template(TEMPLATE).render({"doc": document})


def render_official_pdf(document: OfficialDocument) -> bytes:
    return render_pdf(render_official_html(document))
