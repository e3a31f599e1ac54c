"""`auditor checklist`: validate, list and show the coverage of the content."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from auditor.cli.common import ContentDirOption, ExitCode, LangOption, console, err_console, errors_to_exit, load
from auditor.cli.listing import Cell, Column, FormatOption, Listing, OutputFormat, emit
from auditor.errors import ConfigError, ContentError
from auditor.said import Lines, said
from auditor.textsafe import terminal_text

if TYPE_CHECKING:
    from auditor.cli.words import Words
    from auditor.content.catalogue import ClauseCoverage

checklist_app = typer.Typer(help="Inspect and validate checklist content.", no_args_is_help=True)


@checklist_app.command("validate")
def checklist_validate(content_dir: ContentDirOption = None, lang: LangOption = None) -> None:
    """Validate every checklist and profile file; list every problem with file, check id and field."""
    from auditor.content.loader import builtin_content_dir
    from auditor.external.mapping import validate_mappings

    with errors_to_exit(lang) as words:
        content = load(content_dir)
        # other tools' mapping files, by the loader `auditor import` uses
        dirs = [builtin_content_dir(), *(content_dir or [])]
        mappings, mapping_problems = validate_mappings(dirs, content.catalogues)
        if content.mapping_problems or mapping_problems:
            raise ContentError(Lines((*content.mapping_problems, *mapping_problems)))
        console.print(
            words(
                "validate_ok",
                checks=len(content.checks),
                sources=len(content.sources),
                catalogues=len(content.catalogues),
                mappings=mappings,
                profile=content.profile.id,
                version=content.version,
            )
        )


@checklist_app.command("list")
def checklist_list(
    content_dir: ContentDirOption = None,
    lang: LangOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """List the checks with their severity and requirement references."""
    with errors_to_exit(lang) as words:
        content = load(content_dir)
        rows: list[dict[str, Cell]] = [
            {
                "id": item.id,
                "severity": item.severity.value,
                "requirements": "; ".join(f"{r.framework} {r.clause}" for r in content.requirements_of(item.id)),
                "title": item.title.get(words.lang),
            }
            for item in content.checks.values()
        ]
        # the table names a standard by its number alone (TCVN 11930:2017 → 11930) to leave room for titles
        styled = [
            {
                "requirements": Text(
                    "; ".join(f"{_number(r.framework)} {r.clause}" for r in content.requirements_of(i))
                ),
                "severity": Text(words.severity(item.severity.value)),
            }
            for i, item in content.checks.items()
        ]
        columns = (
            Column("id", words("col_id"), "id"),
            Column("severity", words("col_severity")),
            Column("requirements", words("col_clauses")),
            Column("title", words("col_title")),
        )
        title = words("checks_title", version=content.version)
        emit(Listing(title=title, columns=columns, rows=rows, styled=styled), output)


def _number(framework: str) -> str:
    return framework.removeprefix("TCVN ").split(":")[0]


_COVERAGE_FIELDS = (
    "framework",
    "clause",
    "verified_by",
    "checks",
    "network_checks",
    "network_pending",
    "manual",
    "pending_network_checks",
    "heading",
)


@checklist_app.command("coverage")
def checklist_coverage(
    framework: Annotated[
        list[str] | None, typer.Option("--framework", help="Only this framework (repeatable).")
    ] = None,
    content_dir: ContentDirOption = None,
    lang: LangOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Each clause → automated / network / manual / missing; exits 1 when a clause has no evidence path."""
    from auditor.content.catalogue import Verification, coverage

    with errors_to_exit(lang) as words:
        content = load(content_dir)
        unknown = sorted(set(framework or ()) - set(content.catalogues))
        if unknown:
            raise ConfigError(
                words("unknown_frameworks", unknown=", ".join(unknown), known=", ".join(content.catalogues))
            )
        for problem in content.mapping_problems:
            err_console.print(terminal_text(problem.text(words.lang.value), style="red"))
        missing_total = len(content.mapping_problems)
        rows: list[dict[str, Cell]] = []
        styled: list[dict[str, Text]] = []
        summaries: list[str] = []
        for name, catalogue in content.catalogues.items():
            if framework and name not in framework:
                continue
            clauses = coverage(catalogue, content.checks)
            heading = words("coverage_framework", framework=name, level=catalogue.level)
            if catalogue.provisional:
                heading += words("coverage_provisional")
            for row in clauses:
                rows.append(
                    {
                        "framework": name,
                        "framework_heading": heading,  # the table's heading of the framework's rows
                        "clause": row.clause.id,
                        "verified_by": ", ".join(k.value for k in row.kinds),
                        "checks": len(row.clause.checks),
                        "network_checks": len(row.clause.network_checks),
                        "network_pending": len(row.pending_network),
                        "manual": len(row.clause.manual),
                        "pending_network_checks": "; ".join(row.pending_network),
                        "heading": row.clause.heading.get(words.lang),
                    }
                )
                styled.append({"verified_by": _verified_by(row, words)})
            counts = {kind: sum(1 for row in clauses if kind in row.kinds) for kind in Verification}
            pending = sorted({check_id for row in clauses for check_id in row.pending_network})
            missing_total += counts[Verification.missing]
            summary = words(
                "coverage_summary",
                framework=name,
                n=len(clauses),
                counts=", ".join(f"{words(f'verification_{kind.value}')} {count}" for kind, count in counts.items()),
            )
            if pending:
                summary += words("coverage_pending_checks", checks=", ".join(pending))
            summaries.append(summary)
        fields = tuple(Column(key, key) for key in _COVERAGE_FIELDS)
        table = (  # the counts are in the words of "verified by"; JSON and CSV carry them as numbers
            Column("clause", words("col_clause"), "id"),
            Column("verified_by", words("col_verified_by")),
            Column("heading", words("col_heading")),
        )
        listing = Listing(
            title=words("coverage_title"),
            columns=fields,
            rows=rows,
            styled=styled,
            table_columns=table,
            group_by=("framework_heading",),
        )
        emit(listing, output)
        if output is OutputFormat.table:
            for summary in summaries:
                console.print(terminal_text(summary))
    raise typer.Exit(ExitCode.failures if missing_total else ExitCode.ok)


