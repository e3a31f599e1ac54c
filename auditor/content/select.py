"""What a check takes from a shared probe source: a small, pure selection vocabulary.

A source's output is read as lines of ``key<separator>value`` (blank lines, ``#`` comments and
keys without a value skipped, as the programs that read such files do). A selection names the keys
it wants; the selected text is then judged by the check's ``expect`` exactly as a probe's own
output would be::

    select: {key: permitrootlogin, lower: true}            sshd -T: "permitrootlogin no" → "no"
    select: {key: ciphers, split: ","}                     one line per cipher
    select: {key: [kbdinteractiveauthentication, challengeresponseauthentication], first_key: true}
    select: {key: [net.ipv4.ip_forward], separator: "=", show_key: true}   sysctl -a → "net.ipv4.ip_forward=0"
    select: {key: PASS_MAX_DAYS, ignore_case: false, last: true, default: "99999"}
    select: {parse: listening_ports}                       a named parser (auditor/evaluation/parsers.py)

A key written ``key@condition`` in the source (``permitrootlogin@user=root,addr=203.0.113.7 yes``) is
the same key seen under a named condition: it is selected with ``key``, and the evidence shows the
condition.

Pure functions only: the same source output and selection always give the same text, so a finding
can be re-judged from its evidence alone.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from auditor.evaluation.parsers import PARSERS


def _as_tuple(value: object) -> object:
    return (value,) if isinstance(value, str) else value


Keys = Annotated[tuple[Annotated[str, Field(min_length=1)], ...], BeforeValidator(_as_tuple)]
ParserName = Literal["listening_ports"]


class Selection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: Keys = ()
    parse: ParserName | None = None  # a named parser instead of keys
    separator: str | None = None  # between key and value; None: the first run of white space
    ignore_case: bool = True  # when comparing keys
    lower: bool = False  # lower-case the values
    split: str | None = None  # one line per item of each value (e.g. "," for cipher lists)
    first_key: bool = False  # only the first listed key that appears (newer option names before older ones)
    last: bool = False  # only the last value of each key (later lines override earlier ones)
    show_key: bool = False  # "key<separator>value" lines instead of bare values
    default: str | None = None  # the text when no key appears (the program's built-in default)

    @model_validator(mode="after")
    def _keys_or_parser(self) -> Selection:
        if bool(self.key) == (self.parse is not None):
            raise ValueError("give either `key` (one or more keys) or `parse` (a named parser)")
        if self.parse is not None and self.model_fields_set - {"parse"}:
            raise ValueError("`parse` takes no other option")
        if self.separator is not None and not self.separator.strip():
            raise ValueError("separator must not be white space (leave it out for white space)")
        return self

    def describe(self) -> str:
        """A compact notation for evidence and reports: what was taken from the source."""
        if self.parse is not None:
            return f"parse {self.parse}"
        return "key " + ",".join(self.key) + (f" split {self.split!r}" if self.split else "")


Parsed = dict[str, tuple[tuple[str, str, str], ...]]


@lru_cache(maxsize=64)
def _parsed(text: str, separator: str | None, ignore_case: bool) -> Parsed:
    """Every line of ``text`` with a key and a value, by key: (line as written, key as written, value).

    A host's shared source is read by many checks with the same separator: it is split once (the text's hash
    is cached by Python, so looking it up again costs nothing). The answer is shared: never change it."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if separator is None:
            parts = line.split(None, 1)
        else:
            head, sep, tail = line.partition(separator)
            parts = [head.strip(), tail.strip()] if sep else [line]
        if not parts[0]:
            continue
        value = parts[1].strip() if len(parts) > 1 else ""
        name = parts[0].casefold() if ignore_case else parts[0]
        # "key@condition": the key's value under a named condition (e.g. one connection to sshd); the same key
        name = name.partition("@")[0]
        if value:
            found.setdefault(name, []).append((raw, parts[0], value))
    return {name: tuple(lines) for name, lines in found.items()}


def _keyed_lines(selection: Selection, text: str) -> dict[str, tuple[tuple[str, str, str], ...]]:
    """Lines whose key the selection names, by key: (line as written, key as written, value)."""
    wanted = [k.casefold() if selection.ignore_case else k for k in selection.key]
    found = _parsed(text, selection.separator, selection.ignore_case)
    present = [k for k in wanted if k in found]
    chosen = present[:1] if selection.first_key else present
    return {k: (found[k][-1:] if selection.last else found[k]) for k in chosen}


def select_text(selection: Selection, text: str) -> str:
    """The part of ``text`` (a shared source's stdout) that ``selection`` takes, as lines."""
    if selection.parse is not None:
        return PARSERS[selection.parse](text)
    lines: list[str] = []
    for matches in _keyed_lines(selection, text).values():
        for _raw, key, value in matches:
            value = value.lower() if selection.lower else value
            items = [v.strip() for v in value.split(selection.split)] if selection.split else [value]
            lines += [f"{key}{selection.separator or ' '}{item}" if selection.show_key else item for item in items]
    if not lines and selection.default is not None:
        return selection.default
    return "\n".join(lines)


def source_lines(selection: Selection | None, text: str) -> list[str]:
    """The lines of the source's own output a selection reads, as written there (to show as evidence)."""
    if selection is None or selection.parse is not None:
        return text.splitlines()
    return [raw for matches in _keyed_lines(selection, text).values() for raw, _key, _value in matches]
