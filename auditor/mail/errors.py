"""Why a mail could not be sent, in the auditor's words (auditor/locale/foreign.yml): the mail server's reply code,
a refused login or recipient, the system's error connecting; the server's own text quoted as its own words. The
English record of the failure stays the error's own summary (auditor.mail.deliver)."""

from __future__ import annotations

import smtplib
import ssl

from auditor.errors import AuditorError, Sayable
from auditor.foreign import foreign, os_error_said, verbatim
from auditor.said import Said

SERVER_TEXT_CHARS = 200  # of the server's own reply, quoted


def _reply(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


def send_error_said(exc: BaseException) -> Sayable:
    """A sending failure (of one mail, or of the whole connection) in words."""
    if isinstance(exc, AuditorError) and exc.said is not None:
        return exc.said
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return foreign("smtp_login_refused", code=exc.smtp_code, reply=verbatim("smtp", _reply(exc.smtp_error)))
    if isinstance(exc, smtplib.SMTPResponseException):
        return foreign("smtp_reply", code=exc.smtp_code, reply=verbatim("smtp", _reply(exc.smtp_error)))
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{addr}: {code} {_reply(msg)}" for addr, (code, msg) in exc.recipients.items())
        return foreign("smtp_recipients_refused", reply=verbatim("smtp", refused))
    if isinstance(exc, UnicodeError):  # the offending text may be a secret: only say what went wrong
        return foreign("smtp_not_encodable")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return foreign("smtp_disconnected")
    if isinstance(exc, smtplib.SMTPException):
        return verbatim("smtp", f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ssl.SSLError):  # its errno is OpenSSL's, not the system's
        return foreign("smtp_tls_failed", cause=verbatim("tls", getattr(exc, "reason", None) or str(exc)))
    if isinstance(exc, OSError):  # connecting (refused, timed out, TLS) or the connection breaking
        return foreign("smtp_cannot_connect", cause=os_error_said(exc))
    return verbatim("python", f"{type(exc).__name__}: {exc}")


def gave_up_said(attempts: int, hours: int, error: Sayable) -> Said:
    return foreign("smtp_gave_up", attempts=attempts, hours=hours, error=error)
