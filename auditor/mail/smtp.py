"""SMTP with the standard library: one connection per batch, STARTTLS unless the settings turn it off, a login
when a user is set (password from the environment variable the settings name). Errors never carry the password."""

from __future__ import annotations

import base64
import smtplib
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from auditor.errors import AuditorError
from auditor.foreign import foreign
from auditor.mail.settings import MailSettings
from auditor.store.views import MailRow

_TYPES = {".pdf": ("application", "pdf"), ".html": ("text", "html")}


class MailError(AuditorError):
    """Mail cannot be sent with these settings (e.g. the password variable is not set)."""


def smtp_password(settings: MailSettings, environ: Mapping[str, str]) -> str | None:
    if settings.password_env is None:
        return None
    value = environ.get(settings.password_env)
    if not value:
        raise MailError(foreign("smtp_password_unset", variable=settings.password_env))
    return value


def scrub(message: str, secret: str | None) -> str:
    """An error text safe to record: the password (should a server echo it) replaced."""
    return message.replace(secret, "***") if secret else message


def build_message(settings: MailSettings, mail: MailRow) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = mail.to_addr
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.created_at)
    message["Message-ID"] = make_msgid(f"mail{mail.id}", domain=settings.sender.rpartition("@")[2])
    message.set_content(mail.body, charset="utf-8", cte="quoted-printable")  # 7-bit clean for any relay
    if mail.attachment is not None and mail.attachment_name:
        suffix = mail.attachment_name[mail.attachment_name.rfind(".") :].lower()
        maintype, subtype = _TYPES.get(suffix, ("application", "octet-stream"))
        message.add_attachment(mail.attachment, maintype=maintype, subtype=subtype, filename=mail.attachment_name)
    return message


def tls_context(settings: MailSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(settings.tls_ca_file) if settings.tls_ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def login(client: smtplib.SMTP, username: str, password: str) -> None:
    """``SMTP.login``, which sends ASCII only; a non-ASCII password goes as UTF-8 over AUTH PLAIN (RFC 4616)."""
    if (username + password).isascii():
        client.login(username, password)
        return
    if "PLAIN" not in client.esmtp_features.get("auth", "").upper().split():
        raise MailError(foreign("smtp_no_auth_plain"))
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, reply = client.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


@contextmanager
def smtp_session(settings: MailSettings, environ: Mapping[str, str]) -> Iterator[smtplib.SMTP]:
    """A connected (and, as configured, encrypted and logged-in) SMTP session, closed on leaving."""
    password = smtp_password(settings, environ)
    client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds)
    try:
        client.ehlo()
        if settings.starttls:
            if not client.has_extn("starttls"):
                raise MailError(foreign("smtp_no_starttls", where=f"{settings.smtp_host}:{settings.smtp_port}"))
            client.starttls(context=tls_context(settings))
            client.ehlo()
        if settings.username is not None and password is not None:
            login(client, settings.username, password)
        yield client
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
