"""Sending what the outbox holds: due mail in batches of one SMTP connection; a failure is recorded and retried
later (1, 5, 30 minutes, then hourly) until a day has passed, then given up (and the record says so). Every
send and every failure is in the activity log (actor "mail"), without the body."""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from auditor.errors import Sayable
from auditor.mail.errors import gave_up_said, send_error_said
from auditor.mail.settings import MailSettings
from auditor.mail.smtp import build_message, scrub, smtp_password, smtp_session
from auditor.store import Store
from auditor.store.views import MailRow

ACTOR = "mail"
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
LATER_DELAY = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(days=1)
CLAIM_HOLD = timedelta(minutes=10)  # longer than one batch can take; a dead sender's claim expires
NEVER = datetime(9999, 1, 1, tzinfo=UTC)  # next attempt of a mail given up: never due again
GAVE_UP = "gave up after {attempts} attempts over {hours} hours: "

Connect = Callable[[MailSettings, Mapping[str, str]], AbstractContextManager[smtplib.SMTP]]


@dataclass(frozen=True)
class Delivery:
    sent: int = 0
    failed: int = 0


def next_attempt(mail: MailRow, now: datetime) -> datetime | None:
    """When to try again after the attempt that just failed; None: give up."""
    failed_attempts = mail.attempts + 1
    delay = RETRY_DELAYS[failed_attempts - 1] if failed_attempts <= len(RETRY_DELAYS) else LATER_DELAY
    retry = now + delay
    return None if retry - mail.created_at > GIVE_UP_AFTER else retry


def deliver_due(
    store: Store,
    settings: MailSettings,
    now: datetime,
    environ: Mapping[str, str],
    *,
    connect: Connect = smtp_session,
    limit: int = 50,
) -> Delivery:
    """Send one batch of due mail over one connection."""
    due = store.claim_due_mail(now, CLAIM_HOLD, limit=limit)
    if not due:
        return Delivery()
    secret = _secret(settings, environ)
    sent: list[MailRow] = []
    pending = list(due)
    try:
        with connect(settings, environ) as client:
            for mail in _drain(pending):
                try:
                    client.send_message(build_message(settings, mail), settings.sender, [mail.to_addr])
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                    _failed(store, mail, exc, secret, now)  # this mail only; the batch goes on
                    continue
                except Exception:
                    pending.insert(0, mail)  # the connection is gone: this mail and the rest fail below
                    raise
                store.mark_sent(mail.id, now)
                _log(store, "mail_sent", mail, now, {"attempt": mail.attempts + 1})
                sent.append(mail)
    except Exception as exc:
        for mail in pending:
            _failed(store, mail, exc, secret, now)
    return Delivery(sent=len(sent), failed=len(due) - len(sent))


def _drain(pending: list[MailRow]) -> Iterator[MailRow]:
    while pending:
        yield pending.pop(0)


def _secret(settings: MailSettings, environ: Mapping[str, str]) -> str | None:
    try:
        return smtp_password(settings, environ)
    except Exception:
        return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return f"{type(exc).__name__}: {exc.smtp_code} {detail}"
    if isinstance(exc, UnicodeError):  # the offending text may be a secret: only say what went wrong
        return f"{type(exc).__name__}: text that cannot be encoded for SMTP"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(
            f"{addr}: {code} {msg.decode('utf-8', 'replace')}" for addr, (code, msg) in exc.recipients.items()
        )
        return f"{type(exc).__name__}: {refused}"
    return f"{type(exc).__name__}: {exc}"


def _failed(store: Store, mail: MailRow, exc: BaseException, secret: str | None, now: datetime) -> None:
    """Record the failed attempt: the error's own summary (in English, as it always was) in the outbox, and with
    it in the activity log the same failure in Vietnamese words (``error_vi``)."""
    error = scrub(_describe(exc), secret)
    words: Sayable = send_error_said(exc)
    retry = next_attempt(mail, now)
    if retry is None:
        hours = int((now - mail.created_at).total_seconds() // 3600)
        error = GAVE_UP.format(attempts=mail.attempts + 1, hours=hours) + error
        words = gave_up_said(mail.attempts + 1, hours, words)
    store.mark_failed(mail.id, error, retry or NEVER)
    said_vi = scrub(words.text("vi"), secret)
    detail: dict[str, object] = {"attempt": mail.attempts + 1, "error": error[:300], "error_vi": said_vi[:300]}
    detail["retry_at" if retry else "gave_up"] = retry.isoformat() if retry else True
    _log(store, "mail_failed", mail, now, detail)


def _log(store: Store, action: str, mail: MailRow, now: datetime, extra: Mapping[str, object]) -> None:
    store.log_activity(
        ACTOR,
        action,
        mail.to_addr,
        now,
        agency_id=mail.agency_id,
        detail={"mail_id": mail.id, "kind": mail.kind, "subject": mail.subject, "run_id": mail.run_id, **extra},
    )
