"""The official yearly report (Decree 30/2020/NĐ-CP layout) from synthetic store data: the DOCX read back with
python-docx, the PDF read back with pdftotext, the settings file, the choice of runs, the command line."""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path

import docx
import pytest
from docx.shared import Mm, Pt
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph as DocxParagraph
from fontTools.ttLib import TTFont
from typer.testing import CliRunner

from auditor.cli.report import app as report_app
from auditor.errors import ConfigError, NotFoundError
from auditor.inventory import Agency
from auditor.reports import official
from auditor.reports.agency import pick_catalogue
from auditor.reports.official import (
    OfficialDocument,
    build_agency_yearly_report,
    build_yearly_report,
    place_date,
    tally,
    yearly_run_ids,
)
from auditor.reports.official_docx import render_docx
from auditor.reports.official_html import render_official_html, render_official_pdf
from auditor.reports.official_settings import default_settings, load_settings
from auditor.reports.summary import build_summary_report
from auditor.store import Store, open_store
from auditor.vocabulary import LocalizedText, Status
from tests.unit.test_reports_support import AGENCY, T0, agency_result, automated_checks, content, host_result, store_run

F, P = Status.failed, Status.passed
RADIO = Agency(id="dai-ptth-soctrang", name=LocalizedText(vi="Đài Phát thanh - Truyền hình Sóc Trăng", en="Radio"))
MAGAZINE = Agency(id="tapchi-vhnt-soctrang", name=LocalizedText(vi="Tạp chí Văn hóa Nghệ thuật Sóc Trăng", en="Mag"))
AGENCIES = {a.id: a for a in (AGENCY, RADIO, MAGAZINE)}
REPORT_DAY = date(2026, 11, 25)
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"  # WordprocessingML
# Machine names of states and statuses that must never reach a Vietnamese reader.
ENGLISH_STATES = re.compile(
    r"\b(completed|completed_with_errors|interrupted|not_met|not_demonstrated|meets|met|met_with_waivers|"
    r"awaiting_evidence|not_evaluated|not_applicable|failed|pass|fail|error|manual|critical|high|medium|low)\b",
    re.IGNORECASE,
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'audit.db'}")


def fill(store: Store) -> dict[str, str]:
    """Three agencies audited in 2026 (the newspaper twice: the later run counts), one run in 2025 and one after
    the report date that must both be left out. Returns the run ids by name."""
    a, b, c, d = automated_checks(4)
    runs = {
        "last_year": store_run(store, [host_result("bst-web", {a: F, b: F})], AGENCIES, T0 - timedelta(days=365)),
        "first": store_run(
            store,
            [host_result("bst-web", {a: F, b: F, c: F}), agency_result(AGENCY)],
            AGENCIES,
            T0,
        ),
        "second": store_run(
            store,
            [
                host_result("bst-web", {a: P, b: F, c: F, d: P}),
                host_result("bst-db", {a: P, b: F, c: P, d: P}, address="10.200.3.2"),
                agency_result(AGENCY, T0 + timedelta(days=20)),
                host_result("stv-web", {a: P, b: P, c: P, d: P}, agency=RADIO, address="10.200.4.2"),
                agency_result(RADIO, T0 + timedelta(days=20)),
                host_result("vhnt-web", {a: F, b: P, c: P, d: F}, agency=MAGAZINE, address="10.200.2.2"),
            ],
            AGENCIES,
            T0 + timedelta(days=20),
        ),
        "after": store_run(
            store, [host_result("bst-web", dict.fromkeys((a, b, c, d), P))], AGENCIES, T0 + timedelta(days=70)
        ),
    }
    return runs


def texts(document: docx.document.Document) -> Iterator[str]:
    """Every paragraph's text: the body, then the cells of every table (nested ones too), then the headers."""

    def walk(paragraphs: list[DocxParagraph], tables: list[DocxTable]) -> Iterator[str]:
        for paragraph in paragraphs:
            yield paragraph.text
        for table in tables:
            for row in table.rows:
                for cell in row.cells:
                    yield from walk(cell.paragraphs, cell.tables)

    yield from walk(document.paragraphs, document.tables)
    for section in document.sections:
        yield from (p.text for p in section.first_page_header.paragraphs)


def paragraphs_of(table: DocxTable) -> list[DocxParagraph]:
    return [p for row in table.rows for cell in row.cells for p in cell.paragraphs]


