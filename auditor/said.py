"""A sentence kept as its key in auditor/locale/cli.yml and its values, put into words when it is shown: library
code (verification, checks of files) says what it found once, and the command line shows it in either language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # errors of the store and the inventory say things too: nothing heavy at import time
    from auditor.reports.models import Lang


@dataclass(frozen=True)
class Said:
    key: str
    values: Mapping[str, object] = field(default_factory=dict)  # a value may itself be a Said (e.g. where it is)
    catalogue: str = "cli"  # the file in auditor/locale that holds the key

    def text(self, lang: Lang) -> str:
        from auditor.reports.locale import strings

        shown = {name: value.text(lang) if isinstance(value, Said) else value for name, value in self.values.items()}
        return strings(lang, self.catalogue).format(self.key, **shown)


def said(key: str, **values: object) -> Said:
    return Said(key, values)


@dataclass(frozen=True)
class Lines:
    """Several problems said one per line, each in the language asked for (``str()``: the English)."""

    parts: tuple[object, ...]

    def text(self, lang: Lang) -> str:
        return "\n".join(part.text(lang) if hasattr(part, "text") else str(part) for part in self.parts)

    def __str__(self) -> str:
        return self.text("en")
