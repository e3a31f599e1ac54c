"""`auditor report` on a store written through the real Store API: the agency's owner and time zone from the
inventory, progress lines only where a terminal watches, and its words in the chosen language."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from auditor.cli import report as report_cli
from auditor.errors import InventoryError
from auditor.inventory import Contact, load_inventory
from auditor.store import open_store
from auditor.vocabulary import ExitCode, Status
from tests.unit.test_reports_support import AGENCY, T0, agency_result, automated_checks, host_result, store_run

OWNER = {"name": "Ông Trần Văn An", "email": "an@baosoctrang.example", "phone": "0299 3821 555"}
TIME = re.compile(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}")


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    checks = automated_checks(3)
    statuses = {checks[0]: Status.failed, checks[1]: Status.error, checks[2]: Status.passed}
    store_run(open_store(url), [host_result("web-01", statuses), agency_result(AGENCY, T0)], {AGENCY.id: AGENCY}, T0)
    return url


@pytest.fixture(autouse=True)
def _vietnamese(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDITOR_LANG", raising=False)


def inventory(tmp_path: Path, **agency: Any) -> Path:
    path = tmp_path / "inventory.yml"
    data = {
        "agencies": [
            {
                "id": AGENCY.id,
                "name": {"vi": AGENCY.name.vi, "en": AGENCY.name.en},
                "hosts": [{"name": "web-01", "address": "10.200.1.2", "use_agent": True}],
                **agency,
            }
        ]
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def run_report(tmp_path: Path, db: str, *args: str, name: str = "out.html") -> tuple[Any, str]:
    out = tmp_path / name
    result = CliRunner().invoke(report_cli.app, ["latest", "--agency", AGENCY.id, "--db", db, "-o", str(out), *args])
    return result, out.read_text(encoding="utf-8") if out.exists() else ""


def times(html: str) -> list[datetime]:
    return [datetime.strptime(t, "%d/%m/%Y %H:%M") for t in TIME.findall(html)]


def test_the_plan_names_the_owner_and_the_report_shows_the_agencys_local_time(tmp_path: Path, db: str) -> None:
    plain, default = run_report(tmp_path, db, name="default.html")
    assert plain.exit_code == 0, plain.output
    assert "Asia/Ho_Chi_Minh" in default and "chưa khai báo đầu mối liên hệ trong tệp kiểm kê" in default
    assert "chưa có --inventory" in plain.stderr  # why the plan names no owner

    bangkok, in_bangkok = run_report(
        tmp_path, db, "-i", str(inventory(tmp_path, contact=OWNER, timezone="Asia/Bangkok")), name="bangkok.html"
    )
    assert bangkok.exit_code == 0, bangkok.output
    assert "Ông Trần Văn An · an@baosoctrang.example · 0299 3821 555" in in_bangkok  # the plan's owner
    assert "Asia/Bangkok" in in_bangkok and "Asia/Ho_Chi_Minh" not in in_bangkok
    assert times(in_bangkok) == times(default)  # Bangkok and Viet Nam are both UTC+7: same clock, named zone

    tokyo, in_tokyo = run_report(
        tmp_path, db, "-i", str(inventory(tmp_path, contact=OWNER, timezone="Asia/Tokyo")), name="tokyo.html"
    )
    assert tokyo.exit_code == 0, tokyo.output
    pairs = list(zip(times(default), times(in_tokyo), strict=True))
    assert pairs and all(later - shown == timedelta(hours=2) for shown, later in pairs)


def test_without_the_inventory_the_report_names_the_owner_and_zone_the_run_recorded(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'recorded.db'}"
    listed = AGENCY.model_copy(
        update={"contact": Contact(**OWNER, title="Trưởng phòng Kỹ thuật"), "timezone": "Asia/Tokyo"}
    )
    checks = automated_checks(2)
    statuses = {checks[0]: Status.failed, checks[1]: Status.passed}
    store_run(open_store(db), [host_result("web-01", statuses), agency_result(listed, T0)], {AGENCY.id: listed}, T0)

    vi, in_vi = run_report(tmp_path, db, "--lang", "vi", name="vi.html")
    en, in_en = run_report(tmp_path, db, "--lang", "en", name="en.html")
    for result, html in ((vi, in_vi), (en, in_en)):
        assert result.exit_code == 0, result.output
        assert "Ông Trần Văn An · Trưởng phòng Kỹ thuật" in html  # the plan's owner, as the run recorded it
        assert "Asia/Tokyo" in html and "Asia/Ho_Chi_Minh" not in html
        assert OWNER["email"] not in html and OWNER["phone"] not in html  # the run never recorded them
    assert "Người phụ trách: Ông Trần Văn An" in in_vi and "Owner: Ông Trần Văn An" in in_en
    assert "theo ghi nhận của lượt" in " ".join(vi.stderr.split())  # which was used, said on stderr
    assert "as run" in en.stderr and "recorded them" in " ".join(en.stderr.split())

    other = {"name": "Bà Lê Thị Hoa", "email": "hoa@baosoctrang.example"}
    given, in_given = run_report(tmp_path, db, "-i", str(inventory(tmp_path, contact=other)), name="given.html")
    assert given.exit_code == 0, given.output
    assert "Bà Lê Thị Hoa · hoa@baosoctrang.example" in in_given and "Trần Văn An" not in in_given  # it wins
    assert "Asia/Ho_Chi_Minh" in in_given and "theo ghi nhận" not in given.stderr


def test_the_inventory_refuses_an_unknown_time_zone(tmp_path: Path, db: str) -> None:
    for zone in ("Asia", "Mars/Olympus_Mons", "../etc/passwd"):
        with pytest.raises(InventoryError, match=r"timezone.*unknown time zone"):
            load_inventory(inventory(tmp_path, timezone=zone))
    assert load_inventory(inventory(tmp_path)).agencies[0].timezone is None  # the profile's zone then
    result, _html = run_report(tmp_path, db, "-i", str(inventory(tmp_path, timezone="Asia")))
    said = " ".join(result.stderr.split())  # in the default language, Vietnamese
    assert result.exit_code == ExitCode.config and "trường timezone: múi giờ 'Asia' không có" in said


def test_progress_shows_each_step_only_on_a_terminal_and_not_with_quiet(
    tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, _html = run_report(tmp_path, db)  # stderr is not a terminal here: no progress lines
    assert result.exit_code == 0 and "Dựng báo cáo HTML" not in result.stderr and "đã ghi" in result.stderr

    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100, highlight=False)
    monkeypatch.setattr(report_cli, "err_console", terminal)
    result, _html = run_report(tmp_path, db)
    assert result.exit_code == 0, result.output
    shown = screen.getvalue()
    assert f"Đọc kết quả kiểm tra: {AGENCY.id}" in shown and f"Dựng báo cáo HTML: {AGENCY.id}" in shown
    assert "✓" in shown and "đã ghi" in shown

    screen.truncate(0)
    result, _html = run_report(tmp_path, db, "--quiet")
    assert result.exit_code == 0 and screen.getvalue().strip("\x00") == ""


def test_the_pdf_step_is_shown_while_the_pdf_prints(tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(report_cli, "err_console", Console(file=screen, force_terminal=True, width=100))
    seen: list[str] = []

    def printing(html: str) -> bytes:
        seen.append(screen.getvalue())  # what the terminal showed before printing began
        return b"%PDF-1.7 printed"

    monkeypatch.setattr("auditor.reports.render_pdf", printing)
    result = CliRunner().invoke(
        report_cli.app, ["latest", "--agency", AGENCY.id, "--db", db, "--format", "pdf", "-o", str(tmp_path / "r.pdf")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.pdf").read_bytes() == b"%PDF-1.7 printed"
    assert f"In báo cáo PDF: {AGENCY.id}" in screen.getvalue()
    assert seen and "Dựng báo cáo HTML" in seen[0]


def test_usage_errors_speak_the_chosen_language(tmp_path: Path, db: str) -> None:
    runner = CliRunner()
    vi = runner.invoke(report_cli.app, ["latest", "--summary", "--agency", AGENCY.id, "--db", db])
    assert vi.exit_code == ExitCode.config and "--summary bao gồm mọi cơ quan" in vi.stderr
    en = runner.invoke(report_cli.app, ["latest", "--summary", "--agency", AGENCY.id, "--db", db, "--lang", "en"])
    assert en.exit_code == ExitCode.config and "leave out --agency" in en.stderr
    docx = runner.invoke(report_cli.app, ["latest", "--format", "docx", "--db", db])
    assert docx.exit_code == ExitCode.config and "--format docx chỉ dùng cho báo cáo hằng năm" in docx.stderr
    yearly_en = runner.invoke(report_cli.app, ["--yearly", "--lang", "en", "--db", db])
    assert yearly_en.exit_code == ExitCode.config and "tiếng Việt" not in yearly_en.stderr
    assert "Vietnamese only" in yearly_en.stderr
