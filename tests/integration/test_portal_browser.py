"""The portal's main flows in a real browser (Playwright driving Debian's Chromium) against a real `auditor serve`
auditing real lab hosts, with mail going to a local SMTP server (STARTTLS and a login).

- The officer creates a schedule, starts an audit of the lab hosts, follows it live and sees it finish; each
  agency's contact then receives its report (PDF) and the department its summary.
- The department reads the dashboard and drills down agency → finding → evidence; a target's hostile output
  (planted on labh1 from the machine side) is shown as inert text.
- An agency user sees only its own agency and uploads a document for a manual item; the officer accepts it.

Set AUDITOR_UPDATE_SCREENSHOTS=1 to refresh docs/portal-*.png."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from auditor.portal.security import hash_password
from auditor.scheduler.cron import next_slot
from auditor.store import RunStatus, Store, open_store
from tests.integration.conftest import run_cli
from tests.integration.serving import Server, serving
from tests.localnet import free_port, wait_for
from tests.smtp_server import LOGIN, Inbox, SmtpServer, self_signed
from tests.smtp_server import PASSWORD as SMTP_PASSWORD

pytestmark = [pytest.mark.lab, pytest.mark.browser]

PASSWORD = "mật khẩu đủ dài cho cổng"
USERS = {"officer1": ("officer", None), "lanhdao": ("department", None), "soa-it": ("agency", "so-a")}
AGENCIES = {
    "so-a": ("Báo Phòng thí nghiệm A", "Lab Newspaper A", "labh1"),
    "so-b": ("Đài Phòng thí nghiệm B", "Lab Radio B", "labh2"),
}
DEPARTMENT = "lanhdao@stttt.example"
SMTP_PASSWORD_ENV = "AUDITOR_TEST_PORTAL_SMTP_PASSWORD"
HOSTILE_PATH = "etc/auditor-portal-hostile.txt"
HOSTILE = b"<script>alert('xss')</script><img src=x onerror=alert(1)>\n\x1b[31mRED\x1b[0m \xff\xfe tail\n"
HOSTILE_CHECK = """\
id: portal_hostile_banner
title: {vi: "Nội dung biểu ngữ an toàn", en: "Banner content is safe"}
severity: high
probe:
  command: "cat /etc/auditor-portal-hostile.txt"
expect: {equals: "clean"}
rationale: {vi: "Kiểm tra thử cho cổng thông tin.", en: "A test check for the portal."}
remediation:
  vi: "Xóa tệp /etc/auditor-portal-hostile.txt. Chạy lại đánh giá."
  en: "Remove /etc/auditor-portal-hostile.txt. Audit again."
