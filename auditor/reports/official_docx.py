"""Write an official document model as DOCX with python-docx, in the layout of Decree 30/2020/NĐ-CP: A4,
Times New Roman, the issuing body and the national motto side by side, page numbers from page 2."""

from __future__ import annotations

import re
from io import BytesIO

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table as DocxTable
from docx.table import _Cell
from docx.text.paragraph import Paragraph as DocxParagraph

from auditor.reports.official import OfficialDocument, Paragraph, Table

FONT = "Times New Roman"
BODY_PT = 14
HEAD_PT = 13  # the number, the motto's words, the page number
ISSUER_PT = 12  # the issuing body and its parent body, the nation's name
TABLE_PT = 11
CELL_MARGIN_TWIPS = 68  # 1.2 mm
NOTE_PT = 12  # the unit line above a table
RECIPIENTS_PT = 11
RECIPIENTS_HEADING_PT = 12
PAGE_WIDTH_MM, PAGE_HEIGHT_MM = 210, 297
MARGIN_TOP_MM, MARGIN_BOTTOM_MM, MARGIN_LEFT_MM, MARGIN_RIGHT_MM = 20, 20, 30, 15
TEXT_WIDTH_MM = PAGE_WIDTH_MM - MARGIN_LEFT_MM - MARGIN_RIGHT_MM
HEAD_LEFT_MM = 72  # issuing body column; the national motto gets the rest
ISSUER_WIDTH_MM = 56  # of the issuing body's name inside its column
FOOT_LEFT_MM = 80  # recipients column; the signature gets the rest
_XML_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # refused by XML 1.0


def _clean(text: str) -> str:
    return _XML_UNSAFE.sub("\ufffd", text)


def render_docx(document_model: OfficialDocument) -> bytes:
    doc = Document()
    _page(doc)
    _fonts(doc)
    doc.core_properties.title = _clean(document_model.subject)
    doc.core_properties.author = _clean(document_model.issuer)
    doc.core_properties.language = "vi-VN"
    _heading_block(doc, document_model)
    _title(doc, document_model)
    for block in document_model.blocks:
        if isinstance(block, Table):
            _table(doc, block)
        else:
            _paragraph(doc, block)
    _closing_block(doc, document_model)
    buffer = BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _page(doc: DocxDocument) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(PAGE_WIDTH_MM), Mm(PAGE_HEIGHT_MM)
    section.top_margin, section.bottom_margin = Mm(MARGIN_TOP_MM), Mm(MARGIN_BOTTOM_MM)
    section.left_margin, section.right_margin = Mm(MARGIN_LEFT_MM), Mm(MARGIN_RIGHT_MM)
    section.header_distance = Mm(10)
    # Decree 30: the page number, centred at the top, from the second page on.
    section.different_first_page_header_footer = True
    number = section.header.paragraphs[0]
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _field(number, "PAGE")


def _fonts(doc: DocxDocument) -> None:
    """Times New Roman for every script (Vietnamese letters are Latin, but Word picks a font per range)."""
    for name in ("Normal", "Header"):
        style = doc.styles[name]
        font = style.font  # type: ignore[attr-defined]
        font.name = FONT
        font.size = Pt(BODY_PT if name == "Normal" else HEAD_PT)
        fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
        for attribute in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
            fonts.set(qn(attribute), FONT)
        language = OxmlElement("w:lang")
        language.set(qn("w:val"), "vi-VN")
        style.element.get_or_add_rPr().append(language)
    # The template's document defaults name theme fonts, which win over a style's named font in Word: name
    # Times New Roman there too.
    for defaults in doc.styles.element.iter(qn("w:rPrDefault")):
        for fonts in defaults.iter(qn("w:rFonts")):
            for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
                fonts.attrib.pop(qn(attribute), None)
            for attribute in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
                fonts.set(qn(attribute), FONT)


def _field(paragraph: DocxParagraph, instruction: str) -> None:
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), instruction)
    paragraph._p.append(field)


