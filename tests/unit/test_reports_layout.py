"""The agency report as printed: an agency the size of the demo's fits in 25 A4 pages, every table cell is at least
as wide as its longest word (headers, ids, addresses, data), and the measurement catches a column that is not."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from auditor.evaluation.findings import HostResult
from auditor.reports import build_agency_report, render_html
from auditor.reports.render import reports_dir
from auditor.store import Store, open_store
from auditor.vocabulary import Status
from tests.unit.report_layout import narrow_cells
from tests.unit.test_reports_figures import exposed_host, worst_agency_run
from tests.unit.test_reports_support import (
    AGENCY,
    T0,
    agency_result,
    automated_checks,
    content,
    host_result,
    store_run,
)

weasyprint = pytest.importorskip("weasyprint")
F, P = Status.failed, Status.passed
MAX_PAGES = 25


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'layout.db'}")


def _output(check_id: str, index: int, host: str) -> bytes:
    """Outputs of the lengths a real audit records: a word, a few lines, or a long listing the report must cut."""
    lines = [f"/etc/{check_id}.d/{host}-{n}.conf: setting_{n} = {index * n}" for n in range(1 + index % 3)]
    if index % 15 == 0:
        lines += [f"net.ipv4.conf.default.accept_redirects={n % 2}" for n in range(30)]
    return ("\n".join(lines) + "\n").encode()


def _server(name: str, address: str, checks: list[str], failing: int) -> HostResult:
    statuses = {check: (F if index < failing else P) for index, check in enumerate(checks)}
    stdout = {check: _output(check, index, name) for index, check in enumerate(checks)}
    return host_result(name, statuses, stdout=stdout, address=address)


def demo_sized_run(store: Store) -> str:
    """Like the demo's Báo Sóc Trăng: five targets and about 250 results, 50 of them failing over some 45 causes
    (a database server failing most, a web server failing some of the same, exposed ports seen by several network
    checks, a website), and the 60 documents the agency still owes."""
    checks = automated_checks(85)
    website = host_result("https://baosoctrang.example.vn", {"web_hsts_enabled": F, "web_csp_present": P})
    results = [
        _server("bst-db", "10.200.3.2", checks, failing=38),
        _server("bst-web", "10.200.1.2", checks, failing=4),
        exposed_host("tcp://10.200.3.2:2222", "10.200.3.2", {}),
        exposed_host("tcp://10.200.1.2:443", "10.200.1.2", {}),
        website.model_copy(update={"kind": "website", "address": "", "facts": None}),
        agency_result(),
    ]
    return store_run(store, results, {AGENCY.id: AGENCY}, T0)


def _print(html: str, tmp_path: Path, name: str) -> int:
    """Print like ``auditor report --format pdf`` and count the pages; a few pages go to PNG as a person sees them."""
    document = weasyprint.HTML(string=html, base_url="about:blank").render()
    pdf_file = tmp_path / f"{name}.pdf"
    document.write_pdf(pdf_file)
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is not None:
        subprocess.run([pdftoppm, "-r", "50", "-l", "2", "-png", str(pdf_file), str(tmp_path / name)], check=True)
        assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in tmp_path.glob(f"{name}-*.png"))
    return len(document.pages)


def test_a_demo_sized_agency_prints_on_at_most_25_pages_with_every_word_inside_its_cell(
    store: Store, tmp_path: Path
) -> None:
    report = build_agency_report(store, content(), demo_sized_run(store), AGENCY.id, "vi", now=T0)
    a = report.assessment
    assert sum(a.status_counts.values()) >= 240 and a.results_failed >= 45 and len(report.findings) >= 40
    assert len(report.hosts) == 6 and len(report.evidence) >= 40  # five targets and the agency's documents
    html = render_html(report)
    pages = _print(html, tmp_path, "demo-sized")
    print(f"demo-sized agency: {len(report.findings)} causes, {len(report.evidence)} evidence, {pages} pages")
    assert pages <= MAX_PAGES
    assert [str(cell) for cell in narrow_cells(html)] == []


def test_the_test_stores_report_stays_short_with_every_word_inside_its_cell(store: Store, tmp_path: Path) -> None:
    """The store of the figures tests (in English, the longer words), with a cipher list written without spaces."""
    report = build_agency_report(store, content(), worst_agency_run(store, hosts=3, checks=25), AGENCY.id, "en", now=T0)
    html = render_html(report)
    pages = _print(html, tmp_path, "test-store")
    print(f"test store: {len(report.findings)} causes, {pages} pages")
    assert pages <= 20
    assert [str(cell) for cell in narrow_cells(html)] == []


def test_a_column_too_narrow_for_its_words_is_caught(store: Store) -> None:
    html = render_html(build_agency_report(store, content(), worst_agency_run(store, hosts=1, checks=8), AGENCY.id))
    affected = '<col style="width:21%"><col style="width:36%"><col style="width:43%">'
    assert affected in html
    squeezed = html.replace(affected, '<col style="width:4%"><col style="width:53%"><col style="width:43%">')
    narrow = narrow_cells(squeezed)
    assert any(cell.word == "web-01" and cell.word_px > cell.cell_px for cell in narrow), narrow


CSS = (reports_dir() / "assets" / "report.css").read_text(encoding="utf-8")


def _table(width: str, header: str, cell: str) -> str:
    return (
        f"<html lang='vi'><head><style>{CSS}</style></head><body><table class='fixed'><colgroup>"
        f"<col style='width:{width}'><col></colgroup><thead><tr><th>{header}</th><th>x</th></tr></thead>"
        f"<tbody><tr><td>{cell}</td><td>x</td></tr></tbody></table></body></html>"
    )


@pytest.mark.parametrize(
    ("header", "cell", "word"),
    [
        ("Không đạt", "—", "Không"),  # a header word (it wraps whole, never as "Khô/ng")
        ("#", "<span class='mono nobreak'>10.200.3.2</span>", "10.200.3.2"),  # an address kept on one line
        ("#", "<span class='badge st-fail'>Không đạt</span>", "Không đạt"),  # a badge that cannot wrap
        ("#", "<pre>TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA</pre>", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),  # data
    ],
)
def test_each_kind_of_word_is_measured_against_its_cell(header: str, cell: str, word: str) -> None:
    assert narrow_cells(_table("40%", header, cell)) == []
    narrow = narrow_cells(_table("2%", header, cell))
    assert [c.word for c in narrow if c.word == word] == [word], narrow
