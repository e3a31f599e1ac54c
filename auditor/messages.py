"""Localised one-sentence reasons and phrases, read from locale/*.yml (text is data, not code)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from auditor.vocabulary import LocalizedText

_SHORT = 120  # observed values quoted inside a sentence are shortened to this many characters


@cache
def _catalogue(name: str = "messages") -> dict[str, Any]:
    text = (files("auditor.locale") / f"{name}.yml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def _lookup(catalogue: str, path: str) -> dict[str, str]:
    node: Any = _catalogue(catalogue)
    for part in path.split("."):
        node = node[part]
    return dict(node)


def shorten(text: str, limit: int = _SHORT) -> str:
    """The text on one line, white space runs made one space, cut to ``limit`` characters (``…`` last)."""
    # A long text is flattened from its start only: that start, flattened, is a start of the whole text flattened,
    # so when it is already over the limit it is cut just the same.
    head = " ".join(text[: 4 * limit].split()) if limit > 0 and len(text) > 4 * limit else None
    if head is not None and len(head) > limit:
        return head[: limit - 1] + "…"
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _fill(node: dict[str, str], params: dict[str, object], short: bool) -> LocalizedText:
    """A LocalizedText parameter (our own words) fills each language with its own text, in full; anything
    else fills both alike, shortened when ``short`` (it may quote what a target sent)."""

    def values(lang: str) -> _Missing:
        def text(value: object) -> str:
            if isinstance(value, LocalizedText):
                return value.get(lang)
            return shorten(str(value)) if short else str(value)

        return _Missing({key: text(value) for key, value in params.items()})

    return LocalizedText(vi=node["vi"].format_map(values("vi")), en=node["en"].format_map(values("en")))


def reason(path: str, **params: object) -> LocalizedText:
    """Look up a dotted key such as 'fail.equals' and fill its placeholders in both languages."""
    return _fill(_lookup("messages", path), params, short=True)


def phrase(catalogue: str, path: str, **params: object) -> LocalizedText:
    """A phrase (not a sentence) from locale/<catalogue>.yml, its placeholders filled in full."""
    return _fill(_lookup(catalogue, path), params, short=False)


class _Missing(dict[str, str]):
    """Leave unknown placeholders visible instead of raising in the middle of a run."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
