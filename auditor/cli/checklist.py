"""`auditor checklist`: validate, list and show the coverage of the content."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from auditor.cli.common import ContentDirOption, ExitCode, Lang, LangOption, console, err_console, errors_to_exit, load
from auditor.cli.listing import Cell, Column, FormatOption, Listing, OutputFormat, emit
from auditor.errors import ConfigError, ContentError

checklist_app = typer.Typer(help="Inspect and validate checklist content.", no_args_is_help=True)


@checklist_app.command("validate")
def checklist_validate(content_dir: ContentDirOption = None) -> None:
    """Validate every checklist and profile file; list every problem with file, check id and field."""
    with errors_to_exit():
        content = load(content_dir)
        if content.mapping_problems:
            raise ContentError("\n".join(content.mapping_problems))
        console.print(
            f"ok: {len(content.checks)} checks, {len(content.sources)} shared sources, "
            f"{len(content.catalogues)} catalogues, profile {content.profile.id}, version {content.version}"
        )


@checklist_app.command("list")
def checklist_list(
    content_dir: ContentDirOption = None,
    lang: LangOption = Lang.vi,
    output: FormatOption = OutputFormat.table,
) -> None:
    """List the checks with their severity and requirement references."""
    with errors_to_exit():
        content = load(content_dir)
        rows: list[dict[str, Cell]] = [
            {
                "id": item.id,
                "severity": item.severity.value,
                "requirements": "; ".join(f"{r.framework} {r.clause}" for r in content.requirements_of(item.id)),
                "title": item.title.get(lang),
            }
            for item in content.checks.values()
        ]
        # the table names a standard by its number alone (TCVN 11930:2017 → 11930) to leave room for titles
        styled = [
            {"requirements": Text("; ".join(f"{_number(r.framework)} {r.clause}" for r in content.requirements_of(i)))}
            for i in content.checks
        ]
        columns = (
            Column("id", "id", "id"),
            Column("severity", "severity"),
            Column("requirements", "clauses"),
            Column("title", "title"),
        )
        emit(Listing(title=f"Checks ({content.version})", columns=columns, rows=rows, styled=styled), output)


def _number(framework: str) -> str:
    return framework.removeprefix("TCVN ").split(":")[0]


@checklist_app.command("coverage")
def checklist_coverage(
    framework: Annotated[
        list[str] | None, typer.Option("--framework", help="Only this framework (repeatable).")
    ] = None,
    content_dir: ContentDirOption = None,
    lang: LangOption = Lang.vi,
) -> None:
    """Each clause → automated / network / manual / missing; exits 1 when a clause has no evidence path."""
    from rich.table import Table

    from auditor.content.catalogue import Verification, coverage

    with errors_to_exit():
        content = load(content_dir)
        unknown = sorted(set(framework or ()) - set(content.catalogues))
        if unknown:
            raise ConfigError(f"unknown framework(s): {', '.join(unknown)} (known: {', '.join(content.catalogues)})")
        for problem in content.mapping_problems:
            err_console.print(Text(problem, style="red"))
        missing_total = len(content.mapping_problems)
        for name, catalogue in content.catalogues.items():
            if framework and name not in framework:
                continue
            rows = coverage(catalogue, content.checks)
            title = f"{name} level {catalogue.level}" + (" (provisional)" if catalogue.provisional else "")
            table = Table(title=title)
            table.add_column("clause", no_wrap=True)
            table.add_column("heading", overflow="fold")
            table.add_column("verified by", no_wrap=True)
            table.add_column("checks", justify="right")
            table.add_column("network", justify="right")
            table.add_column("manual", justify="right")
            for row in rows:
                network = str(len(row.clause.network_checks))
                if row.pending_network:
                    network += f" ({len(row.pending_network)} pending)"
                table.add_row(
                    row.clause.id,
                    row.clause.heading.get(lang),
                    ", ".join(k.value for k in row.kinds),
                    str(len(row.clause.checks)),
                    network,
                    str(len(row.clause.manual)),
                )
            console.print(table)
            counts = {kind: sum(1 for row in rows if kind in row.kinds) for kind in Verification}
            pending = sorted({check_id for row in rows for check_id in row.pending_network})
            missing_total += counts[Verification.missing]
            console.print(
                f"{name}: {len(rows)} clauses; "
                + ", ".join(f"{kind.value} {count}" for kind, count in counts.items())
                + (f"; pending network checks: {', '.join(pending)}" if pending else "")
            )
    raise typer.Exit(ExitCode.failures if missing_total else ExitCode.ok)
