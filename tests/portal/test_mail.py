"""Mail from the portal: reports after a run, the department summary, yearly reminders, and sending them from
the outbox to a real local SMTP server (aiosmtpd) with STARTTLS and a login. No lab."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor.inventory import Agency, Contact
from auditor.mail import compose
from auditor.mail.reminders import queue_reminders
from auditor.mail.settings import MailSettings
from auditor.mail.worker import MailWorker
from auditor.portal.context import Portal
from auditor.reports import build_agency_report
from auditor.store import Store, open_store
from auditor.store.views import MailRow
from auditor.vocabulary import LocalizedText, Status
from tests.portal.support import AGENCIES, PortalHarness, make_portal
from tests.smtp_server import PASSWORD, Inbox, SmtpServer, free_port, self_signed
from tests.unit.test_reports_support import agency_result, automated_checks, host_result, store_run

PASSWORD_VI = "Mật-khẩu-SMTP-4b8e21"
PASSWORD_ENV = "AUDITOR_TEST_SMTP_PASSWORD"
RUN_AT = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 02/11/2026 08:00 in Viet Nam
DEPARTMENT = ("lanhdao@stttt.example", "vanthu@stttt.example")
SUBJECT_REPORT = "Kết quả kiểm tra ngày 02/11/2026: Báo Sóc Trăng"
STRANGERS: dict[str, Agency] = {
    agency_id: Agency(id=agency_id, name=LocalizedText(vi=vi, en=en)) for agency_id, (vi, en) in AGENCIES.items()
}


# -- a local SMTP server ---------------------------------------------------------------------------------------


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    """A server on a free port, not yet started: STARTTLS required and a login (``start()``), or plain."""
    cert_file, _key_file = self_signed(tmp_path)
    server = SmtpServer(inbox=Inbox(), port=free_port(), ca_file=cert_file)
    yield server
    server.stop()


def settings_for(server: SmtpServer, **changes: Any) -> MailSettings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": server.port,
        "tls_ca_file": server.ca_file,
        "username": "auditor",
        "password_env": PASSWORD_ENV,
        "sender": "kiemtra@stttt.example",
        "department_to": DEPARTMENT,
        "portal_url": "https://portal.test/",
        "timeout_seconds": 10,
    }
    return MailSettings(**{**values, **changes})


ENV = {PASSWORD_ENV: PASSWORD}


# -- a portal with audit data ----------------------------------------------------------------------------------


def audit(store: Store, started: datetime = RUN_AT) -> str:
    """One run of both agencies: Báo Sóc Trăng fails three checks and one could not be made there; both have manual
    items awaiting evidence."""
    checks = automated_checks(5)
    bst, dai = STRANGERS["baosoctrang"], STRANGERS["dai-ptth"]
    failing = {c: Status.failed for c in checks[:3]} | {checks[3]: Status.passed, checks[4]: Status.error}
    results = [
        host_result("bst-web", failing, agency=bst, started=started),
        agency_result(bst, started),
        host_result("dai-web", dict.fromkeys(checks, Status.passed), agency=dai, started=started),
        agency_result(dai, started),
    ]
    return store_run(store, results, STRANGERS, started)


@dataclass
class World:
    harness: PortalHarness
    run_id: str

    @property
    def portal(self) -> Portal:
        portal: Portal = self.harness.app.state.portal
        return portal

    @property
    def store(self) -> Store:
        return self.harness.store

    def mails(self) -> list[MailRow]:
        return self.store.list_mail()


@pytest.fixture
def world(tmp_path: Path) -> World:
    store = open_store(f"sqlite:///{tmp_path / 'portal.db'}")
    run_id = audit(store)  # before make_portal, so it does not seed agencies with a run of its own
    harness = make_portal(tmp_path, store=store)
    harness.clock.now = RUN_AT + timedelta(hours=1)
    return World(harness=harness, run_id=run_id)


def queue_plain(world: World, to_addr: str = "kythuat@baosoctrang.example", key: str = "k1") -> MailRow:
    queued = world.store.queue_mail(
        "report", to_addr, "Thử nghiệm: Báo Sóc Trăng", "Nội dung thư.\n", world.portal.now(), dedupe_key=key
    )
    assert queued is not None
    return queued


def send(world: World, settings: MailSettings, env: dict[str, str] = ENV) -> None:
    MailWorker(settings, environ=env).tick(world.portal)


QUOTED = re.compile(r"thông báo gốc của [^:“]+: “[^”]*”")  # another program's own words, marked as such
ENGLISH = re.compile(
    r"\b(?:connection|refused|cannot|connect|mail|server|gave|up|after|attempts|does|not|offer|refusing|send|"
    r"password|variable|set|the|is|error)\b",
    re.IGNORECASE,
)


def assert_vietnamese(text: str, expected: str) -> None:
    """A failure said in Vietnamese: the expected words, and no English outside another program's quoted words
    (option and variable names aside)."""
    assert expected in text and not ENGLISH.findall(
        re.sub(r"--[a-z-]+", "", QUOTED.sub("", text)).replace(PASSWORD_ENV, "")
    ), text


def activity(world: World, action: str) -> list[Any]:
    return [a for a in world.store.list_activity(actor="mail") if a.action == action]


# -- after a run -----------------------------------------------------------------------------------------------


def test_after_a_run_reports_and_summary_arrive_over_starttls_with_a_login(world: World, smtp: SmtpServer) -> None:
    smtp.start()
    settings = settings_for(smtp)
    stop = MailWorker(settings, poll_seconds=3600, environ=ENV).start(world.portal)  # registers the hook
    try:
        assert len(world.portal.after_run_hooks) == 1
        for hook in world.portal.after_run_hooks:  # what the portal does when its run has ended
            hook(world.run_id, ("baosoctrang", "dai-ptth"))
    finally:
        stop()
    assert world.portal.after_run_hooks == []  # unhooked on stop
    queued = world.mails()
    assert sorted(m.dedupe_key or "" for m in queued) == sorted(
        [f"report:{world.run_id}:baosoctrang", f"report:{world.run_id}:dai-ptth"]
        + [f"summary:{world.run_id}:{to}" for to in DEPARTMENT]
    )
    send(world, settings)

    assert all(m.sent_at is not None for m in world.mails())
    assert smtp.inbox.logins and smtp.inbox.logins[0][0] == "auditor"
    (report,) = smtp.inbox.by_subject(SUBJECT_REPORT)
    assert report["To"] == "kythuat@baosoctrang.example" and report["From"] == "kiemtra@stttt.example"
    body = report.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Kết luận: Chưa đáp ứng cấp độ 3" in text
    lines = text.splitlines()  # failures and errors apart, each on its line
    assert "Kết quả không đạt (đã kiểm tra, không đạt yêu cầu): 3" in lines and "Lỗi (không kiểm tra được): 1" in lines
    assert "Hạng mục hồ sơ chờ bằng chứng:" in text
    assert "https://portal.test/agencies/baosoctrang" in text
    assert "verdict: Does not meet level 3" in text  # the one English line
    (attachment,) = list(report.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "bao-cao-baosoctrang-20261102.pdf"
    assert attachment.get_content().startswith(b"%PDF-")

    summaries = smtp.inbox.by_subject("Tổng hợp sau lượt kiểm tra ngày 02/11/2026: 0/2 cơ quan đáp ứng")
    assert sorted(m["To"] for m in summaries) == sorted(DEPARTMENT)
    summary_body = summaries[0].get_body(("plain",))
    assert summary_body is not None and "Số cơ quan đáp ứng cấp độ 3: 0/2" in summary_body.get_content()
    assert "3 kết quả không đạt, 1 lỗi không kiểm tra được" in summary_body.get_content()
    (summary_pdf,) = list(summaries[0].iter_attachments())
    assert summary_pdf.get_content().startswith(b"%PDF-")
    sent = activity(world, "mail_sent")
    assert len(sent) == 4 and all("body" not in a.detail for a in sent)


def test_the_report_mail_counts_as_the_roll_up_in_the_agencys_own_time_and_names_its_owner(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compose, "render_pdf", lambda html: html.encode("utf-8"))  # read the report as HTML
    settings = MailSettings(smtp_host="127.0.0.1", sender="kiemtra@stttt.example")
    owner = Contact(name="Ông Trần Văn An", email="an@baosoctrang.example")
    here = STRANGERS["baosoctrang"].model_copy(update={"contact": owner})
    away = here.model_copy(update={"timezone": "America/Los_Angeles"})  # 01:00 UTC on 02/11 is 01/11 there
    now = world.portal.now()
    local = compose.report_draft(world.store, world.portal.content, settings, world.run_id, here, now)
    moved = compose.report_draft(world.store, world.portal.content, settings, world.run_id, away, now)
    assert "ngày 02/11/2026" in local.subject and "ngày 01/11/2026" in moved.subject
    assert local.attachment is not None and moved.attachment is not None
    assert local.attachment[0].endswith("-20261102.pdf") and moved.attachment[0].endswith("-20261101.pdf")
    report = moved.attachment[1].decode("utf-8")
    assert "America/Los_Angeles" in report and "Ông Trần Văn An · an@baosoctrang.example" in report
    assessment = build_agency_report(world.store, world.portal.content, world.run_id, "baosoctrang", now=now).assessment
    assert (assessment.results_failed, assessment.results_error) == (3, 1)
    assert compose.result_lines(assessment)[:2] == [
        "Kết quả không đạt (đã kiểm tra, không đạt yêu cầu): 3",
        "Lỗi (không kiểm tra được): 1",
    ]
    assert all(line in local.body for line in compose.result_lines(assessment))


def test_a_waiver_is_said_apart_from_the_failures_it_covers(world: World) -> None:
    assessment = build_agency_report(world.store, world.portal.content, world.run_id, "baosoctrang").assessment
    waived = assessment.model_copy(update={"results_failed": 2, "waived": 1})
    assert compose.result_lines(waived)[0] == (
        "Kết quả không đạt (đã kiểm tra, không đạt yêu cầu): 2, ngoài ra 1 kết quả không đạt đang được miễn trừ có "
        "thời hạn"
    )


def test_the_same_run_is_never_mailed_twice(world: World, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compose, "render_pdf", lambda _html: b"%PDF-1.7 test")  # the real one is tested above
    worker = MailWorker(settings_for(smtp), environ=ENV)
    hook = worker.hook(world.portal)
    hook(world.run_id, ("baosoctrang", "dai-ptth"))
    first = {m.id for m in world.mails()}
    assert len(first) == 4
    hook(world.run_id, ("baosoctrang", "dai-ptth"))
    assert {m.id for m in world.mails()} == first
    later = audit(world.store, RUN_AT + timedelta(days=7))  # a new run is mailed again
    hook(later, ("baosoctrang",))
    assert len(world.mails()) == 4 + 1 + len(DEPARTMENT)


def test_a_failure_while_queuing_is_logged_and_never_raised(world: World, smtp: SmtpServer) -> None:
    hook = MailWorker(settings_for(smtp), environ=ENV).hook(world.portal)
    hook("no-such-run", ("baosoctrang",))  # the report cannot be built: logged, nothing raised
    failed = activity(world, "mail_queue_failed")
    assert {a.detail["mail"] for a in failed} == {"report", "summary"}
    assert all("no-such-run" in a.detail["error"] or a.target == "no-such-run" for a in failed)
    assert world.mails() == []
    assert world.store.get_run(world.run_id).status.value == "completed"


# -- sending ---------------------------------------------------------------------------------------------------


def test_a_server_that_is_down_leaves_the_mail_queued_and_a_later_attempt_sends_it(
    world: World, smtp: SmtpServer
) -> None:
    settings = settings_for(smtp)
    mail = queue_plain(world)
    send(world, settings)  # nothing listens on the port yet
    (row,) = world.mails()
    assert row.sent_at is None and row.attempts == 1 and row.last_error
    assert "ConnectionRefusedError" in row.last_error
    assert row.next_attempt_at == world.portal.now() + timedelta(minutes=1)
    (failed,) = activity(world, "mail_failed")
    assert failed.target == mail.to_addr and failed.detail["retry_at"]
    assert_vietnamese(failed.detail["error_vi"], "từ chối")  # the refused connection, in words

    smtp.start()
    send(world, settings)  # not due yet: nothing is tried
    assert smtp.inbox.messages == [] and world.mails()[0].attempts == 1
    world.harness.clock.advance(minutes=1)
    send(world, settings)
    (row,) = world.mails()
    assert row.sent_at is not None and row.last_error is None and row.attempts == 2
    assert [str(m["Subject"]) for m in smtp.inbox.messages] == ["Thử nghiệm: Báo Sóc Trăng"]


def test_two_processes_sharing_the_store_never_claim_the_same_mail(world: World, tmp_path: Path) -> None:
    for n in range(6):
        queue_plain(world, key=f"k{n}")
    other = open_store(f"sqlite:///{tmp_path / 'portal.db'}")  # a second portal process on the same database
    now = world.portal.now()
    mine = world.store.claim_due_mail(now, timedelta(minutes=10), limit=4)
    theirs = other.claim_due_mail(now, timedelta(minutes=10), limit=50)
    assert len(mine) == 4 and len(theirs) == 2
    assert not {m.id for m in mine} & {m.id for m in theirs}
    assert other.claim_due_mail(now, timedelta(minutes=10)) == []  # all held
    later = now + timedelta(minutes=11)  # the senders died: their claims expire, the mail is due again
    assert len(other.claim_due_mail(later, timedelta(minutes=10))) == 6


def test_a_refused_recipient_is_retried_with_backoff(world: World, smtp: SmtpServer) -> None:
    smtp.start()
    smtp.inbox.refuse = True
    settings = settings_for(smtp)
    queue_plain(world)
    queue_plain(world, "vanthu@stttt.example", key="k2")
    send(world, settings)
    rows = world.mails()
    assert all(r.sent_at is None and r.last_error and "550" in r.last_error for r in rows)
    world.harness.clock.advance(minutes=1)
    send(world, settings)
    assert {r.next_attempt_at for r in world.mails()} == {world.portal.now() + timedelta(minutes=5)}
    smtp.inbox.refuse = False
    world.harness.clock.advance(minutes=5)
    send(world, settings)
    assert all(r.sent_at is not None for r in world.mails()) and len(smtp.inbox.messages) == 2


def test_after_a_day_of_failures_the_mail_is_given_up_and_says_so(world: World, smtp: SmtpServer) -> None:
    settings = settings_for(smtp)  # the server never starts
    queue_plain(world)
    for _ in range(40):
        (row,) = world.mails()
        if row.next_attempt_at > world.portal.now() + timedelta(days=365):
            break
        world.harness.clock.now = max(world.portal.now(), row.next_attempt_at)
        send(world, settings)
    (row,) = world.mails()
    assert row.sent_at is None and row.last_error and row.last_error.startswith("gave up after")
    assert 20 <= row.attempts <= 30  # 1, 5, 30 minutes, then hourly, for a day
    assert activity(world, "mail_failed")[0].detail["gave_up"] is True
    assert_vietnamese(activity(world, "mail_failed")[0].detail["error_vi"], "đã ngừng gửi sau")
    world.harness.clock.advance(days=30)
    assert world.store.due_mail(world.portal.now()) == []


def test_starttls_is_required_unless_turned_off(world: World, smtp: SmtpServer) -> None:
    smtp.start(tls=False)  # a plain server, no STARTTLS and no AUTH
    queue_plain(world)
    send(world, settings_for(smtp, username=None, password_env=None))
    (row,) = world.mails()
    assert row.sent_at is None and row.last_error and "does not offer STARTTLS" in row.last_error
    assert_vietnamese(activity(world, "mail_failed")[0].detail["error_vi"], "không hỗ trợ STARTTLS")
    world.harness.clock.advance(minutes=1)
    send(world, settings_for(smtp, username=None, password_env=None, starttls=False))  # a local relay
    assert world.mails()[0].sent_at is not None and len(smtp.inbox.messages) == 1


def test_a_missing_password_variable_is_a_clear_error(world: World, smtp: SmtpServer) -> None:
    smtp.start()
    queue_plain(world)
    send(world, settings_for(smtp), env={})
    (row,) = world.mails()
    assert row.sent_at is None and row.last_error
    assert f"password variable {PASSWORD_ENV} is not set" in row.last_error
    assert_vietnamese(activity(world, "mail_failed")[0].detail["error_vi"], f"{PASSWORD_ENV} chưa được đặt")


def test_the_password_is_never_in_the_database_or_the_activity_log(
    world: World, smtp: SmtpServer, tmp_path: Path
) -> None:
    smtp.inbox.password = PASSWORD_VI
    smtp.start()
    queue_plain(world)
    send(world, settings_for(smtp), env={PASSWORD_ENV: PASSWORD_VI[:-1]})  # refused login: an error recorded
    (row,) = world.mails()
    assert row.last_error and "SMTPAuthenticationError" in row.last_error
    world.harness.clock.advance(minutes=1)
    send(world, settings_for(smtp), env={PASSWORD_ENV: PASSWORD_VI})
    assert world.mails()[0].sent_at is not None and smtp.inbox.logins[-1] == ("auditor", "PLAIN")
    secrets = (PASSWORD_VI, PASSWORD_VI[:-1], "ậ", "ẩ")
    for entry in world.store.list_activity():
        detail = dict(entry.detail or {})
        said_vi = str(detail.pop("error_vi", ""))  # Vietnamese words have these letters: the password is not there
        assert not any(secret in said_vi for secret in secrets[:2])
        assert not any(secret in repr(entry.model_copy(update={"detail": detail})) for secret in secrets)
    for mail in world.mails():
        assert not any(secret in repr(mail) for secret in secrets)
    world.store.close()
    for path in tmp_path.glob("portal.db*"):
        data = path.read_bytes()
        for secret in secrets[:2]:
            assert secret.encode() not in data and secret.encode("utf-16-le") not in data


def test_the_worker_thread_sends_and_stops_cleanly(world: World, smtp: SmtpServer) -> None:
    smtp.start()
    queue_plain(world)
    stop = MailWorker(settings_for(smtp), poll_seconds=0.05, environ=ENV).start(world.portal)
    try:
        deadline = time.monotonic() + 20
        while not smtp.inbox.messages and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        started = time.monotonic()
        stop()
    assert time.monotonic() - started < 5
    assert len(smtp.inbox.messages) == 1 and world.mails()[0].sent_at is not None


# -- reminders -------------------------------------------------------------------------------------------------


def remind(world: World, settings: MailSettings, at: datetime) -> int:
    world.harness.clock.now = at
    return queue_reminders(world.store, world.portal.content, settings, world.portal.inventory, at)


def test_reminders_once_a_year_and_only_within_the_window(world: World, smtp: SmtpServer) -> None:
    settings = settings_for(smtp, reminder_days=14)  # the report is due 25/11: remind from 11/11
    assert remind(world, settings, datetime(2026, 11, 10, 16, 0, tzinfo=UTC)) == 0  # 23:00 on 10/11 in Viet Nam
    assert remind(world, settings, datetime(2026, 11, 10, 17, 30, tzinfo=UTC)) == 2  # 00:30 on 11/11
    assert remind(world, settings, datetime(2026, 11, 20, 3, 0, tzinfo=UTC)) == 0  # once a year
    keys = sorted(m.dedupe_key or "" for m in world.mails())
    assert keys == ["reminder:2026:baosoctrang", "reminder:2026:dai-ptth"]
    bst = next(m for m in world.mails() if m.agency_id == "baosoctrang")
    assert "25/11/2026" in bst.subject and "Nhắc việc" in bst.subject
    assert "Kiểm tra không đạt cần khắc phục (3):" in bst.body and "Hồ sơ chờ bằng chứng (" in bst.body
    errors = bst.body.split("Kiểm tra không thực hiện được (lỗi), cần xử lý để kiểm tra lại (1):\n")[1].split("\n\n")[0]
    assert errors.count("\n- ") == 0 and errors.startswith("- ")  # the one check that could not be made, alone
    assert "02/11/2026" in bst.body and "https://portal.test/agencies/baosoctrang" in bst.body
    dai = next(m for m in world.mails() if m.agency_id == "dai-ptth")
    assert "cần khắc phục" not in dai.body and "(lỗi)" not in dai.body and "Hồ sơ chờ bằng chứng (" in dai.body

    assert remind(world, settings, datetime(2027, 11, 26, 3, 0, tzinfo=UTC)) == 0  # after the date
    assert remind(world, settings, datetime(2027, 11, 25, 3, 0, tzinfo=UTC)) == 2  # a new year, the last day
    assert len(world.mails()) == 4


def test_the_worker_checks_reminders_with_its_clock_and_sends_them(world: World, smtp: SmtpServer) -> None:
    smtp.start()
    clock = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)
    worker = MailWorker(settings_for(smtp), environ=ENV, clock=lambda: clock)
    worker.tick(world.portal)
    worker.tick(world.portal)
    assert len(smtp.inbox.by_subject("Nhắc việc")) == 2
    assert {m["To"] for m in smtp.inbox.messages} == {"kythuat@baosoctrang.example", "kythuat@dai-ptth.example"}


def test_settings_refuse_what_cannot_work() -> None:
    base = {"smtp_host": "127.0.0.1", "sender": "kiemtra@stttt.example"}
    with pytest.raises(ValueError, match="not a day of the year"):
        MailSettings(**base, reporting_day="02-30")
    with pytest.raises(ValueError, match="both the user name and the password"):
        MailSettings(**base, username="auditor")
    with pytest.raises(ValueError, match="not an e-mail address"):
        MailSettings(**base, department_to=("a@b.example\r\nBcc: x@y.example",))
    leap = MailSettings(**base, reporting_day="02-29")
    assert leap.reporting_date(2027) == dt.date(2027, 2, 28) and leap.reporting_date(2028) == dt.date(2028, 2, 29)
    assert MailSettings(**base, portal_url="https://portal.test/").portal_url == "https://portal.test"