def _verified_by(row: ClauseCoverage, words: Words) -> Text:
    """E.g. "automated (2), network (1, 1 pending), manual (3)"; a clause without any path in red."""
    from auditor.content.catalogue import Verification

    counts = {
        Verification.automated: str(len(row.clause.checks)),
        Verification.network: str(len(row.clause.network_checks))
        + (f", {words('coverage_pending', n=len(row.pending_network))}" if row.pending_network else ""),
        Verification.manual: str(len(row.clause.manual)),
    }
    parts = [words(f"verification_{k.value}") + (f" ({counts[k]})" if k in counts else "") for k in row.kinds]
    return Text(", ".join(parts), style="bold red" if Verification.missing in row.kinds else "")


@checklist_app.command("export-catalog")
def checklist_export_catalog(
    standard: Annotated[str, typer.Option("--standard", help="tcvn11930 or tcvn14423.")],
    format: Annotated[str, typer.Option("--format", help="oscal (an OSCAL catalog, JSON).")] = "oscal",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
    content_dir: ContentDirOption = None,
    lang: LangOption = None,
) -> None:
    """Export a requirement catalogue as an OSCAL catalog: groups, a control per clause, statements."""
    import sys
    from datetime import UTC, datetime

    from auditor.oscal.catalog import catalog_document, catalogue_for_standard

    with errors_to_exit(lang) as words:
        if format != "oscal":
            raise ConfigError(said("err_export_format", option="--format", format=format, formats="oscal"))
        content = load(content_dir)
        catalogue = catalogue_for_standard(content, standard)
        text = catalog_document(catalogue, content.version, datetime.now(UTC)).to_json() + "\n"
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8")
            err_console.print(terminal_text(words("wrote", path=output)))
