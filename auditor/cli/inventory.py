"""`auditor inventory check FILE`: every mistake of an inventory, before any command connects to a host."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from auditor.cli.common import ContentDirOption, ExitCode, console, errors_to_exit, load
from auditor.inventory_check import RESOLVE_TIMEOUT_S

if TYPE_CHECKING:
    from auditor.inventory_check import CheckReport

inventory_app = typer.Typer(help="Check an inventory file.", no_args_is_help=True)

WIDTH = 80  # every line fits a plain terminal; a word longer than that (an id, a path) is never cut
_STYLE = {"error": "red", "warning": "yellow", "note": ""}  # the severities, as their labels read
_INDENT = " " * (max(len(label) for label in _STYLE) + 1)


@inventory_app.callback()
def inventory() -> None:
    """Check an inventory file (a group of its own: `auditor inventory check`)."""


@inventory_app.command("check")
def inventory_check(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The inventory YAML file.")],
    resolve: Annotated[
        bool,
        typer.Option(
            "--resolve/--no-resolve",
            help=f"Check that host names resolve (all at once, {RESOLVE_TIMEOUT_S:g} s at most).",
        ),
    ] = True,
    content_dir: ContentDirOption = None,
) -> None:
    """Everything loading checks (the schema, roles, key files) plus names that do not resolve, unset
    environment variables and hosts given twice. Exit 0 when there is no error (warnings are shown), 3 otherwise."""
    from auditor.inventory import roles_known_to
    from auditor.inventory_check import check_inventory

    with errors_to_exit():
        known_roles = roles_known_to(load(content_dir)) if content_dir else None
        report = check_inventory(file, resolve=resolve, known_roles=known_roles)
    for line in render(report):
        console.print(line, soft_wrap=True)
    raise typer.Exit(ExitCode.config if report.errors else ExitCode.ok)


def render(report: CheckReport, width: int = WIDTH) -> list[Text]:
    """One block per problem (its kind, line, item, field and what is wrong) wrapped to `width`, then a count."""
    from auditor.textsafe import terminal_safe

    lines: list[Text] = []
    for problem in report.problems:
        label = problem.severity.ljust(len(_INDENT))
        body = f"{report.where(problem)}: {problem.message}"
        wrapped = textwrap.wrap(
            body,
            width=width,
            initial_indent=label,
            subsequent_indent=_INDENT,
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines += [Text(line, style=_STYLE[problem.severity]) for line in wrapped]
    errors, warnings = len(report.errors), len(report.warnings)
    verdict = "not usable: fix the errors above" if errors else "usable"
    summary = f"{terminal_safe(str(report.parsed.path))}: {_count(errors, 'error')}, {_count(warnings, 'warning')}"
    hosts = sum(len(agency.hosts) for agency in report.parsed.inventory.agencies) if report.parsed.inventory else 0
    if report.parsed.inventory is not None:
        summary += f" in {_count(len(report.parsed.inventory.agencies), 'agency', 'agencies')}, {_count(hosts, 'host')}"
    wrapped = textwrap.wrap(f"{summary}; {verdict}", width=width, break_long_words=False, break_on_hyphens=False)
    lines += [Text(line, style="bold") for line in wrapped]
    return lines


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"
