"""Reports made from the audit store only: the agency remediation report, the department summary, exports.

report = build_agency_report(store, content, "latest", "baosoctrang", lang="vi")
html = render_html(report); pdf = render_pdf(html)
"""

from auditor.reports.agency import build_agency_report
from auditor.reports.render import render_html, render_pdf
from auditor.reports.summary import build_summary_report

__all__ = ["build_agency_report", "build_summary_report", "render_html", "render_pdf"]
