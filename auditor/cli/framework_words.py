"""The command-line framework's own words in Vietnamese: the help's chrome ("Usage:", panel titles, "[default: …]",
the help option's text) and the parser's messages ("No such option", "Missing argument", a value not among the
choices). The Vietnamese is in auditor/locale/framework.yml.

Typer marks its help chrome for gettext (``_`` in typer.core, constants of typer.rich_utils): those names are bound
to this catalogue's ``gettext`` while Vietnamese is spoken and restored for English. The copy of click that Typer
ships writes its parser messages as plain f-strings, so those are translated where they are printed, by matching
the whole message against the English patterns of the catalogue. Imported to show help, so it stays light: no
pydantic, no command module."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from auditor.cli.help_words import LOCALE

FILE = "framework.yml"
_FIELD = re.compile(r"\{(\w+)\}")
_DEPTH = 4  # messages nest (a choice error inside "Invalid value for …"): a bound, never a loop


@dataclass(frozen=True)
class Message:
    """One parser message: its English pattern, its Vietnamese, the parts that are themselves translated."""

    en: str
    vi: str
    inner: tuple[str, ...] = ()
    pattern: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        parts = _FIELD.split(self.en)  # literal, name, literal, name, ..., literal
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
        object.__setattr__(self, "pattern", re.compile(regex, re.DOTALL))


@dataclass(frozen=True)
class Catalogue:
    gettext: dict[str, str]
    literals: dict[str, str]  # name -> Vietnamese
    english: dict[str, str]  # name -> English of the same literal
    messages: tuple[Message, ...]  # in the file's order: the first that matches is taken
    words: dict[str, str]
    types: dict[str, str]  # Typer's type label -> Vietnamese
    list_of: str
    ranges: dict[str, str]  # min, max, both
    metavars: dict[str, str]


@cache
def catalogue() -> Catalogue:
    import yaml

    text = (LOCALE / FILE).read_text(encoding="utf-8")
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506  # the safe loaders
    messages = [Message(en=m["en"], vi=m["vi"], inner=tuple(m.get("inner", ()))) for m in raw["messages"]]
    for message in messages:
        unknown = set(message.inner) - set(_FIELD.findall(message.en))
        if unknown or set(_FIELD.findall(message.vi)) != set(_FIELD.findall(message.en)):
            raise ValueError(f"auditor/locale/{FILE}: fields of {message.en!r} do not agree")
    return Catalogue(
        gettext={str(k): str(v) for k, v in raw["gettext"].items()},
        literals={name: str(entry["vi"]) for name, entry in raw["literals"].items()},
        english={name: str(entry["en"]) for name, entry in raw["literals"].items()},
        messages=tuple(messages),
        words={str(k): str(v) for k, v in raw["words"].items()},
        types={str(k): str(v) for k, v in raw["types"].items()},
        list_of=str(raw["list_of"]),
        ranges={str(k): str(v) for k, v in raw["ranges"].items()},
        metavars={str(k): str(v) for k, v in raw["metavars"].items()},
    )


class Translations:
    """A gettext-style translations object over the catalogue (unknown msgids are returned as they are)."""

    def gettext(self, message: str) -> str:
        return catalogue().gettext.get(message, message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


def translate(message: str, depth: int = 0) -> str:
    """A parser message in Vietnamese: the first pattern that matches the whole message, its inner parts translated
    too; a message no pattern matches is kept as it is (still readable, never lost)."""
    table = catalogue()
    if message in table.words:
        return table.words[message]
    if depth >= _DEPTH:
        return message
    for entry in table.messages:
        found = entry.pattern.fullmatch(message)
        if found is None:
            continue
        parts = {
            name: translate(value, depth + 1) if name in entry.inner else value
            for name, value in found.groupdict().items()
        }
        return _fill(entry.vi, parts)
    return message


def _fill(text: str, parts: dict[str, str]) -> str:
    """``text`` with its {name} fields filled (not str.format: a part may hold braces of its own)."""
    return _FIELD.sub(lambda match: parts[match.group(1)], text)


# -- installing and removing the Vietnamese chrome --------------------------------------------------------------------

_ORIGINAL: dict[tuple[str, str], Any] = {}  # (module, name) -> the value Typer had, saved once


def _modules() -> dict[str, Any]:
    """Where Typer keeps the words replaced; one it no longer has is left alone (the tests name it)."""
    import typer.core
    import typer.rich_utils

    found: dict[str, Any] = {"typer.core": typer.core, "typer.rich_utils": typer.rich_utils}
    parameter = getattr(typer.core, "_TyperParameter", None)
    if parameter is not None:
        found["parameter"] = parameter
    try:
        from typer._click import decorators, formatting, termui
    except ImportError:
        return found
    return {**found, "decorators": decorators, "HelpFormatter": formatting.HelpFormatter, "termui": termui}


def _set(modules: dict[str, Any], module: str, name: str, wrap: Any) -> None:
    """``module.name`` replaced by ``wrap(original)``, the original kept to put back."""
    if module not in modules or not hasattr(modules[module], name):
        return
    original = getattr(modules[module], name)
    _ORIGINAL.setdefault((module, name), original)
    setattr(modules[module], name, wrap(original))


def install(vietnamese: bool) -> None:
    """Vietnamese chrome when ``vietnamese``; otherwise Typer exactly as it was (nothing replaced stays replaced)."""
    modules = _modules()
    for (module, name), value in _ORIGINAL.items():  # first Typer as it was: the originals below are its own
        setattr(modules[module], name, value)
    if not vietnamese:
        return
    table = catalogue()
    translations = Translations()
    _set(modules, "typer.core", "_", lambda _original: translations.gettext)
    for name, value in list(vars(modules["typer.rich_utils"]).items()):
        if name.isupper() and isinstance(value, str) and value in table.gettext:  # e.g. OPTIONS_PANEL_TITLE
            _set(modules, "typer.rich_utils", name, translations.gettext)
    _set(modules, "decorators", "help_option", _help_option)
    _set(modules, "HelpFormatter", "write_usage", _write_usage)
    _set(modules, "termui", "echo", _echo)
    _set(modules, "parameter", "display_type", _display_type)
    _set(modules, "typer.core", "describe_number_range", lambda _original: describe_range)


def _help_option(original: Any) -> Any:
    def help_option(param_decls: list[str]) -> Any:
        decorate = original(param_decls)

        def apply(command: Any) -> Any:
            decorated = decorate(command)
            decorated.params[-1].help = catalogue().literals["help_option"]
            return decorated

        return apply

    return help_option


def _write_usage(original: Any) -> Any:
    def write_usage(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
        original(self, prog, args, catalogue().literals["usage_prefix"] if prefix is None else prefix)

    return write_usage


def _echo(original: Any) -> Any:
    def echo(message: Any = None, *args: Any, **kwargs: Any) -> Any:
        table = catalogue()
        english = {text: name for name, text in table.english.items() if name.startswith(("prompt_", "confirm_"))}
        if isinstance(message, str) and message in english:
            message = table.literals[english[message]]
        return original(message, *args, **kwargs)

    return echo


def _display_type(original: Any) -> Any:
    def display_type(self: Any, ctx: Any) -> str:
        shown = original(self, ctx)
        if not (isinstance(shown, str) and shown.startswith("<") and shown.endswith(">")):
            return shown
        return f"<{type_label(shown[1:-1])}>"

    return display_type


def type_label(label: str) -> str:
    """Typer's label of a type in Vietnamese: ``list[str]`` as "danh sách chuỗi"; choices (``vi|en``), which the
    user types, and a label the catalogue does not know stay as they are."""
    table = catalogue()
    if label in table.types:
        return table.types[label]
    if label.startswith("list[") and label.endswith("]"):
        return table.list_of.format(item=type_label(label[5:-1]))
    if "," in label and "|" not in label:  # a tuple's labels
        return ",".join(type_label(part) for part in label.split(","))
    return label


def describe_range(minimum: float | None, maximum: float | None) -> str | None:
    """A number's bounds in words (Typer writes "x>=1", "x<=9", "1<=x<=9")."""
    ranges = catalogue().ranges
    if minimum is None and maximum is None:
        return None
    if maximum is None:
        return ranges["min"].format(min=minimum)
    if minimum is None:
        return ranges["max"].format(max=maximum)
    return ranges["both"].format(min=minimum, max=maximum)


def value_metavar(metavar: str) -> str:
    """The Vietnamese of a name given to a value (``FORMAT``, ``FILE``); one the catalogue lacks stays."""
    return catalogue().metavars.get(metavar, metavar)


def metavars() -> tuple[str, str]:
    """The Vietnamese for "[OPTIONS]" and "COMMAND [ARGS]..." in a usage line."""
    table = catalogue()
    return table.literals["options_metavar"], table.literals["subcommand_metavar"]


def english_metavars() -> tuple[str, str]:
    table = catalogue()
    return table.english["options_metavar"], table.english["subcommand_metavar"]


__all__ = ["Translations", "install", "metavars", "translate"]