def _run(paragraph: DocxParagraph, text: str, size: int, *, bold: bool = False, italic: bool = False) -> DocxParagraph:
    run = paragraph.add_run(_clean(text))
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.italic = italic
    return paragraph


def _spacing(paragraph: DocxParagraph, before: float = 0, after: float = 0, line: float = 1.0) -> None:
    paragraph.paragraph_format.space_before = Pt(before)
    paragraph.paragraph_format.space_after = Pt(after)
    paragraph.paragraph_format.line_spacing = line


def _centred(cell: _Cell, text: str, size: int, *, bold: bool = False, italic: bool = False) -> DocxParagraph:
    paragraph = cell.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _spacing(paragraph)
    return _run(paragraph, text, size, bold=bold, italic=italic)


def _rule(cell: _Cell, cell_width_mm: float, rule_width_mm: float) -> None:
    """The short solid line under the issuing body, the motto and the subject: a top border on an empty
    paragraph indented to the rule's width."""
    paragraph = cell.add_paragraph()
    _spacing(paragraph, before=1)
    indent = Mm(max(0.0, (cell_width_mm - rule_width_mm) / 2))
    paragraph.paragraph_format.left_indent = indent
    paragraph.paragraph_format.right_indent = indent
    _top_border(paragraph)
    paragraph.add_run("").font.size = Pt(2)


def _top_border(paragraph: DocxParagraph) -> None:
    borders = OxmlElement("w:pBdr")
    top = OxmlElement("w:top")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        top.set(qn(key), value)
    borders.append(top)
    paragraph._p.get_or_add_pPr().append(borders)


def _fixed_columns(table: DocxTable, widths_mm: tuple[float, ...]) -> None:
    """Fix every column's width in the table grid and in each cell: Word reads the cells,
    LibreOffice the grid, and either falls back to equal columns when its source is unset."""
    table.autofit = False
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    table._tbl.tblPr.append(layout)
    for column, width in zip(table.columns, widths_mm, strict=True):
        column.width = Mm(width)
        for cell in column.cells:
            cell.width = Mm(width)


def _narrow_cell_margins(table: DocxTable) -> None:
    """1.2 mm either side instead of Word's 1.9 mm, so headings such as "Không" fit a 15 mm column."""
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        margin = OxmlElement(f"w:{side}")
        margin.set(qn("w:w"), str(CELL_MARGIN_TWIPS))
        margin.set(qn("w:type"), "dxa")
        margins.append(margin)
    table._tbl.tblPr.append(margins)


def _layout_table(doc: DocxDocument, widths_mm: tuple[float, ...]) -> DocxTable:
    """A borderless table used for layout (heading and closing blocks), fixed column widths."""
    table = doc.add_table(rows=1, cols=len(widths_mm))
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _fixed_columns(table, widths_mm)
    for cell in table.rows[0].cells:
        cell.paragraphs[0]._p.getparent().remove(cell.paragraphs[0]._p)  # start empty: add_paragraph fills it
    return table


def _heading_block(doc: DocxDocument, model: OfficialDocument) -> None:
    right_mm = TEXT_WIDTH_MM - HEAD_LEFT_MM
    table = _layout_table(doc, (HEAD_LEFT_MM, right_mm))
    left, right = table.rows[0].cells
    _centred(left, model.parent_body, ISSUER_PT)
    issuer = _centred(left, model.issuer, ISSUER_PT, bold=True)
    # A long name wraps into two balanced lines ("SỞ THÔNG TIN VÀ / TRUYỀN THÔNG"), not one word alone.
    margin = Mm((HEAD_LEFT_MM - ISSUER_WIDTH_MM) / 2)
    issuer.paragraph_format.left_indent = issuer.paragraph_format.right_indent = margin
    _rule(left, HEAD_LEFT_MM, 25)
    _centred(left, model.number_line, HEAD_PT)
    _centred(right, model.motto_nation, ISSUER_PT, bold=True)
    _centred(right, model.motto_words, HEAD_PT, bold=True)
    _rule(right, right_mm, 60)
    _centred(right, model.place_date, HEAD_PT + 1, italic=True)


