"""Reports from a real lab audit, checked as a person sees them: Chromium renders the HTML, pdftotext reads the PDF.

The test plants hostile output on labh1 from the machine side (through the host's root filesystem), audits it
with an own check that prints it, and checks that every report shows it as inert text.
Set AUDITOR_UPDATE_SCREENSHOTS=1 to refresh docs/report-agency.png and docs/report-summary.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import run_cli

pytestmark = pytest.mark.lab

AGENCY_VI = "Báo Sóc Trăng (phòng thí nghiệm)"
AGENCY_EN = "Soc Trang Newspaper (lab)"
HOSTILE_PATH = "etc/auditor-report-hostile.txt"
HOSTILE = (
    b"<script>alert('xss')</script><img src=x onerror=alert(1)>\n"
    b"\x1b[31mRED\x1b[0m \x1b]0;pwned\x07 \xff\xfe\xc3\x28 invalid utf-8\n"
)
DOCS = Path(__file__).resolve().parents[2] / "docs"
CHECK = """\
id: report_hostile_banner
title: {vi: "Nội dung biểu ngữ an toàn", en: "Banner content is safe"}
severity: high
probe:
  command: "cat /etc/auditor-report-hostile.txt"
expect: {equals: "clean"}
rationale: {vi: "Kiểm tra thử cho báo cáo.", en: "A test check for the reports."}
remediation:
  vi: "Xóa tệp /etc/auditor-report-hostile.txt. Chạy lại đánh giá."
  en: "Remove /etc/auditor-report-hostile.txt. Audit again."
"""


@pytest.fixture(scope="module")
def audited(lab, enrolled: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    work = tmp_path_factory.mktemp("reports")
    inventory_path, known_hosts = enrolled
    inventory = yaml.safe_load(inventory_path.read_text(encoding="utf-8"))
    inventory["agencies"][0]["name"] = {"vi": AGENCY_VI, "en": AGENCY_EN}
    own_inventory = work / "inventory.yml"
    own_inventory.write_text(yaml.safe_dump(inventory, allow_unicode=True), encoding="utf-8")
    checks = work / "content" / "linux"
    checks.mkdir(parents=True)
    (checks / "report_hostile_banner.yml").write_text(CHECK, encoding="utf-8")
    planted = Path(lab.hosts[0].rootdir) / HOSTILE_PATH  # written by the test, from the machine side
    planted.write_bytes(HOSTILE)
    db = f"sqlite:///{work / 'audit.db'}"
    try:
        call = run_cli(
            "audit", "-i", str(own_inventory), "--known-hosts", str(known_hosts), "--db", db,
            "--content-dir", str(work / "content"),
        )  # fmt: skip
    finally:
        planted.unlink()
    assert call.returncode in (1, 2), call.stderr
    return work, db


def report(work: Path, db: str, name: str, *args: str) -> Path:
    out = work / name
    call = run_cli("report", "latest", "--db", db, "--content-dir", str(work / "content"), "-o", str(out), *args)
    assert call.returncode == 0, call.stderr
    return out


def chromium(*args: str, work: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.skip("chromium is not installed")
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--hide-scrollbars", f"--user-data-dir={work / 'chromium-profile'}",
    ]  # fmt: skip
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=120, check=False)


def pdf_text(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed")
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=60)
    return " ".join(done.stdout.decode("utf-8").split())  # table cells wrap lines: compare with spaces only


def screenshot(html: Path, png: Path, work: Path) -> None:
    done = chromium("--window-size=1200,1500", f"--screenshot={png}", html.as_uri(), work=work)
    assert png.exists() and png.stat().st_size > 10_000, done.stderr[-2000:]
    if os.environ.get("AUDITOR_UPDATE_SCREENSHOTS"):
        from PIL import Image

        with Image.open(png) as image:
            small = image.convert("RGB").resize((900, 1125)).quantize(colors=64)
            small.save(DOCS / f"{png.stem}.png", optimize=True)


def test_agency_report_from_a_real_audit(audited) -> None:  # type: ignore[no-untyped-def]
    work, db = audited
    html = report(work, db, "report-agency.html")
    page = html.read_text(encoding="utf-8")
    assert AGENCY_VI in page and "Khắc phục" in page and "report_hostile_banner" in page
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "\\x1b[31mRED" in page and "\x1b" not in page and "\\xff\\xfe" in page
    # Chromium's DOM: the hostile markup is a text node, there is no script or img element
    dom = chromium("--dump-dom", html.as_uri(), work=work).stdout
    assert "<script" not in dom.lower() and "<img" not in dom.lower()
    assert "&lt;script&gt;alert('xss')&lt;/script&gt;" in dom
    screenshot(html, work / "report-agency.png", work)

    english = report(work, db, "report-agency-en.html", "--lang", "en").read_text(encoding="utf-8")
    assert AGENCY_EN in english and "How to fix" in english and "Executive summary" in english

    for lang, marker in (("vi", "Khắc phục"), ("en", "How to fix")):
        text = pdf_text(report(work, db, f"report-agency-{lang}.pdf", "--lang", lang, "--format", "pdf"))
        assert marker in text and AGENCY_VI in text
        assert "<script>alert('xss')</script>" in text  # printed as text


def test_department_summary_from_a_real_audit(audited) -> None:  # type: ignore[no-untyped-def]
    work, db = audited
    html = report(work, db, "report-summary.html", "--summary")
    page = html.read_text(encoding="utf-8")
    assert AGENCY_VI in page and "Bản đồ nhiệt" in page and "25/11" in page
    screenshot(html, work / "report-summary.png", work)
    english = report(work, db, "report-summary-en.html", "--summary", "--lang", "en").read_text(encoding="utf-8")
    assert "Heat-map" in english and "-11-25" in english  # the next reporting day, ISO dates in English
    for lang in ("vi", "en"):
        text = pdf_text(report(work, db, f"report-summary-{lang}.pdf", "--summary", "--lang", lang, "--format", "pdf"))
        assert AGENCY_VI in text
        assert ("Tổng hợp" if lang == "vi" else "Level-3 compliance") in text


def test_exports_from_a_real_audit(audited) -> None:  # type: ignore[no-untyped-def]
    import json

    import jsonschema

    from auditor.reports.exports import export_csv, export_json
    from auditor.store import open_store

    _work, db = audited
    store = open_store(db)
    document = json.loads(export_json(store, "latest", "lab"))
    schema = json.loads((Path(__file__).resolve().parents[2] / "reports/schema/run-export.schema.json").read_text())
    jsonschema.validate(document, schema)
    rows = export_csv(store, "latest", "lab").splitlines()
    assert len(rows) >= len(document["findings"]) + 1