"""
DOCS = Path(__file__).resolve().parents[2] / "docs"


@dataclass
class Site:
    server: Server
    store: Store
    inbox: Inbox
    work: Path
    runs: list[str] = field(default_factory=list)  # audits started in the browser, oldest first

    def url(self, path: str) -> str:
        return self.server.base + path


@pytest.fixture(scope="module")
def site(lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:  # type: ignore[no-untyped-def]
    work = tmp_path_factory.mktemp("portal-browser")
    hosts = {host.name: host for host in lab.hosts}
    agencies = [
        {
            "id": agency_id,
            "name": {"vi": vi, "en": en},
            "contact": {"name": "Phòng Kỹ thuật", "email": f"kythuat@{agency_id}.example"},
            "hosts": [
                {
                    "name": host,
                    "address": hosts[host].address,
                    "port": hosts[host].port,
                    "user": hosts[host].user,
                    "key_file": str(lab.key_file),
                    "sudo": True,
                    "roles": ["web"],
                }
            ],
        }
        for agency_id, (vi, en, host) in AGENCIES.items()
    ]
    inventory = work / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"agencies": agencies}, allow_unicode=True), encoding="utf-8")
    known_hosts = work / "known_hosts"
    trusted = run_cli("hosts", "trust", "--inventory", str(inventory), "--known-hosts", str(known_hosts), "--yes")
    assert trusted.returncode == 0, trusted.stderr
    content = work / "content" / "linux"
    content.mkdir(parents=True)
    (content / "portal_hostile_banner.yml").write_text(HOSTILE_CHECK, encoding="utf-8")

    db = f"sqlite:///{work / 'portal.db'}"
    store = open_store(db)
    now = datetime.now(UTC)
    for username, (role, agency) in USERS.items():
        store.add_user(username, f"Người dùng {username}", role, hash_password(PASSWORD), now, agency_id=agency)  # type: ignore[arg-type]

    cert_file, _key = self_signed(work)
    smtp = SmtpServer(inbox=Inbox(), port=free_port(), ca_file=cert_file)
    smtp.start()
    planted = Path(hosts["labh1"].rootdir) / HOSTILE_PATH  # written by the test, from the machine side
    planted.write_bytes(HOSTILE)
    arguments = [
        "--inventory", str(inventory), "--known-hosts", str(known_hosts), "--db", db,
        "--secret-file", str(work / "portal.key"), "--content-dir", str(work / "content"),
        "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp.port), "--smtp-ca-file", str(cert_file),
        "--smtp-user", LOGIN, "--smtp-password-env", SMTP_PASSWORD_ENV, "--mail-from", "kiemtra@stttt.example",
        "--department-email", DEPARTMENT, "--portal-url", "https://kiemtra.stttt.example/",
    ]  # fmt: skip
    try:
        with serving([arguments], work, env={SMTP_PASSWORD_ENV: SMTP_PASSWORD}) as (server,):
            yield Site(server, store, smtp.inbox, work)
    finally:
        planted.unlink(missing_ok=True)
        smtp.stop()
        store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    binary = shutil.which("chromium")
    if binary is None:
        if os.environ.get("AUDITOR_REQUIRE_LAB"):
            pytest.fail("chromium is not installed (scripts/setup.sh --dev installs it)")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=binary,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"],
        )
        yield launched
        launched.close()


class Visitor:
    """One person's browser context: signed in, its console errors and dialogs (there must be none) recorded."""

    def __init__(self, browser: Any, site: Site, username: str) -> None:
        self.site = site
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on(
            "console", lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.goto(site.url("/"))
        assert "/login" in self.page.url  # signed out: the sign-in page, whatever was asked for
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("form[action='/login'] button[type=submit]")
        self.page.wait_for_load_state()

    def goto(self, path: str) -> int:
        """Open a page; its status. A refused page (4xx) is what some steps check for: the browser's console line
        about that page's own status is expected, not a problem."""
        answer = self.page.goto(self.site.url(path))
        assert answer is not None
        status = int(answer.status)
        if status >= 400:
            expected = f"Failed to load resource: the server responded with a status of {status}"
            self.problems = [p for p in self.problems if expected not in p]
        return status

    def text(self) -> str:
        return str(self.page.inner_text("body"))

    def screenshot(self, name: str) -> None:
        png = self.site.work / f"{name}.png"
        self.page.screenshot(path=str(png))
        if os.environ.get("AUDITOR_UPDATE_SCREENSHOTS"):
            from PIL import Image

            with Image.open(png) as image:
                image.convert("RGB").quantize(colors=128).save(DOCS / f"{name}.png", optimize=True)

    def close(self) -> None:
        self.context.close()
        assert not self.problems, self.problems


def _audit_now(visitor: Visitor) -> str:
    """Start an audit of every agency from the runs page; the run's page, followed live until it has finished."""
    assert visitor.goto("/runs") == 200
    visitor.page.select_option("form[action='/runs'] select[name=agency]", "*")
    visitor.page.click("form[action='/runs'] button[type=submit]")
    visitor.page.wait_for_url("**/runs/r-*")
    run_id = visitor.page.url.rsplit("/", 1)[1]
    visitor.page.wait_for_selector("#live-log li", timeout=60_000)  # live progress from the server's events
    visitor.site.runs.append(run_id)
    # portal.js reloads the page when the run has ended: the badge then says so
    visitor.page.wait_for_selector("#run-status.st-completed", timeout=240_000)
    return run_id


@pytest.fixture(scope="module")
def audited(site: Site, browser: Any) -> str:
    """A finished audit of both agencies (the officer's test makes it; this makes one if run alone)."""
    if not site.runs:
        officer = Visitor(browser, site, "officer1")
        _audit_now(officer)
        officer.close()
    return site.runs[-1]


def test_the_officer_schedules_and_audits_now_and_the_reports_are_mailed(site: Site, browser: Any) -> None:
    officer = Visitor(browser, site, "officer1")
    assert officer.page.url.endswith("/dashboard")

    assert officer.goto("/schedules") == 200
    form = officer.page.locator("form[action='/schedules']")
    form.locator("input[name=cron]").fill("30 1 * * 1")
    form.locator("select[name=agency]").select_option("so-a")
    form.locator("button[type=submit]").click()
    officer.page.wait_for_load_state()
    assert "30 1 * * 1" in officer.text() and AGENCIES["so-a"][0] in officer.text()
    (schedule,) = site.store.list_schedules()
    assert (schedule.cron, schedule.agency_id, schedule.created_by) == ("30 1 * * 1", "so-a", "officer1")
    upcoming = next_slot(schedule.cron, schedule.timezone, datetime.now(UTC)).astimezone(ZoneInfo(schedule.timezone))
    assert upcoming.strftime("%d/%m/%Y %H:%M") in officer.text()  # the next run, in Viet Nam time

    run_id = _audit_now(officer)
    page = officer.text()
    assert "labh1" in page and "labh2" in page
    officer.screenshot("portal-run")
    run = site.store.get_run(run_id)
    assert run.status is RunStatus.completed and run.options["started_by"] == "officer1"
    assert run.targets.servers_ok == 2 and run.finding_counts["pass"] > 0 and run.finding_counts["fail"] > 0
    actions = {(a.actor, a.action) for a in site.store.list_activity()}
    assert {("officer1", "login"), ("officer1", "schedule_add"), ("officer1", "run_start")} <= actions
    officer.close()

    # after the run: each agency's contact gets its report, the department its summary, sent over STARTTLS
    def arrived() -> bool:
        recipients = {str(m["To"]) for m in site.inbox.messages}
        return {"kythuat@so-a.example", "kythuat@so-b.example", DEPARTMENT} <= recipients

    wait_for(arrived, 120, "the reports and the summary to arrive", interval=0.5)
    (report,) = [m for m in site.inbox.messages if m["To"] == "kythuat@so-a.example"]
    assert AGENCIES["so-a"][0] in str(report["Subject"])
    body = report.get_body(("plain",))
    assert body is not None and "https://kiemtra.stttt.example/agencies/so-a" in body.get_content()
    (pdf,) = list(report.iter_attachments())
    assert pdf.get_content_type() == "application/pdf" and pdf.get_content().startswith(b"%PDF-")
    assert site.inbox.logins and site.inbox.logins[0][0] == LOGIN
    sent = [m for m in site.store.list_mail(run_id=run_id) if m.sent_at is not None]
    assert len(sent) == 3


def test_the_department_reads_the_dashboard_down_to_inert_evidence(site: Site, browser: Any, audited: str) -> None:
    department = Visitor(browser, site, "lanhdao")
    assert department.page.url.endswith("/dashboard")
    page = department.text()
    assert AGENCIES["so-a"][0] in page and AGENCIES["so-b"][0] in page
    assert department.page.locator("svg").count() > 0  # charts drawn inline
    department.screenshot("portal-dashboard")
    assert department.goto("/schedules") == 403  # reading everything, changing nothing
    assert department.goto("/runs") == 200 and department.page.locator("form[action='/runs']").count() == 0

    # drill down: agency → its latest audit → the target → the finding → the evidence, verified
    assert department.goto("/dashboard") == 200
    department.page.click(f"a[href='/agencies/so-a'] >> text={AGENCIES['so-a'][0]}")
    department.page.wait_for_url("**/agencies/so-a")
    department.page.click(f"a[href='/agencies/so-a/runs/{audited}']")
    department.page.wait_for_url(f"**/agencies/so-a/runs/{audited}*")
    department.page.click("a[href*='?host=labh1']")
    department.page.wait_for_url("**host=labh1")
    item = department.page.locator("tr, li, section").filter(has_text="portal_hostile_banner").last
    item.locator("a[href^='/findings/']").first.click()
    department.page.wait_for_url("**/findings/*")
    finding = department.text()
    assert "portal_hostile_banner" in finding and "đã xác minh" in finding
    # what the target printed is text: no element made of it, no dialog, only the portal's own scripts
    assert "<script>alert('xss')</script><img src=x onerror=alert(1)>" in finding
    assert "\\x1b[31mRED" in finding and "\\xff\\xfe" in finding
    assert department.page.locator("img").count() == 0
    sources = department.page.eval_on_selector_all("script", "nodes => nodes.map(n => n.getAttribute('src'))")
    assert all(src and src.startswith("/static/") for src in sources), sources
    department.close()


def test_an_agency_user_sees_only_its_agency_and_uploads_evidence(site: Site, browser: Any, audited: str) -> None:
    agency = Visitor(browser, site, "soa-it")
    assert agency.page.url.endswith("/agencies/so-a")
    page = agency.text()
    assert AGENCIES["so-a"][0] in page and AGENCIES["so-b"][0] not in page
    other_finding = next(f for f in site.store.list_findings(audited, agency_id="so-b"))
    for path, status in (
        ("/agencies/so-b", 404),
        (f"/agencies/so-b/runs/{audited}", 404),
        (f"/findings/{other_finding.id}", 404),
        (f"/agencies/so-b/reports/{audited}.html", 404),
        ("/dashboard", 403),
        ("/runs", 403),
        (f"/exports/{audited}.json", 403),
    ):
        assert agency.goto(path) == status, path
    assert agency.goto("/agencies/so-a") == 200
    agency.screenshot("portal-agency")

    # a document for the first manual item awaiting evidence
    item = agency.page.locator("details:has(form.upload)").first
    item.locator("summary").click()  # the form opens under its item, as a user would open it
    upload = item.locator("form.upload")
    check_id = upload.locator("input[name=check_id]").get_attribute("value")
    assert check_id
    upload.locator("input[type=file]").set_input_files(
        files=[{"name": "quy-che-an-toan-thong-tin.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 test"}]
    )
    upload.locator("input[name=note]").fill("Quy chế bảo đảm an toàn thông tin, ban hành 2026")
    upload.locator("button[type=submit]").click()
    agency.page.wait_for_load_state()
    assert "Đã gửi tài liệu" in agency.text()
    (submission,) = site.store.list_submissions("so-a")
    assert (submission.check_id, submission.submitted_by, submission.decision) == (check_id, "soa-it", None)

    # the officer accepts it: the item is attested
    officer = Visitor(browser, site, "officer1")
    assert officer.goto("/submissions") == 200
    decision = officer.page.locator(f"form[action='/submissions/{submission.id}/accept']")
    decision.locator("textarea[name=justification]").fill("Quy chế đã ký ban hành, có hiệu lực")
    decision.locator("button[type=submit]").click()
    officer.page.wait_for_load_state()
    assert "Đã chấp nhận hồ sơ" in officer.text()
    officer.close()
    (decided,) = site.store.list_submissions("so-a")
    assert decided.decision == "accepted" and decided.attestation_id is not None
    assert any(a.check_id == check_id for a in site.store.list_attestations("so-a"))
    actions = {(a.actor, a.action) for a in site.store.list_activity(agency_id="so-a")}
    assert {("soa-it", "upload"), ("officer1", "accept")} <= actions
    agency.close()