def _title(doc: DocxDocument, model: OfficialDocument) -> None:
    kind = doc.add_paragraph()
    kind.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _spacing(kind, before=18)
    _run(kind, model.document_type, BODY_PT, bold=True)
    subject = doc.add_paragraph()
    subject.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _spacing(subject)
    _run(subject, model.subject, BODY_PT, bold=True)
    rule = doc.add_paragraph()
    indent = Mm((TEXT_WIDTH_MM - 40) / 2)
    rule.paragraph_format.left_indent = rule.paragraph_format.right_indent = indent
    _spacing(rule, before=2, after=12)
    _top_border(rule)


def _paragraph(doc: DocxDocument, block: Paragraph) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    _spacing(paragraph, before=0, after=6, line=1.15)
    if block.style in ("caption", "unit"):
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER if block.style == "caption" else WD_ALIGN_PARAGRAPH.RIGHT
        _spacing(paragraph, before=6 if block.style == "caption" else 0, after=2)
        _run(
            paragraph,
            block.text,
            BODY_PT if block.style == "caption" else NOTE_PT,
            bold=block.style == "caption",
            italic=block.style == "unit",
        )
        return
    paragraph.paragraph_format.first_line_indent = Mm(10)
    if block.style == "heading":
        _spacing(paragraph, before=6, after=6, line=1.15)
        paragraph.paragraph_format.keep_with_next = True
    elif block.style == "subheading":
        paragraph.paragraph_format.keep_with_next = True
    _run(paragraph, block.text, BODY_PT, bold=block.style in ("heading", "subheading"))


def _table(doc: DocxDocument, block: Table) -> None:
    table = doc.add_table(rows=1 + len(block.rows), cols=len(block.header))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _fixed_columns(table, block.widths_mm)
    _narrow_cell_margins(table)
    header = table.rows[0]
    repeat = OxmlElement("w:tblHeader")  # the header row is repeated on every page the table spans
    repeat.set(qn("w:val"), "true")
    header._tr.get_or_add_trPr().append(repeat)
    for row_index, values in enumerate((block.header, *block.rows)):
        for column, (cell, value) in enumerate(zip(table.rows[row_index].cells, values, strict=True)):
            paragraph = cell.paragraphs[0]
            _spacing(paragraph, before=2, after=2)
            centred = row_index == 0 or column in block.centred
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER if centred else WD_ALIGN_PARAGRAPH.LEFT
            _run(paragraph, value, TABLE_PT, bold=row_index == 0)
    closing = doc.add_paragraph()
    _spacing(closing, after=6)


def _closing_block(doc: DocxDocument, model: OfficialDocument) -> None:
    right_mm = TEXT_WIDTH_MM - FOOT_LEFT_MM
    spacer = doc.add_paragraph()
    _spacing(spacer, after=6)
    table = _layout_table(doc, (FOOT_LEFT_MM, right_mm))
    left, right = table.rows[0].cells
    heading = left.add_paragraph()
    _spacing(heading)
    _run(heading, model.recipients_heading, RECIPIENTS_HEADING_PT, bold=True, italic=True)
    for recipient in model.recipients:
        item = left.add_paragraph()
        _spacing(item)
        _run(item, f"- {recipient}", RECIPIENTS_PT)
    if model.signer_authority:
        _centred(right, model.signer_authority, BODY_PT, bold=True)
    _centred(right, model.signer_title, BODY_PT, bold=True)
    _centred(right, model.signature_placeholder, BODY_PT, italic=True)
    for _ in range(4):  # room for the signature and the seal
        _centred(right, "", BODY_PT)
    _centred(right, model.signer_name, BODY_PT, bold=True)
