"""After a run the portal started: each audited agency's report to its contact, the summary to the department.
Written to the outbox only (sending is the worker's); a failure here is logged and never touches the run."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from auditor.content.loader import Content
from auditor.inventory import Agency, Inventory
from auditor.mail.compose import Draft, report_draft, summary_draft
from auditor.mail.settings import MailSettings, is_address
from auditor.run_end import failure_words
from auditor.store import Store

ACTOR = "mail"
KEY_MAX = 200  # mail_outbox.dedupe_key
log = logging.getLogger(__name__)


def dedupe_key(*parts: str) -> str:
    """``kind:run:recipient``; a key longer than the column holds ends in a digest of the whole."""
    key = ":".join(parts)
    return key if len(key) <= KEY_MAX else f"{key[:150]}:{hashlib.sha256(key.encode()).hexdigest()[:40]}"


def queue_draft(
    store: Store,
    draft: Draft,
    to_addr: str,
    key: str,
    now: datetime,
    *,
    run_id: str | None = None,
    agency_id: str | None = None,
) -> bool:
    """True when queued; False when this key was queued before."""
    queued = store.queue_mail(
        draft.kind,
        to_addr,
        draft.subject,
        draft.body,
        now,
        run_id=run_id,
        agency_id=agency_id,
        attachment=draft.attachment,
        dedupe_key=key,
    )
    return queued is not None


def log_failure(
    store: Store, what: str, target: str, exc: BaseException, now: datetime, agency_id: str | None = None
) -> None:
    """A mail that could not be queued, in the activity log; never raises (the caller's work goes on)."""
    try:
        store.log_activity(
            ACTOR,
            "mail_queue_failed",
            target,
            now,
            agency_id=agency_id,
            detail={
                "mail": what,
                "error": f"{type(exc).__name__}: {exc}",
                "error_vi": failure_words(exc).text("vi")[:300],
            },
        )
    except Exception:  # the store itself is failing: the process log is all that is left
        log.exception("could not record that the %s mail of %s was not queued", what, target)


def contact_of(agency: Agency) -> str | None:
    email = agency.contact.email.strip() if agency.contact and agency.contact.email else None
    return email if email and is_address(email) else None


def queue_after_run(
    store: Store,
    content: Content,
    settings: MailSettings,
    inventory: Callable[[], Inventory],
    run_id: str,
    agency_ids: Sequence[str],
    now: datetime,
) -> int:
    """Queue the mails of one ended run; returns how many were queued. Never raises."""
    queued = 0
    try:
        agencies = {a.id: a for a in inventory().agencies}
    except Exception as exc:
        log_failure(store, "report", run_id, exc, now)
        agencies = {}
    for agency_id in agency_ids:
        agency = agencies.get(agency_id)
        to_addr = contact_of(agency) if agency else None
        key = dedupe_key("report", run_id, agency_id)
        if agency is None or to_addr is None:
            continue
        try:
            if store.has_mail(key):
                continue
            draft = report_draft(store, content, settings, run_id, agency, now)
            queued += queue_draft(store, draft, to_addr, key, now, run_id=run_id, agency_id=agency_id)
        except Exception as exc:
            log_failure(store, "report", run_id, exc, now, agency_id)
    queued += _queue_summary(store, content, settings, run_id, now)
    return queued


def _queue_summary(store: Store, content: Content, settings: MailSettings, run_id: str, now: datetime) -> int:
    try:
        wanted = [(to, dedupe_key("summary", run_id, to)) for to in dict.fromkeys(settings.department_to)]
        wanted = [(to, key) for to, key in wanted if not store.has_mail(key)]
        if not wanted:
            return 0
        latest = sorted({*store.latest_runs_by_agency().values(), run_id})
        draft = summary_draft(store, content, settings, latest, run_id, now)
    except Exception as exc:
        log_failure(store, "summary", run_id, exc, now)
        return 0
    queued = 0
    for to_addr, key in wanted:
        try:
            queued += queue_draft(store, draft, to_addr, key, now, run_id=run_id)
        except Exception as exc:
            log_failure(store, "summary", run_id, exc, now)
    return queued
