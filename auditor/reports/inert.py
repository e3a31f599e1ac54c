"""Make target output inert for reports: printable text only, invalid bytes visible, long output cut.

HTML escaping is the template engine's job (autoescape); this module removes what escaping does not:
terminal control sequences, invisible direction overrides and undecodable bytes (the characters themselves
are those of ``auditor.textsafe``, which the command line shares).
"""

from __future__ import annotations

import codecs

from auditor.reports.models import TrimmedText
from auditor.textsafe import inert_text


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
