"""`auditor inventory check FILE`: every mistake of an inventory, before any command connects to a host."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from auditor.cli.common import ContentDirOption, ExitCode, LangOption, console, errors_to_exit, load
from auditor.cli.words import Lang, Words
from auditor.inventory_check import RESOLVE_TIMEOUT_S

if TYPE_CHECKING:
    from auditor.inventory import InventoryProblem
    from auditor.inventory_check import CheckReport

inventory_app = typer.Typer(help="Check an inventory file.", no_args_is_help=True)

WIDTH = 80  # every line fits a plain terminal; a word longer than that (an id, a path) is never cut
_STYLE = {"error": "red", "warning": "yellow", "note": ""}


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
    lang: LangOption = None,
) -> None:
    """Everything loading checks (the schema, roles, key files) plus names that do not resolve, unset
    environment variables and hosts given twice. Exit 0 when there is no error (warnings are shown), 3 otherwise."""
    from auditor.inventory import roles_known_to
    from auditor.inventory_check import check_inventory

    with errors_to_exit(lang) as words:
        known_roles = roles_known_to(load(content_dir)) if content_dir else None
        report = check_inventory(file, resolve=resolve, known_roles=known_roles, lang=words.lang.value)
    for line in render(report, words=words):
        console.print(line, soft_wrap=True)
    raise typer.Exit(ExitCode.config if report.errors else ExitCode.ok)


def render(report: CheckReport, width: int = WIDTH, words: Words | None = None) -> list[Text]:
    """One block per problem (its kind, then file, line, agency, host and field in words, then what is wrong)
    wrapped to `width`, then a count."""
    from auditor.textsafe import terminal_safe

    words = words or Words(Lang.vi)
    labels = {severity: words(f"inventory_severity_{severity}") for severity in _STYLE}
    indent = " " * (max(len(label) for label in labels.values()) + 1)
    lines: list[Text] = []
    for problem in report.problems:
        body = f"{place(report, problem, words)}: {terminal_safe(problem.text(words.lang.value))}"
        wrapped = textwrap.wrap(
            body,
            width=width,
            initial_indent=labels[problem.severity].ljust(len(indent)),
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines += [Text(line, style=_STYLE[problem.severity]) for line in wrapped]
    errors, warnings = len(report.errors), len(report.warnings)
    summary = words(
        "inventory_summary",
        path=terminal_safe(str(report.parsed.path)),
        errors=_count(words, errors, "error"),
        warnings=_count(words, warnings, "warning"),
    )
    parsed = report.parsed.inventory
    if parsed is not None:
        hosts = sum(len(agency.hosts) for agency in parsed.agencies)
        agencies = _count(words, len(parsed.agencies), "agency")
        summary += words("inventory_summary_in", agencies=agencies, hosts=_count(words, hosts, "host"))
    summary += words("inventory_not_usable" if errors else "inventory_usable")
    wrapped = textwrap.wrap(summary, width=width, break_long_words=False, break_on_hyphens=False)
    lines += [Text(line, style="bold") for line in wrapped]
    return lines


def place(report: CheckReport, problem: InventoryProblem, words: Words) -> str:
    """Where a problem is, in words: 'file inv.yml, line 6, agency demo, host b, field address'."""
    from auditor.inventory_words import place as in_words

    return in_words(report.parsed, problem.location, words.lang.value)


def _count(words: Words, n: int, noun: str) -> str:
    return words(f"inventory_n_{noun}_{'one' if n == 1 else 'many'}", n=n)
