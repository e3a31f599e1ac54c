"""Make target output inert for reports: printable text only, invalid bytes visible, long output cut.

HTML escaping is the template engine's job (autoescape); this module removes what escaping does not:
terminal control sequences, invisible direction overrides and undecodable bytes.
"""

from __future__ import annotations

import codecs
import re

from auditor.reports.models import TrimmedText

# C0 controls except tab and newline, DEL, C1 controls, and the invisible characters that reorder or hide text
# (bidirectional overrides and isolates, zero-width characters, the BOM).
_HIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert_text(text: str) -> str:
    """Control and invisible characters shown as \\xNN / \\uNNNN escapes."""
    return _HIDDEN.sub(_escape, text)


def inert_bytes(data: bytes, limit: int) -> TrimmedText:
    """The first ``limit`` bytes decoded (invalid UTF-8 as \\xNN), made inert; the rest counted as omitted."""
    if len(data) <= limit:
        return TrimmedText(
            text=inert_text(data.decode("utf-8", errors="backslashreplace")), total_bytes=len(data), omitted_bytes=0
        )
    decoder = codecs.getincrementaldecoder("utf-8")(errors="backslashreplace")
    text = decoder.decode(data[:limit], final=False)  # a character cut at the limit stays out, counted as omitted
    kept = limit - len(decoder.getstate()[0])
    return TrimmedText(text=inert_text(text), total_bytes=len(data), omitted_bytes=len(data) - kept)


def inert_str(text: str, limit: int) -> TrimmedText:
    """Like inert_bytes for text already decoded (UTF-8 length is what counts)."""
    return inert_bytes(text.encode("utf-8", errors="backslashreplace"), limit)
