"""A mail that could not be sent, said in Vietnamese words: the mail server's answers and the connection's
failures, the server's own text quoted as its own; the activity page shows the Vietnamese to a Vietnamese
reader, the English to an English one, and the CSV keeps both."""

from __future__ import annotations

import json
import re
import smtplib
import ssl
from datetime import UTC, datetime

import pytest

from auditor.errors import Sayable
from auditor.mail.errors import gave_up_said, send_error_said
from auditor.portal.pages.activity import detail_text
from auditor.store.views import ActivityRow

QUOTED = re.compile(r"thông báo gốc của [^:“]+: “[^”]*”")  # another program's own words, marked as such
ENGLISH = re.compile(
    r"\b(?:mail|server|answered|refused|login|recipient|connection|closed|cannot|connect|text|encoded|failed|"
    r"gave|up|after|attempts|hours|the|no|such|user)\b",
    re.IGNORECASE,
)

FAILURES: dict[str, tuple[BaseException, str]] = {
    "reply": (smtplib.SMTPDataError(554, b"5.6.0 message rejected"), "mã lỗi 554"),
    "login": (smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"), "từ chối đăng nhập"),
    "recipient": (smtplib.SMTPRecipientsRefused({"a@example.vn": (550, b"no such user")}), "từ chối người nhận"),
    "disconnected": (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), "ngắt kết nối"),
    "refused": (ConnectionRefusedError(111, "Connection refused"), "kết nối bị từ chối"),
    "tls": (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "TLS"),
    "encoding": (UnicodeEncodeError("ascii", "ậ", 0, 1, "ordinal not in range"), "không mã hóa được"),
    "other": (smtplib.SMTPNotSupportedError("SMTPUTF8 not supported by server"), "máy chủ thư"),
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_a_sending_failure_is_said_in_vietnamese(name: str) -> None:
    error, expected = FAILURES[name]
    words = send_error_said(error)
    vietnamese = words.text("vi")
    assert expected in vietnamese and not ENGLISH.findall(QUOTED.sub("", vietnamese)), vietnamese
    assert words.text("en") != vietnamese


def test_giving_up_says_so_in_each_language() -> None:
    cause: Sayable = send_error_said(ConnectionRefusedError(111, "Connection refused"))
    gave_up = gave_up_said(25, 24, cause)
    assert gave_up.text("vi").startswith("đã ngừng gửi sau 25 lần thử trong 24 giờ: ")
    assert gave_up.text("en").startswith(
        "gave up after 25 attempts over 24 hours: cannot connect to the mail server: connection refused"
    )
    assert not ENGLISH.findall(QUOTED.sub("", gave_up.text("vi")))


def test_the_activity_page_shows_the_error_in_the_pages_language() -> None:
    detail = {"attempt": 1, "error": "ConnectionRefusedError: [Errno 111] Connection refused", "error_vi": "bị từ chối"}
    row = ActivityRow(
        id=1,
        at=datetime(2026, 3, 1, tzinfo=UTC),
        actor="mail",
        role=None,
        action="mail_failed",
        agency_id=None,
        target="a@example.vn",
        detail=detail,
        remote_addr=None,
    )
    assert json.loads(detail_text(row, "vi")) == {"attempt": 1, "error": "bị từ chối"}
    assert json.loads(detail_text(row, "en")) == {"attempt": 1, "error": detail["error"]}
    assert json.loads(detail_text(row)) == detail  # the CSV: both
