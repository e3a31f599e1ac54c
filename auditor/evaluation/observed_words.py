"""What the network agents observed, in words (auditor/locale/observations.yml).

The agents hand checks short English lines (facts) that the checks' patterns match; those lines are our
own wording, not the target's, so a report must not quote them as they are. Each line is put into words
by the first catalogue pattern it matches; what the target itself sent (names, banners, URLs) is kept as
captured and shortened. A line no pattern knows is quoted as observed data.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

import yaml
from pydantic import BaseModel, ConfigDict, field_validator

from auditor.messages import reason, shorten
from auditor.vocabulary import LocalizedText

_PART = 80  # characters kept of each captured part


class _LineWords(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: re.Pattern[str]
    vi: str
    en: str

    @field_validator("pattern", mode="before")
    @classmethod
    def _compile(cls, value: str) -> re.Pattern[str]:
        return re.compile(value)


class _Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lines: tuple[_LineWords, ...]
    not_applicable: tuple[_LineWords, ...]
    sources: dict[str, tuple[_LineWords, ...]] = {}  # shared host source id → words for its lines


@cache
def _catalogue() -> _Catalogue:
    text = (files("auditor.locale") / "observations.yml").read_text(encoding="utf-8")
    return _Catalogue.model_validate(yaml.safe_load(text))


def _first_match(entries: tuple[_LineWords, ...], text: str) -> LocalizedText | None:
    for entry in entries:
        match = entry.pattern.fullmatch(text)
        if match is not None:
            parts = {key: shorten(value or "-", _PART) for key, value in match.groupdict().items()}
            return LocalizedText(vi=entry.vi.format_map(parts), en=entry.en.format_map(parts))
    return None


def line_in_words(line: str) -> LocalizedText:
    """One agent line in both languages; quoted as it is when no pattern knows it."""
    words = _first_match(_catalogue().lines, line)
    if words is not None:
        return words
    quoted = f"“{shorten(line)}”"
    return LocalizedText(vi=quoted, en=quoted)


def source_line_in_words(source_id: str | None, line: str) -> LocalizedText | None:
    """A line of a shared host source (as a check selected it) in words; None when none are known.

    The captured parts are the target's data, quoted by the catalogue's wording."""
    if source_id is None:
        return None
    return _first_match(_catalogue().sources.get(source_id, ()), line.strip())


def not_applicable_in_words(detail: str) -> LocalizedText | None:
    """Why a probe or an agent found a check not applicable, in words; None for a reason no pattern knows."""
    return _first_match(_catalogue().not_applicable, detail.strip())


def lines_in_words(lines: list[str] | tuple[str, ...], limit: int = 6) -> LocalizedText:
    """Several lines, joined; beyond ``limit`` the rest is counted, not shown (the evidence has them all)."""
    shown = [line_in_words(line) for line in lines[:limit]]
    vi = "; ".join(item.vi for item in shown)
    en = "; ".join(item.en for item in shown)
    rest = len(lines) - len(shown)
    if rest > 0:
        more = reason("observed_more", count=rest)
        vi, en = f"{vi}; {more.vi}", f"{en}; {more.en}"
    return LocalizedText(vi=vi or "∅", en=en or "∅")
