"""UI strings in Vietnamese and English, read from auditor/locale/<name>.yml (text is data): ``report``
for the reports, ``portal`` for the portal's own pages."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import yaml
from pydantic import BaseModel, ConfigDict, Field

from auditor.reports.models import Lang


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Strings(BaseModel):
    """The strings of one language; templates read them as ``t.key``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lang: Lang
    table: dict[str, str]

    def get(self, key: str) -> str:
        return self.table[key]

    def format(self, key: str, **values: object) -> str:
        return self.table[key].format(**values)


@cache
def catalogue(name: str = "report") -> dict[str, Entry]:
    text = (files("auditor.locale") / f"{name}.yml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    odd = [repr(key) for key in raw if not isinstance(key, str)]  # e.g. a bare `no:` reads as False
    if odd:
        raise ValueError(f"auditor/locale/{name}.yml: keys must be strings: {', '.join(odd)}")
    return {key: Entry.model_validate(value) for key, value in raw.items()}


@cache
def strings(lang: Lang, name: str = "report") -> Strings:
    return Strings(lang=lang, table={key: getattr(entry, lang) for key, entry in catalogue(name).items()})
