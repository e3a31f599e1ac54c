"""The help (``--help``) in the chosen language. The English is in the code, beside each command and option; the
Vietnamese is in auditor/locale/help.yml, keyed by the command's path and the parameter's name. A command is given
its Vietnamese when it is loaded, before its help can be printed; the framework's own words come from
auditor/cli/framework_words.py.

The language of help and of the parser's messages is ``--lang`` among the arguments, else AUDITOR_LANG, else
Vietnamese: the profile's ``language`` is not read here, since reading it loads the checklist models and help must
answer at once. Imported to show help: no pydantic, no command module."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

# Read as a file: importlib.resources would load zipfile (and more) before help is shown.
LOCALE = Path(__file__).resolve().parents[1] / "locale"
FILE = "help.yml"
LANGS = ("vi", "en")
ENV = "AUDITOR_LANG"  # the same variable as auditor.cli.words.LANG_ENV


@dataclass(frozen=True)
class CommandHelp:
    short: str | None
    help: str | None
    params: dict[str, str]


@dataclass(frozen=True)
class HelpCatalogue:
    commands: dict[str, CommandHelp]  # by command path: "auditor", "auditor runs", "auditor checklist list"
    shared: dict[str, str]  # by parameter name, for every command without an entry of its own

    def param(self, path: str, name: str) -> str | None:
        entry = self.commands.get(path)
        own = entry.params.get(name) if entry is not None else None
        return own if own is not None else self.shared.get(name)


@cache
def help_catalogue() -> HelpCatalogue:
    import yaml

    text = (LOCALE / FILE).read_text(encoding="utf-8")
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506  # the safe loaders
    commands: dict[str, CommandHelp] = {}
    for path, entry in raw["commands"].items():
        unknown = set(entry) - {"short", "help", "params"}
        if unknown or not path.startswith("auditor"):
            raise ValueError(f"auditor/locale/{FILE}: {path}: unknown keys {sorted(unknown)}")
        params = {_name(path, name): _text(path, value) for name, value in (entry.get("params") or {}).items()}
        short, help_ = entry.get("short"), entry.get("help")
        commands[path] = CommandHelp(
            short=None if short is None else _text(path, short),
            help=None if help_ is None else _text(path, help_),
            params=params,
        )
    shared = {_name("shared", name): _text("shared", value) for name, value in raw["shared"].items()}
    return HelpCatalogue(commands=commands, shared=shared)


def _name(where: str, name: object) -> str:
    if not isinstance(name, str):  # e.g. a bare `yes:` reads as True
        raise ValueError(f"auditor/locale/{FILE}: {where}: parameter names must be strings: {name!r}")
    return name


def _text(where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"auditor/locale/{FILE}: {where}: {value!r} is not a text")
    return value


def help_lang(args: Sequence[str]) -> str:
    """``--lang X`` or ``--lang=X`` among the arguments (the last one), else AUDITOR_LANG, else "vi". A value that
    is not a language is passed over here: the option itself refuses it with a usage error."""
    asked = [value for arg, value in pairwise(args) if arg == "--lang"]
    asked += [arg.removeprefix("--lang=") for arg in args if arg.startswith("--lang=")]
    for value in (*reversed(asked), os.environ.get(ENV, "").strip()):
        if value in LANGS:
            return value
    return "vi"


def short_help(name: str, english: str, lang: str) -> str:
    """A command's line in ``auditor --help``."""
    entry = help_catalogue().commands.get(f"auditor {name}") if lang == "vi" else None
    return entry.short if entry is not None and entry.short is not None else english


def localize(command: Any, path: str, lang: str) -> Any:
    """The command (and its subcommands) with Vietnamese help, when the language is Vietnamese; a text missing from
    the catalogue stays English (the tests require every one)."""
    if lang != "vi":
        return command
    from auditor.cli.framework_words import english_metavars, metavars, value_metavar

    table = help_catalogue()
    entry = table.commands.get(path)
    if entry is not None and entry.help is not None:
        command.help = entry.help
    if entry is not None and entry.short is not None and getattr(command, "short_help", None):
        command.short_help = entry.short
    for param in command.params:
        text = table.param(path, param.name or "")
        if text is not None:
            param.help = text
        if getattr(param, "metavar", None):
            param.metavar = value_metavar(param.metavar)
        elif param.param_type_name == "argument" and param.name:  # shown by its parameter's name otherwise
            param.metavar = value_metavar(param.name)
    english_options, english_commands = english_metavars()
    options, subcommands = metavars()
    if getattr(command, "options_metavar", None) == english_options:
        command.options_metavar = options
    if getattr(command, "subcommand_metavar", None) == english_commands:
        command.subcommand_metavar = subcommands
    for name, sub in (getattr(command, "commands", None) or {}).items():
        localize(sub, f"{path} {name}", lang)
    return command
