"""What every command module shares: consoles, exit codes, option types, error mapping.

Exit codes
  0    audit finished and nothing failed / command succeeded
  1    audit finished and at least one check failed (verdict: level 3 not met; coverage: a clause
       without an evidence path)
  2    audit finished with errors (a host or a probe could not be observed), or a store error
  3    bad usage or configuration: malformed inventory or checklist, unknown run/finding id
  130  the run was interrupted (Ctrl-C); finished hosts are kept
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from auditor.content.loader import Content, load_content
from auditor.errors import AuditorError, ConfigError, NotFoundError
from auditor.governance.records import end_of_day

EXIT_OK, EXIT_FAILURES, EXIT_ERRORS, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

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


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Library errors become a red line on stderr and a documented exit code."""
    try:
        yield
    except (ConfigError, NotFoundError) as exc:
        err_console.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(EXIT_CONFIG) from None
    except AuditorError as exc:
        err_console.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(EXIT_ERRORS) from None


def load(content_dirs: list[Path] | None) -> Content:
    return load_content(content_dirs or [])


def as_of_moment(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        return end_of_day(date.fromisoformat(value))
    except ValueError:
        raise ConfigError(f"--as-of {value!r}: expected a date such as 2026-11-30") from None
