"""Reminders before the yearly reporting date: within ``reminder_days`` of it, each agency with open items
(failures of its latest run no waiver covers, checks that could not be made, manual items still awaiting evidence
today) is told once a year."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from auditor.content.loader import Content
from auditor.inventory import Inventory
from auditor.mail.compose import Draft, agency_link
from auditor.mail.queue import contact_of, dedupe_key, log_failure, queue_draft
from auditor.mail.settings import MailSettings
from auditor.mail.texts import LOCAL_TIME, day, local_day, one_line, text
from auditor.reports.rollup import effective_status
from auditor.reports.timing import agency_report_settings
from auditor.store import Store

LISTED = 15  # items listed per section; the rest are counted


@dataclass(frozen=True)
class OpenItem:
    check_id: str
    title: str
    targets: int


@dataclass(frozen=True)
class OpenItems:
    run_started: datetime
    failing: tuple[OpenItem, ...]  # checks that ran and failed, no waiver covering them
    errors: tuple[OpenItem, ...]  # checks that could not be made
    pending: tuple[OpenItem, ...]

    def __bool__(self) -> bool:
        return bool(self.failing or self.errors or self.pending)


def reminder_due(settings: MailSettings, now: datetime) -> date | None:
    """The reporting date when today (Viet Nam time) is within the reminder window before it, else None."""
    today = local_day(now)
    deadline = settings.reporting_date(today.year)
    return deadline if deadline - timedelta(days=settings.reminder_days) <= today <= deadline else None


def open_items(store: Store, content: Content, run_id: str, agency_id: str, now: datetime) -> OpenItems:
    findings = store.list_findings(run_id, agency_id=agency_id)
    resolved = store.resolved_findings(findings, now)
    open_by_status: dict[str, dict[str, int]] = {"fail": {}, "error": {}, "manual": {}}
    for finding in findings:
        status = effective_status(finding, resolved)  # as the reports' roll-up counts it
        outcome = resolved.get(finding.id)
        if status in open_by_status and not (outcome is not None and outcome.waived):
            counts = open_by_status[status]
            counts[finding.check_id] = counts.get(finding.check_id, 0) + 1

    def items(counts: dict[str, int]) -> tuple[OpenItem, ...]:
        titles = {c: content.checks[c].title.vi if c in content.checks else c for c in counts}
        return tuple(OpenItem(c, one_line(titles[c]), n) for c, n in sorted(counts.items()))

    return OpenItems(
        store.get_run(run_id).started_at,
        items(open_by_status["fail"]),
        items(open_by_status["error"]),
        items(open_by_status["manual"]),
    )


def reminder_draft(
    settings: MailSettings,
    agency_id: str,
    name: str,
    deadline: date,
    found: OpenItems,
    zone: ZoneInfo = LOCAL_TIME,
) -> Draft:
    """``zone``: the agency's, for the day of its latest audit."""
    lines = [
        text("mail_greeting", name=one_line(name)),
        "",
        text("mail_reminder_intro", date=day(deadline), run_date=day(found.run_started, zone)),
    ]
    sections = (
        ("mail_reminder_failing", "mail_reminder_item", found.failing),
        ("mail_reminder_errors", "mail_reminder_item", found.errors),
        ("mail_reminder_pending", "mail_reminder_manual_item", found.pending),  # the agency itself: no count
    )
    for heading, line, section in sections:
        if not section:
            continue
        lines += ["", text(heading, n=len(section))]
        lines += [text(line, title=i.title, check_id=i.check_id, targets=i.targets) for i in section[:LISTED]]
        if len(section) > LISTED:
            lines.append(text("mail_reminder_more", n=len(section) - LISTED))
    link = agency_link(settings, agency_id)
    if link:
        lines += ["", text("mail_agency_link", url=link)]
    lines += ["", text("mail_reminder_english", "en", date=day(deadline)), "", "--", text("mail_signature")]
    return Draft(
        kind="reminder",
        subject=text("mail_reminder_subject", tag=text("mail_tag"), date=day(deadline)),
        body="\n".join(lines) + "\n",
    )


def queue_reminders(
    store: Store, content: Content, settings: MailSettings, inventory: Callable[[], Inventory], now: datetime
) -> int:
    """Queue this year's reminders when today is in the window; returns how many were queued. Never raises."""
    deadline = reminder_due(settings, now)
    if deadline is None:
        return 0
    try:
        agencies = inventory().agencies
        latest = store.latest_runs_by_agency()
    except Exception as exc:
        log_failure(store, "reminder", f"reminder:{deadline.year}", exc, now)
        return 0
    queued = 0
    for agency in agencies:
        key = dedupe_key("reminder", str(deadline.year), agency.id)
        to_addr = contact_of(agency)
        if to_addr is None or agency.id not in latest:
            continue
        try:
            if store.has_mail(key):
                continue
            found = open_items(store, content, latest[agency.id], agency.id, now)
            if found:
                zone = agency_report_settings(content.profile, agency).zone
                draft = reminder_draft(settings, agency.id, agency.name.vi, deadline, found, zone)
                queued += queue_draft(store, draft, to_addr, key, now, run_id=latest[agency.id], agency_id=agency.id)
        except Exception as exc:
            log_failure(store, "reminder", key, exc, now, agency.id)
    return queued
