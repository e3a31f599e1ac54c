"""Measure a report as WeasyPrint lays it out for print: pages, and table cells narrower than a word they hold.

A cell is "narrower than its longest word" when the word does not fit its width. The print stylesheet lets a data
cell break a word that does not fit (``overflow-wrap``), which would hide the fault, so the measurement lays the
same HTML out once more with word breaking off: lines then break only where the text allows (spaces, <wbr>, after
a hyphen), and a word wider than its cell sticks out of it, which the layout tree shows. Columns of a fixed table
do not depend on their content, so the cells measured are those of the printed document.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

WHOLE_WORDS = "* { overflow-wrap: normal !important; word-break: normal !important; hyphens: manual !important; }"
TOLERANCE_PX = 0.5  # rounding of the layout


@dataclass(frozen=True)
class NarrowCell:
    page: int
    word: str
    word_px: float
    cell_px: float
    cell_text: str

    def __str__(self) -> str:
        return (
            f"page {self.page}: {self.word!r} needs {self.word_px:.1f}px, its cell has {self.cell_px:.1f}px"
            f" (cell: {self.cell_text[:80]!r})"
        )


def _children(box: Any) -> list[Any]:
    return list(getattr(box, "children", ()) or ())


def _walk(box: Any) -> Iterator[Any]:
    yield box
    for child in _children(box):
        yield from _walk(child)


def _text(box: Any) -> str:
    from weasyprint.formatting_structure import boxes

    return " ".join(b.text for b in _walk(box) if isinstance(b, boxes.TextBox)).strip()


def _text_boxes_with_block(box: Any, block: Any) -> Iterator[tuple[Any, Any]]:
    """Each text box with the block it is laid out in (a cell, or a paragraph or <pre> inside one); an inline-block
    (a badge) sizes itself to its text, so its text is measured against the block around the badge."""
    from weasyprint.formatting_structure import boxes

    for child in _children(box):
        if str(getattr(child, "element_tag", "")).endswith("::marker"):
            continue  # a list's number hangs outside its block by design
        if isinstance(child, boxes.TextBox):
            yield child, block
        elif isinstance(child, boxes.BlockBox | boxes.TableCellBox) and not isinstance(child, boxes.InlineBlockBox):
            yield from _text_boxes_with_block(child, child)
        else:
            yield from _text_boxes_with_block(child, block)


def _overflow(text_box: Any, block: Any) -> float:
    """How far the text sticks out of its block's content box, not counting trailing spaces that hang."""
    left = block.content_box_x()
    right = left + block.width
    text = text_box.text
    trailing = len(text) - len(text.rstrip())
    hanging = text_box.width * trailing / len(text) if text else 0.0
    return max(left - text_box.position_x, text_box.position_x + text_box.width - hanging - right)


def narrow_cells(html: str) -> list[NarrowCell]:
    """Every word of every table cell (headers too) that is wider than the room its cell gives it."""
    from weasyprint import CSS, HTML
    from weasyprint.formatting_structure import boxes

    document = HTML(string=html, base_url="about:blank").render(stylesheets=[CSS(string=WHOLE_WORDS)])
    found = []
    for number, page in enumerate(document.pages, start=1):
        for cell in _walk(page._page_box):
            if not isinstance(cell, boxes.TableCellBox):
                continue
            for text_box, block in _text_boxes_with_block(cell, cell):
                excess = _overflow(text_box, block)
                if text_box.text.strip() and excess > TOLERANCE_PX:
                    found.append(
                        NarrowCell(
                            page=number,
                            word=text_box.text.strip(),
                            word_px=text_box.width,
                            cell_px=block.width,
                            cell_text=_text(cell),
                        )
                    )
    return found
