"""`auditor report`: the agency remediation report, the department summary and the official yearly report (DOCX
or PDF), from the store only."""

from __future__ import annotations

import sys
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditor.cli.common import (
    DEFAULT_DB_URL,
    ContentDirOption,
    DbOption,
    as_of_moment,
    err_console,
    errors_to_exit,
    load,
    open_db,
)
from auditor.errors import ConfigError

if TYPE_CHECKING:
    from auditor.reports.models import AgencyReport, SummaryReport

app = typer.Typer()


class ReportLang(StrEnum):
    vi = "vi"
    en = "en"


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"
    docx = "docx"  # the official yearly report only


@app.command()
def report(
    runs: Annotated[
        list[str] | None,
        typer.Argument(help="Run id(s), unique prefixes or 'latest'; several with --summary; none with --yearly."),
    ] = None,
    agency: Annotated[str | None, typer.Option("--agency", help="Agency id (agency report).")] = None,
    summary: Annotated[bool, typer.Option("--summary", help="Department summary over the given runs.")] = False,
    yearly: Annotated[
        bool,
        typer.Option(
            "--yearly",
            help="The official yearly report (docx or pdf): the Department's to the People's Committee, or with "
            "--agency the agency's to the Department; from each agency's latest run in the year.",
        ),
    ] = False,
    year: Annotated[
        int | None, typer.Option("--year", min=2000, max=2999, help="Year of the yearly report (default: of --date).")
    ] = None,
    report_date: Annotated[
        str | None,
        typer.Option("--date", help="Date of the yearly report, YYYY-MM-DD (default: today); figures as of it."),
    ] = None,
    settings: Annotated[
        Path | None,
        typer.Option("--settings", help="YAML settings of the yearly report: issuing body, signer, recipients."),
    ] = None,
    lang: Annotated[ReportLang, typer.Option("--lang", help="Report language.")] = ReportLang.vi,
    format: Annotated[
        ReportFormat, typer.Option("--format", help="html (self-contained) or pdf; docx or pdf with --yearly.")
    ] = ReportFormat.html,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write; '-' for stdout.")] = None,
    framework: Annotated[str | None, typer.Option(help="Catalogue to judge against.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Judge attestations and waivers as of this date (YYYY-MM-DD).")
    ] = None,
    db: DbOption = DEFAULT_DB_URL,
    content_dir: ContentDirOption = None,
) -> None:
    """Write the agency remediation report, or with --summary the department summary, as HTML or PDF; or with
    --yearly the official yearly report as DOCX or PDF."""
    from auditor.reports import build_agency_report, build_summary_report, render_html, render_pdf

    with errors_to_exit():
        if yearly:
            if runs or summary or as_of:
                raise ConfigError(
                    "--yearly takes each agency's latest run of the year as of --date; leave out "
                    "the run ids, --summary and --as-of"
                )
            if lang is not ReportLang.vi:
                raise ConfigError("the official yearly report is written in Vietnamese only (leave out --lang)")
            _write(_yearly(agency, format, year, report_date, settings, framework, db, content_dir), output)
            return
        if format is ReportFormat.docx:
            raise ConfigError("--format docx is for the official yearly report (--yearly)")
        if year is not None or report_date is not None or settings is not None:
            raise ConfigError("--year, --date and --settings are options of the yearly report (--yearly)")
        if not runs:
            raise ConfigError("give a run id (or 'latest'); several with --summary")
        moment = as_of_moment(as_of) if as_of else None
        content = load(content_dir)
        store = open_db(db)
        model: AgencyReport | SummaryReport
        if summary:
            if agency is not None:
                raise ConfigError("--summary covers every agency of the runs; leave out --agency")
            model = build_summary_report(store, content, runs, lang.value, framework, as_of=moment)
            default_name = f"summary-{model.run_ids[-1]}-{lang.value}.{format.value}"
        else:
            if len(runs) != 1:
                raise ConfigError("an agency report is made from one run (use --summary for several)")
            run = store.get_run(runs[0])
            if agency is None:
                agencies = sorted({h.agency_id for h in store.list_run_hosts(run.id)})
                if len(agencies) != 1:
                    raise ConfigError(
                        f"run {run.id} covers several agencies; choose one with --agency: {', '.join(agencies)}"
                    )
                agency = agencies[0]
            model = build_agency_report(store, content, run.id, agency, lang.value, framework, as_of=moment)
            default_name = f"report-{run.id}-{agency}-{lang.value}.{format.value}"
        html = render_html(model)
        data = render_pdf(html) if format is ReportFormat.pdf else html.encode("utf-8")
        _write((data, default_name), output)


def _yearly(
    agency: str | None,
    format: ReportFormat,
    year: int | None,
    report_date: str | None,
    settings_file: Path | None,
    framework: str | None,
    db: str,
    content_dir: list[Path] | None,
) -> tuple[bytes, str]:
    """The official yearly report (the Department's, or with ``agency`` the agency's) and its default file name."""
    from auditor.reports.official import OfficialDocument, build_agency_yearly_report, build_yearly_report
    from auditor.reports.official_docx import render_docx
    from auditor.reports.official_html import render_official_pdf
    from auditor.reports.official_settings import load_settings

    if format is ReportFormat.html:
        raise ConfigError("the yearly report is written as --format docx or --format pdf")
    settings = load_settings(settings_file)
    if report_date is None:
        issued_on = datetime.now(settings.zone).date()
    else:
        try:
            issued_on = date.fromisoformat(report_date)
        except ValueError:
            raise ConfigError(f"--date {report_date!r}: expected a date such as 2026-11-25") from None
    if year is not None and year > issued_on.year:
        raise ConfigError(f"--year {year} is after the report date {issued_on.isoformat()}")
    content = load(content_dir)
    store = open_db(db)
    document: OfficialDocument
    if agency is None:
        document = build_yearly_report(store, content, settings, issued_on, year, framework)
    else:
        document = build_agency_yearly_report(store, content, settings, agency, issued_on, year, framework)
    data = render_docx(document) if format is ReportFormat.docx else render_official_pdf(document)
    return data, f"yearly-{document.year}{f'-{agency}' if agency else ''}.{format.value}"


def _write(made: tuple[bytes, str], output: Path | None) -> None:
    """Write the report to ``output`` ('-': stdout), or to its default name in the working directory."""
    data, default_name = made
    if output is not None and str(output) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    target = output or Path(default_name)
    target.write_bytes(data)
    err_console.print(f"wrote {target} ({len(data)} bytes)")
