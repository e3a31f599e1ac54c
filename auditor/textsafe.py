"""Text from targets is hostile: make it inert before a person reads it, in a terminal, a report or a page.

Shown as visible ``\\xNN`` / ``\\uNNNN`` escapes: control characters (C0 except tab and newline, DEL, C1; ESC
starts terminal sequences, 0x9b is CSI), the invisible characters that reorder or hide text (bidirectional
marks, embeddings, overrides and isolates, the Arabic letter mark, zero-width characters, the word joiner and
invisible operators, the byte order mark) and lone surrogates (which no output encoding can write). HTML
escaping stays the template engine's job; in a terminal, :func:`terminal_text` also keeps Rich markup out.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

_HIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert_text(text: str) -> str:
    """Control, invisible and unwritable characters shown as \\xNN / \\uNNNN escapes."""
    return _HIDDEN.sub(_escape, text)


def terminal_safe(text: str, limit: int | None = None) -> str:
    """:func:`inert_text`, cut to ``limit`` characters with a visible note. Print it as a ``Text`` (see
    :func:`terminal_text`), never as a markup string: ``[red]`` from a target must stay those characters."""
    omitted = 0
    if limit is not None and len(text) > limit:
        omitted = len(text) - limit
        text = text[:limit]
    return inert_text(text) + (f"\n… {omitted} characters omitted" if omitted else "")


def terminal_text(text: str, limit: int | None = None, style: str = "") -> Text:
    """Target text ready for a Rich console or table cell: inert, cut, and never read as markup."""
    from rich.text import Text  # only where something is printed

    return Text(terminal_safe(text, limit), style=style)
