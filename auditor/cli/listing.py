"""One way for every listing command to print rows: a table that fits the terminal (80 columns included) with ids
never cut, or JSON / CSV on stdout for machines (stable field names, no colours, no markup)."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

import typer
from rich.cells import cell_len
from rich.text import Text

from auditor.cli.common import console
from auditor.textsafe import terminal_text

Cell = str | int | float | bool | None
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", help="table for people; json or csv (stable field names) for scripts.", metavar="FORMAT"),
]


@dataclass(frozen=True)
class Column:
    """``key`` is the field name in JSON and CSV; ``header`` the table's heading. An ``id`` column is never wrapped
    or cut (its width is its longest value); ``text`` columns wrap to leave it room; a ``line`` column (at most one
    per table) is cut with "…" to keep one line per row; ``number`` columns align right."""

    key: str
    header: str
    kind: Literal["id", "text", "line", "number"] = "text"


@dataclass(frozen=True)
class Listing:
    """Rows as plain values (what JSON and CSV carry) and, optionally, the styled cells a table shows instead."""

    title: str
    columns: Sequence[Column]  # the fields of JSON and CSV
    rows: Sequence[Mapping[str, Cell]]
    styled: Sequence[Mapping[str, Text]] = ()  # per row, cells the table shows instead of the plain value
    table_columns: Sequence[Column] | None = None  # what the table shows, when not every field
    group_by: Sequence[str] = ()  # fields the table shows once, as a heading above their rows


def emit(listing: Listing, output: OutputFormat) -> None:
    if output is OutputFormat.json:
        sys.stdout.write(as_json(listing) + "\n")
    elif output is OutputFormat.csv:
        sys.stdout.write(as_csv(listing))
    else:
        console.print(as_table(listing))


def as_json(listing: Listing) -> str:
    """Text as stored; a lone surrogate (which UTF-8 cannot carry) written as its JSON escape."""
    text = json.dumps([{c.key: row.get(c.key) for c in listing.columns} for row in listing.rows], ensure_ascii=False)
    return _LONE_SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def as_csv(listing: Listing) -> str:
    from auditor.reports.exports import spreadsheet_safe

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.key for c in listing.columns])
    for row in listing.rows:
        writer.writerow([spreadsheet_safe(_shown(row.get(c.key))) for c in listing.columns])
    return buffer.getvalue()


def as_table(listing: Listing) -> object:
    """One table; with ``group_by``, one heading line per group (e.g. the target) and a table of its rows under it,
    the id columns equally wide in every group."""
    from rich.console import Group

    columns = listing.table_columns or listing.columns
    cells = [
        [(styled or {}).get(c.key) or terminal_text(_shown(row.get(c.key))) for c in columns]
        for row, styled in zip(listing.rows, [*listing.styled, *([None] * len(listing.rows))], strict=False)
    ]
    widths = [max([cell_len(c.header), *(_widest(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    if not listing.group_by:
        return _table(listing.title, columns, widths, cells)
    groups: dict[str, list[list[Text]]] = {}
    for row, line in zip(listing.rows, cells, strict=True):
        groups.setdefault(" · ".join(_shown(row.get(key)) for key in listing.group_by), []).append(line)
    parts: list[object] = [Text(listing.title, style="italic")]
    for heading, lines in groups.items():
        parts.extend((Text(""), terminal_text(heading, style="bold"), _table(None, columns, widths, lines)))
    return Group(*parts)  # type: ignore[arg-type]


def _table(title: str | None, columns: Sequence[Column], widths: list[int], cells: list[list[Text]]) -> object:
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title_justify="left")
    for index, column in enumerate(columns):
        if column.kind == "id":
            table.add_column(column.header, no_wrap=True, min_width=widths[index], max_width=widths[index])
        elif column.kind == "line":  # what the other columns leave, each gap between columns taking 3
            room = _room(widths, index)
            table.add_column(column.header, no_wrap=True, overflow="ellipsis", min_width=room, max_width=room)
            for line in cells:
                line[index] = line[index].copy()
                line[index].truncate(room, overflow="ellipsis")
        else:
            justify: Literal["left", "right"] = "right" if column.kind == "number" else "left"
            table.add_column(column.header, overflow="fold", justify=justify)
    for line in cells:
        table.add_row(*line)
    return table


def _room(widths: list[int], index: int) -> int:
    others = sum(w for i, w in enumerate(widths) if i != index) + 3 * (len(widths) - 1)
    return max(min(console.width - others, widths[index]), 12)


def _widest(cell: Text) -> int:
    return max((cell_len(part) for part in cell.plain.split("\n")), default=0)


def _shown(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
