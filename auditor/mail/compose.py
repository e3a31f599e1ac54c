"""What the mails say: an agency's report after a run, and the department's summary of the latest runs.
Both carry the report as a PDF (the same one ``auditor report --format pdf`` prints)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from auditor.content.loader import Content
from auditor.inventory import Agency
from auditor.mail.settings import MailSettings
from auditor.mail.texts import day, one_line, stamp, text, verdict_label
from auditor.reports import build_agency_report, build_summary_report, render_html, render_pdf
from auditor.reports.models import AgencyAssessment
from auditor.reports.timing import agency_report_settings
from auditor.store import Store


@dataclass(frozen=True)
class Draft:
    """A mail before it has a recipient: one draft of the summary goes to every department address."""

    kind: str  # report | summary | reminder
    subject: str
    body: str
    attachment: tuple[str, bytes] | None = None


def agency_link(settings: MailSettings, agency_id: str) -> str | None:
    return f"{settings.portal_url}/agencies/{agency_id}" if settings.portal_url else None


def result_lines(assessment: AgencyAssessment) -> list[str]:
    """The agency's results as the report's figures count them (the roll-up): checks that ran and failed (those
    under a waiver said apart), checks that could not be made (errors), manual items awaiting evidence."""
    failed = (
        text("mail_failures_waived", n=assessment.results_failed, waived=assessment.waived)
        if assessment.waived
        else text("mail_failures", n=assessment.results_failed)
    )
    return [failed, text("mail_errors", n=assessment.results_error), text("mail_pending", n=assessment.manual_pending)]


def report_draft(
    store: Store, content: Content, settings: MailSettings, run_id: str, agency: Agency, now: datetime
) -> Draft:
    """The agency's report, its owner and local time from the inventory, as the portal's download shows it."""
    report_settings = agency_report_settings(content.profile, agency)
    report = build_agency_report(
        store, content, run_id, agency.id, lang="vi", now=now, contact=agency.contact, settings=report_settings
    )
    pdf = render_pdf(render_html(report))
    assessment = report.assessment
    zone = report_settings.zone
    when = day(assessment.started_at, zone)
    name_vi, name_en = one_line(agency.name.vi), one_line(agency.name.en)
    lines = [
        text("mail_greeting", name=name_vi),
        "",
        text("mail_report_intro", date=when),
        "",
        text("mail_verdict", verdict=verdict_label(assessment.verdict.value)),
        *result_lines(assessment),
    ]
    link = agency_link(settings, agency.id)
    if link:
        lines += ["", text("mail_agency_link", url=link)]
    lines += [
        text("mail_report_attached"),
        "",
        text(
            "mail_report_english", "en", name=name_en, date=when, verdict=verdict_label(assessment.verdict.value, "en")
        ),
        "",
        "--",
        text("mail_signature"),
    ]
    return Draft(
        kind="report",
        subject=text("mail_report_subject", tag=text("mail_tag"), date=when, agency=name_vi),
        body="\n".join(lines) + "\n",
        attachment=(f"bao-cao-{agency.id}-{stamp(assessment.started_at, zone)}.pdf", pdf),
    )


def summary_draft(
    store: Store, content: Content, settings: MailSettings, run_ids: Sequence[str], trigger_run: str, now: datetime
) -> Draft:
    """The department summary over ``run_ids`` (each agency's latest run), sent after ``trigger_run``."""
    report_settings = agency_report_settings(content.profile, None)  # the department's: the profile's zone
    summary = build_summary_report(store, content, list(run_ids), lang="vi", now=now, settings=report_settings)
    pdf = render_pdf(render_html(summary))
    zone = report_settings.zone
    when = day(store.get_run(trigger_run).started_at, zone)
    meeting, total = len(summary.meeting), len(summary.agencies)
    lines = [
        text("mail_summary_greeting"),
        "",
        text("mail_summary_intro", date=when),
        "",
        text("mail_summary_meeting", meeting=meeting, total=total),
        *(
            text(
                "mail_summary_line",
                name=one_line(a.name_vi),
                verdict=verdict_label(a.verdict.value),
                failures=a.results_failed,
                errors=a.results_error,
                pending=a.manual_pending,
                date=day(a.started_at, zone),
            )
            for a in summary.agencies
        ),
        "",
    ]
    if settings.portal_url:
        lines.append(text("mail_portal_link", url=f"{settings.portal_url}/"))
    lines += [
        text("mail_summary_attached"),
        "",
        text("mail_summary_english", "en", meeting=meeting, total=total),
        "",
        "--",
        text("mail_signature"),
    ]
    return Draft(
        kind="summary",
        subject=text("mail_summary_subject", tag=text("mail_tag"), date=when, meeting=meeting, total=total),
        body="\n".join(lines) + "\n",
        attachment=(f"tong-hop-{stamp(now, zone)}.pdf", pdf),
    )
