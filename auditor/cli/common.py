"""What every command module shares: consoles, option types, error mapping to the exit codes of
auditor.vocabulary.ExitCode. Imported only when a command runs, never to print help or the version."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from auditor.errors import AuditorError, ConfigError, NotFoundError
from auditor.settings import DEFAULT_DB_URL
from auditor.vocabulary import ExitCode

if TYPE_CHECKING:
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
    str | None, typer.Option("--as-of", help="Judge as of this date (YYYY-MM-DD, end of day UTC); default now.")
]
RunArgument = Annotated[str, typer.Argument(help="Run id, a unique prefix of it, or 'latest'.")]


class Lang(StrEnum):
    vi = "vi"
    en = "en"


LangOption = Annotated[Lang, typer.Option("--lang", help="Language of the text shown: vi or en.")]

__all__ = ["DEFAULT_DB_URL", "ExitCode"]


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Library errors become a red line on stderr and a documented exit code."""
    try:
        yield
    except (ConfigError, NotFoundError) as exc:
        err_console.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(ExitCode.config) from None
    except AuditorError as exc:
        err_console.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(ExitCode.errors) from None


def load(content_dirs: list[Path] | None) -> Content:
    from auditor.content.loader import load_content

    return load_content(content_dirs or [])


def open_db(url: str) -> Store:
    from auditor.store import open_store

    return open_store(url)


def as_of_moment(value: str | None) -> datetime:
    from auditor.governance.records import end_of_day

    if value is None:
        return datetime.now(UTC)
    try:
        return end_of_day(date.fromisoformat(value))
    except ValueError:
        raise ConfigError(f"--as-of {value!r}: expected a date such as 2026-11-30") from None
