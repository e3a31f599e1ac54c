"""Localised one-sentence reasons, read from locale/messages.yml (text is data, not code)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from auditor.vocabulary import LocalizedText

_SHORT = 120  # observed values quoted inside a sentence are shortened to this many characters


@cache
def _catalogue() -> dict[str, Any]:
    text = (files("auditor.locale") / "messages.yml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def shorten(text: str, limit: int = _SHORT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def reason(path: str, **params: object) -> LocalizedText:
    """Look up a dotted key such as 'fail.equals' and fill its placeholders in both languages."""
    node: Any = _catalogue()
    for part in path.split("."):
        node = node[part]
    values = {key: shorten(str(value)) for key, value in params.items()}
    return LocalizedText(vi=node["vi"].format_map(_Missing(values)), en=node["en"].format_map(_Missing(values)))


class _Missing(dict[str, str]):
    """Leave unknown placeholders visible instead of raising in the middle of a run."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
