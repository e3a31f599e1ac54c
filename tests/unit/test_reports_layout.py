"""The agency report as printed: an agency the size of the demo's (its servers judged on every shipped host check)
fits in 25 A4 pages in Vietnamese and in English, every table cell is at least as wide as its longest word (headers,
ids, addresses, data), and the measurement catches a column that is not."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from auditor.reports import build_agency_report, render_html
from auditor.reports.models import Lang
from auditor.reports.render import breakable, reports_dir
from auditor.store import Store, open_store
from tests.unit.report_demo_store import DB_FAILING, WEB_FAILING, demo_sized_run, host_checks
from tests.unit.report_layout import narrow_cells
from tests.unit.test_reports_figures import worst_agency_run
from tests.unit.test_reports_support import AGENCY, T0, content

weasyprint = pytest.importorskip("weasyprint")
MAX_PAGES = 25


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'layout.db'}")


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


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_demo_sized_agency_prints_on_at_most_25_pages_with_every_word_inside_its_cell(
    store: Store, tmp_path: Path, lang: Lang
) -> None:
    report = build_agency_report(store, content(), demo_sized_run(store), AGENCY.id, lang, now=T0)
    a = report.assessment
    # the demo's size: two servers on every host check, 12 targets, 70-odd failures over 65-odd causes
    assert sum(a.status_counts.values()) >= 2 * len(host_checks()) + 60 and len(report.hosts) == 12
    assert a.results_failed >= DB_FAILING + WEB_FAILING + 6 and len(report.findings) >= DB_FAILING
    assert len(report.evidence) >= 55 and len(report.manual_items) == 60
    html = render_html(report)
    pages = _print(html, tmp_path, f"demo-sized-{lang}")
    print(f"demo-sized agency ({lang}): {len(report.findings)} causes, {len(report.evidence)} evidence, {pages} pages")
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
    affected = '<col style="width:19%"><col style="width:81%">'
    assert affected in html
    squeezed = html.replace(affected, '<col style="width:4%"><col style="width:96%">')
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


def test_a_target_name_breaks_between_domain_labels_and_an_address_never() -> None:
    assert str(breakable("https://baosoctrang.example.vn", labels=True)) == (
        "https://<wbr>baosoctrang.<wbr>example.<wbr>vn"
    )
    assert str(breakable("tcp://10.200.3.2:2222", labels=True)) == "tcp://<wbr>10.200.3.2:2222"
    assert str(breakable("/etc/ssh/sshd_config.d")) == "/etc/ssh/sshd_config.d"  # output keeps its words
