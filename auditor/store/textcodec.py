r"""Text at the store boundary: any Python ``str`` in, the same ``str`` back, on SQLite as on PostgreSQL.

Text from targets may hold what a database refuses: PostgreSQL text cannot contain NUL, and no UTF-8
database can hold a lone surrogate (``surrogateescape`` decoding, or ``os.fsdecode``, makes them). Every
column that may carry such text stores it through :func:`to_store` and reads it through :func:`from_store`
(the column type ``TargetText`` in ``schema.py`` calls them), so both databases hold the same characters:

    NUL                                   ->  \x00       (the four characters backslash, x, 0, 0)
    a lone surrogate U+D800..U+DFFF       ->  \ud800..\udfff (backslash, u, the four lower-case hex digits)
    a run of backslashes right before one of those characters or before text that reads like one of
    those escapes ("x00", "ud" + [89a-f] + two lower-case hex digits)  ->  the same run, doubled

Nothing else changes: text without NUL or surrogates, backslashes included, is stored exactly as it is,
so a database browser shows what the target printed. Reading undoes it: before "x00" or "ud800".."udfff", an odd
run of backslashes ends in an escape (half the rest are literal), an even run is all literal. Every
string maps to exactly one stored form and back, so the evidence hash, computed over the original text,
still verifies on what is read.
"""

from __future__ import annotations

import re

_SPECIAL = "\x00\ud800-\udfff"
_ESCAPE_TAIL = "x00|ud[89a-f][0-9a-f]{2}"
# A whole run of backslashes (never a part of one: the look-behind) that an escape would be read into, or a
# character to escape. Possessive runs keep hostile runs of backslashes linear.
_TO_STORE = re.compile(rf"(?<!\\)\\++(?=[{_SPECIAL}]|{_ESCAPE_TAIL})|[{_SPECIAL}]")
_FROM_STORE = re.compile(rf"(?<!\\)(\\++)({_ESCAPE_TAIL})")


def _store_one(match: re.Match[str]) -> str:
    found = match.group()
    if found[0] == "\\":
        return found * 2
    return f"\\x{ord(found):02x}" if found == "\x00" else f"\\u{ord(found):04x}"


def _load_one(match: re.Match[str]) -> str:
    run, tail = match.group(1), match.group(2)
    literal = "\\" * (len(run) // 2)
    if len(run) % 2 == 0:
        return literal + tail
    return literal + ("\x00" if tail == "x00" else chr(int(tail[1:], 16)))


_SPECIAL_CHAR = re.compile(f"[{_SPECIAL}]")


def _escape_free(text: str) -> bool:
    """Whether no backslash in ``text`` starts what reads like an escape ("\\x00", "\\ud…"): then no run of
    backslashes needs doubling, and reading leaves every backslash as it is."""
    return "\\" not in text or ("\\x00" not in text and "\\ud" not in text)


def to_store(text: str) -> str:
    """The form a database can hold: no NUL, no lone surrogate (see the module's documentation)."""
    # The common cases, checked in C before any regular expression substitution: plain text, Vietnamese text.
    if _escape_free(text) and ("\x00" not in text if text.isascii() else _SPECIAL_CHAR.search(text) is None):
        return text
    return _TO_STORE.sub(_store_one, text)


def from_store(stored: str) -> str:
    """The exact text :func:`to_store` was given."""
    return stored if _escape_free(stored) else _FROM_STORE.sub(_load_one, stored)
