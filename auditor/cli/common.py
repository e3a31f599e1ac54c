"""What every command module shares: consoles, option types, error mapping to the exit codes of
auditor.vocabulary.ExitCode. Imported only when a command runs, never to print help or the version."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from auditor.cli.words import Lang, Words, fallback_lang, words
from auditor.errors import AuditorError, ConfigError, NotFoundError
from auditor.settings import DEFAULT_DB_URL
from auditor.vocabulary import ExitCode

if TYPE_CHECKING:
    from auditor.cli.clock import Clock
    from auditor.content.loader import Content
    from auditor.store import Store

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

DbOption = Annotated[
    str,
    typer.Option(
        "--db", help="Database URL (sqlite:///file.db or postgresql://...).", envvar="AUDITOR_DB", show_envvar=True
    ),
]
KnownHostsOption = Annotated[
    Path | None, typer.Option("--known-hosts", help="The tool's known-hosts file.", envvar="AUDITOR_KNOWN_HOSTS")
]
ContentDirOption = Annotated[
    list[Path] | None, typer.Option("--content-dir", help="Extra checklist folder (repeatable).")
]
InventoryOption = Annotated[Path, typer.Option("--inventory", "-i", help="Inventory YAML file.")]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Judge as of the end of this day (YYYY-MM-DD, 23:59:59 local time of the profile's report_timezone, "
        "Asia/Ho_Chi_Minh by default); default now.",
    ),
]
RunArgument = Annotated[str, typer.Argument(help="Run id, a unique prefix of it, or 'latest'.")]


LangOption = Annotated[
    Lang | None,
    typer.Option(
        "--lang",
        help="Language of the text shown: vi or en. Default: $AUDITOR_LANG, else the profile's language, else vi.",
        show_default=False,
    ),
]

__all__ = ["DEFAULT_DB_URL", "ExitCode", "Lang", "Words"]


@contextmanager
def errors_to_exit(lang: Lang | None = None) -> Iterator[Words]:
    """The words of the chosen language (``--lang``, else the default); library errors become a red line on
    stderr in that language and a documented exit code. A bad AUDITOR_LANG is a usage error too."""
    chosen: Words | None = None
    try:
        chosen = words(lang)
        yield chosen
    except (ConfigError, NotFoundError) as exc:
        print_error(chosen, told(chosen, exc))
        raise typer.Exit(ExitCode.config) from None
    except AuditorError as exc:
        print_error(chosen, told(chosen, exc))
        raise typer.Exit(ExitCode.errors) from None


def told(chosen: Words | None, exc: AuditorError) -> str:
    """A library error's message in the chosen language (errors raised with words to say; others as they are)."""
    return exc.text((chosen or Words(fallback_lang())).lang.value)


def print_error(chosen: Words | None, message: str) -> None:
    """The one error style: a red line on stderr, "lỗi: …" or "error: …"."""
    prefix = (chosen or Words(fallback_lang()))("error_prefix")
    err_console.print(Text(f"{prefix}: {message}", style="red"))


def load(content_dirs: list[Path] | None) -> Content:
    from auditor.content.loader import load_content

    return load_content(content_dirs or [])


def open_db(url: str) -> Store:
    from auditor.store import open_store

    return open_store(url)


def as_of_moment(value: str | None, clock: Clock | None = None, told: Words | None = None) -> datetime:
    """Now, or the end of the given day in the profile's time zone (the zone every time is shown in)."""
    from auditor.cli.clock import profile_clock

    if value is None:
        return datetime.now(UTC)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ConfigError((told or Words(fallback_lang()))("bad_as_of", value=value)) from None
    return (clock or profile_clock()).end_of_day(day)