def find(paragraphs: list[DocxParagraph], text: str) -> DocxParagraph:
    return next(p for p in paragraphs if p.text == text)


def read_docx(document: OfficialDocument) -> docx.document.Document:
    return docx.Document(BytesIO(render_docx(document)))


def test_yearly_docx_is_laid_out_as_an_administrative_document(store: Store) -> None:
    fill(store)
    document = read_docx(build_yearly_report(store, content(), default_settings(), REPORT_DAY))
    heading, closing = document.tables[0], document.tables[-1]
    top = paragraphs_of(heading)
    assert find(top, "SỞ THÔNG TIN VÀ TRUYỀN THÔNG").runs[0].bold
    assert find(top, "UBND TỈNH SÓC TRĂNG").runs[0].bold is not True
    assert find(top, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM").runs[0].bold
    assert find(top, "Độc lập - Tự do - Hạnh phúc").runs[0].bold
    assert re.fullmatch(r"Số:\s+/BC-STTTT", next(p.text for p in top if p.text.startswith("Số:")))
    assert find(top, "Sóc Trăng, ngày 25 tháng 11 năm 2026").runs[0].italic
    assert sum(1 for p in top if p._p.pPr is not None and p._p.pPr.find(f"{W}pBdr") is not None) == 2  # the two rules
    # The issuing body sits left of the motto, in the same row.
    left, right = heading.rows[0].cells
    assert "SỞ THÔNG TIN VÀ TRUYỀN THÔNG" in left.text and "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in right.text

    body = document.paragraphs
    title = find(body, "BÁO CÁO")
    assert title.runs[0].bold
    subject = body[[p.text for p in body].index("BÁO CÁO") + 1]  # the subject line right under the title
    assert subject.text.startswith("Kết quả kiểm tra, đánh giá bảo đảm an toàn")
    assert "năm 2026" in subject.text and subject.runs[0].bold
    all_text = "\n".join(texts(document))
    for heading_text in ("I. CĂN CỨ THỰC HIỆN", "II. KẾT QUẢ KIỂM TRA, ĐÁNH GIÁ", "III. ĐỀ XUẤT, KIẾN NGHỊ"):
        assert heading_text in all_text
    assert "Nghị định số 85/2016/NĐ-CP" in all_text and "Kế hoạch số 192/KH-UBND" in all_text
    assert all_text.count("./.") == 1

    bottom = paragraphs_of(closing)
    assert find(bottom, "Nơi nhận:").runs[0].bold and find(bottom, "Nơi nhận:").runs[0].italic
    assert find(bottom, "Nơi nhận:").runs[0].font.size == Pt(12)
    assert find(bottom, "- UBND tỉnh (để báo cáo);").runs[0].font.size == Pt(11)
    assert find(bottom, "- Lưu: VT.") is not None
    assert find(bottom, "GIÁM ĐỐC").runs[0].bold
    assert find(bottom, "(Ký, ghi rõ họ tên)").runs[0].italic
    assert "Nơi nhận:" in closing.rows[0].cells[0].text and "GIÁM ĐỐC" in closing.rows[0].cells[1].text


def test_yearly_table_has_one_row_per_agency_with_the_roll_up_figures_in_vietnamese(store: Store) -> None:
    runs = fill(store)
    document = read_docx(build_yearly_report(store, content(), default_settings(), REPORT_DAY))
    table = document.tables[1]
    header = [c.text for c in table.rows[0].cells]
    assert header == [
        "STT", "Cơ quan", "Kết luận", "Đáp ứng", "Không đáp ứng", "Chờ minh chứng", "Chưa đánh giá được",
        "Yêu cầu chưa đạt chính", "Ngày kiểm tra gần nhất",
    ]  # fmt: skip
    rows = {r.cells[1].text: [c.text for c in r.cells] for r in table.rows[1:]}
    assert set(rows) == {AGENCY.name.vi, RADIO.name.vi, MAGAZINE.name.vi}
    # The same figures as the summary roll-up over the runs the report chose, as of the report date.
    moment = datetime(2026, 11, 25, 23, 59, tzinfo=UTC)
    summary = build_summary_report(store, content(), [runs["second"]], now=moment, as_of=moment)
    words = {
        "meets": "Đáp ứng cấp độ 3",
        "not_met": "Chưa đáp ứng cấp độ 3",
        "not_demonstrated": "Chưa đủ căn cứ kết luận",
    }
    for assessment in summary.agencies:
        row = rows[assessment.name_vi]
        counts = tally(assessment.clauses)
        assert row[2] == words[assessment.verdict.value]
        assert row[3:7] == [str(counts.met), str(counts.failed), str(counts.awaiting), str(counts.not_evaluated)]
        assert counts.total == assessment.clauses_total and counts.met == assessment.clauses_demonstrated
        assert row[8] == "21/10/2026"  # the second run, in local time; not the first run nor the one after
    assert rows[AGENCY.name.vi][2] == "Chưa đáp ứng cấp độ 3"
    assert rows[RADIO.name.vi][2] != "Chưa đáp ứng cấp độ 3" and rows[RADIO.name.vi][7] == ""
    failing_title = content().checks[automated_checks(4)[1]].title.vi
    assert failing_title in rows[AGENCY.name.vi][7]
    # Numbered rows, and the header row repeats on every page.
    assert [r.cells[0].text for r in table.rows[1:]] == ["1", "2", "3"]
    row_properties = table.rows[0]._tr.trPr
    assert row_properties is not None and row_properties.find(f"{W}tblHeader") is not None


def test_docx_fonts_page_and_margins_follow_decree_30(store: Store) -> None:
    fill(store)
    document = read_docx(build_yearly_report(store, content(), default_settings(), REPORT_DAY))
    normal = document.styles["Normal"]
    assert normal.font.name == "Times New Roman" and normal.font.size == Pt(14)  # type: ignore[attr-defined]
    fonts = normal.element.rPr.rFonts
    assert {fonts.get(f"{W}{a}") for a in ("ascii", "hAnsi", "eastAsia")} == {"Times New Roman"}
    defaults = document.styles.element.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr/{W}rFonts")
    assert defaults is not None and not any(key.lower().endswith("theme") for key in defaults.attrib)
    assert defaults.get(f"{W}ascii") == "Times New Roman"
    section = document.sections[0]
    width, height = section.page_width, section.page_height
    assert width is not None and height is not None
    assert abs(width - Mm(210)) < Mm(0.1) and abs(height - Mm(297)) < Mm(0.1)  # A4
    slack = Mm(0.1)  # Word keeps margins in twentieths of a point
    for margin, low, high in (
        (section.top_margin, 20, 25),
        (section.bottom_margin, 20, 25),
        (section.left_margin, 30, 35),
        (section.right_margin, 15, 20),
    ):
        assert margin is not None and Mm(low) - slack <= margin <= Mm(high) + slack
    sizes = {run.font.size for paragraph in document.paragraphs for run in paragraph.runs if run.text.strip()}
    assert sizes <= {Pt(12), Pt(13), Pt(14)}
    assert section.different_first_page_header_footer  # page numbers from page 2 on


def test_docx_columns_are_fixed_in_the_grid_and_header_words_fit_them(store: Store) -> None:
    """LibreOffice lays a table out from its grid, Word from its cells: both must carry the widths,
    and each header word (bold Times New Roman, 11 pt) must fit its column without a mid-word break."""
    fill(store)
    for report in (
        build_yearly_report(store, content(), default_settings(), REPORT_DAY),
        build_agency_yearly_report(store, content(), default_settings(), AGENCY.id, REPORT_DAY),
    ):
        document = read_docx(report)
        model = next(block for block in report.blocks if isinstance(block, official.Table))
        table = document.tables[1]
        grid = [int(col.get(f"{W}w")) for col in table._tbl.tblGrid.findall(f"{W}gridCol")]
        expected = [round(Mm(width).twips) for width in model.widths_mm]  # type: ignore[attr-defined]
        assert [abs(a - b) <= 1 for a, b in zip(grid, expected, strict=True)] == [True] * len(grid)
        layout = table._tbl.tblPr.find(f"{W}tblLayout")
        assert layout is not None and layout.get(f"{W}type") == "fixed"
        for row in table.rows:
            assert [round(cell.width.mm) for cell in row.cells] == list(model.widths_mm)
        margin_mm = 2 * 1.2
        for word, width in (
            (word, width) for text, width in zip(model.header, model.widths_mm, strict=True) for word in text.split()
        ):
            assert bold_serif_width_mm(word, 11) + margin_mm <= width, (word, width)


def bold_serif_width_mm(word: str, size_pt: float) -> float:
    """The width of a word in Liberation Serif Bold, which has Times New Roman's metrics."""
    path = subprocess.run(
        ["fc-match", "-f", "%{file}", "Liberation Serif:bold"], check=True, capture_output=True, text=True
    ).stdout
    assert "LiberationSerif-Bold" in path, path
    font = TTFont(path)
    advances, cmap = font["hmtx"], font.getBestCmap()
    units = sum(advances[cmap[ord(letter)]][0] for letter in unicodedata.normalize("NFC", word))
    return units / font["head"].unitsPerEm * size_pt * 25.4 / 72


def test_no_english_state_names_and_diacritics_intact(store: Store) -> None:
    fill(store)
    for document in (
        build_yearly_report(store, content(), default_settings(), REPORT_DAY),
        build_agency_yearly_report(store, content(), default_settings(), AGENCY.id, REPORT_DAY),
    ):
        text = "\n".join(texts(read_docx(document)))
        assert not ENGLISH_STATES.findall(text), ENGLISH_STATES.findall(text)
        assert "_" not in text  # no machine identifier (check ids, state names)
        assert unicodedata.normalize("NFC", text) == text
        for name in ("Báo Sóc Trăng", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"):
            assert name in text


def test_agency_variant_is_issued_by_the_agency_to_the_department(store: Store) -> None:
    fill(store)
    report = build_agency_yearly_report(store, content(), default_settings(), AGENCY.id, REPORT_DAY)
    document = read_docx(report)
    top = paragraphs_of(document.tables[0])
    assert find(top, "BÁO SÓC TRĂNG").runs[0].bold
    assert re.fullmatch(r"Số:\s+/BC", next(p.text for p in top if p.text.startswith("Số:")))
    recipients = [p.text for p in paragraphs_of(document.tables[-1])]
    assert "- Sở Thông tin và Truyền thông (để báo cáo);" in recipients
    assert "THỦ TRƯỞNG CƠ QUAN" in recipients
    groups = document.tables[1]
    assert [c.text for c in groups.rows[0].cells][:3] == ["STT", "Nhóm yêu cầu", "Số yêu cầu"]
    assert len(groups.rows) - 1 == len(pick_catalogue(content(), None).groups)
    totals = [sum(int(r.cells[i].text) for r in groups.rows[1:]) for i in range(2, 7)]
    assert totals[0] == sum(totals[1:])  # every clause is counted once: met, failed, awaiting or not evaluated
    text = "\n".join(texts(document))
    assert "kính báo cáo Sở Thông tin và Truyền thông./." in text
    assert "3. Các yêu cầu chưa đạt cần khắc phục" in text and "mức độ" in text


def test_unknown_agency_is_refused_naming_those_audited(store: Store) -> None:
    fill(store)
    with pytest.raises(NotFoundError, match="baosoctrang, dai-ptth-soctrang, tapchi-vhnt-soctrang"):
        build_agency_yearly_report(store, content(), default_settings(), "nosuch", REPORT_DAY)


def test_runs_are_the_latest_finished_one_per_agency_in_the_year_by_the_report_date(store: Store) -> None:
    runs = fill(store)
    settings = default_settings()
    moment = datetime(2026, 11, 25, 23, 59, tzinfo=settings.zone)
    assert yearly_run_ids(store, 2026, moment, settings) == [runs["second"]]
    assert yearly_run_ids(store, 2025, moment, settings) == [runs["last_year"]]
    assert yearly_run_ids(store, 2026, datetime(2026, 10, 5, tzinfo=settings.zone), settings) == [runs["first"]]
    assert yearly_run_ids(store, 2026, datetime(2026, 12, 31, tzinfo=settings.zone), settings) == sorted(
        [runs["second"], runs["after"]]
    )
    empty = read_docx(build_yearly_report(store, content(), settings, date(2024, 6, 1)))
    assert any("chưa có lần kiểm tra nào" in t for t in texts(empty))


def test_place_and_date_take_leading_zeros_as_decree_30_writes_them() -> None:
    assert place_date("Sóc Trăng", date(2026, 11, 25)) == "Sóc Trăng, ngày 25 tháng 11 năm 2026"
    assert place_date("Sóc Trăng", date(2027, 2, 5)) == "Sóc Trăng, ngày 05 tháng 02 năm 2027"
    assert place_date("Cần Thơ", date(2027, 3, 9)) == "Cần Thơ, ngày 09 tháng 3 năm 2027"


def test_settings_file_overrides_defaults_and_names_bad_fields(store: Store, tmp_path: Path) -> None:
    fill(store)
    path = tmp_path / "official.yml"
    path.write_text(
        "place: Cần Thơ\n"
        "department:\n"
        "  number: '12'\n"
        "  signer_authority: KT. GIÁM ĐỐC\n"
        "  signer_title: PHÓ GIÁM ĐỐC\n"
        "  signer_name: Nguyễn Văn A\n"
        "agencies:\n"
        "  baosoctrang: {signer_title: TỔNG BIÊN TẬP, symbol: BC-BST}\n",
        encoding="utf-8",
    )
    settings = load_settings(path)
    assert settings.department.name == "SỞ THÔNG TIN VÀ TRUYỀN THÔNG"  # untouched defaults stay
    text = "\n".join(texts(read_docx(build_yearly_report(store, content(), settings, REPORT_DAY))))
    for line in (
        "Số: 12/BC-STTTT",
        "Cần Thơ, ngày 25 tháng 11 năm 2026",
        "KT. GIÁM ĐỐC",
        "PHÓ GIÁM ĐỐC",
        "Nguyễn Văn A",
    ):
        assert line in text
    agency_text = "\n".join(
        texts(read_docx(build_agency_yearly_report(store, content(), settings, AGENCY.id, REPORT_DAY)))
    )
    assert "TỔNG BIÊN TẬP" in agency_text and "/BC-BST" in agency_text
    path.write_text("department:\n  recipients: []\n  signer_titel: X\ntimezone: Mars/Base\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "line 2" in message and "signer_titel" in message and "Mars/Base" in message


def test_html_escapes_names_and_pdf_keeps_vietnamese(store: Store, tmp_path: Path) -> None:
    hostile = Agency(id="hostile", name=LocalizedText(vi="Báo <script>x</script> Sóc Trăng", en="x"))
    store_run(store, [host_result("h-web", {automated_checks(1)[0]: F}, agency=hostile)], {"hostile": hostile}, T0)
    report = build_yearly_report(store, content(), default_settings(), REPORT_DAY)
    html = render_official_html(report)
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    fill(store)
    pdf = render_official_pdf(build_yearly_report(store, content(), default_settings(), REPORT_DAY))
    assert pdf.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "yearly.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True).stdout
    flat = " ".join(text.decode("utf-8").split())
    for expected in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Sóc Trăng, ngày 25 tháng 11 năm 2026",
        "Nơi nhận:",
        "(Ký, ghi rõ họ tên)",
    ):
        assert expected in flat
    for agency in AGENCIES.values():
        assert all(word in flat for word in agency.name.vi.split())  # table cells may wrap a long name
    assert not ENGLISH_STATES.findall(flat)


def test_command_line_writes_docx_and_pdf_and_refuses_wrong_combinations(store: Store, tmp_path: Path) -> None:
    fill(store)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    runner = CliRunner()
    out = tmp_path / "yearly.docx"
    result = runner.invoke(
        report_app, ["--yearly", "--date", "2026-11-25", "--format", "docx", "-o", str(out), "--db", url]
    )
    assert result.exit_code == 0, result.output
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in "\n".join(texts(docx.Document(str(out))))
    agency_pdf = tmp_path / "agency.pdf"
    result = runner.invoke(
        report_app,
        [
            "--yearly",
            "--agency",
            AGENCY.id,
            "--date",
            "2026-11-25",
            "--format",
            "pdf",
            "-o",
            str(agency_pdf),
            "--db",
            url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert agency_pdf.read_bytes().startswith(b"%PDF")
    for wrong in (
        ["--yearly", "--format", "html"],
        ["--yearly", "--format", "docx", "latest"],
        ["--yearly", "--format", "docx", "--lang", "en"],
        ["--yearly", "--format", "docx", "--date", "25/11/2026"],
        ["--yearly", "--format", "docx", "--year", "2030", "--date", "2026-11-25"],
        ["--yearly", "--format", "docx", "--agency", "nosuch", "--date", "2026-11-25"],
        ["latest", "--format", "docx"],
        ["latest", "--year", "2026"],
    ):
        result = runner.invoke(report_app, [*wrong, "-o", str(tmp_path / "x"), "--db", url])
        assert result.exit_code == 3, (wrong, result.output)
