"""`auditor report`: the agency remediation report, the department summary and the official yearly report (DOCX
or PDF), from the store only. The agency report names the agency's owner and shows its own local time as the
run recorded them (name, title, time zone); with ``--inventory`` as the inventory gives them (with the
contact's email and phone). Rendering can take a while (a PDF, tens of seconds): each step shows on stderr
when someone watches."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from auditor.cli.common import (
    DEFAULT_DB_URL,
    ContentDirOption,
    DbOption,
    LangOption,
    as_of_moment,
    err_console,
    errors_to_exit,
    load,
    open_db,
)
from auditor.cli.words import Lang, Words
from auditor.errors import ConfigError

if TYPE_CHECKING:
    from rich.progress import Progress

    from auditor.inventory import Agency
    from auditor.reports.models import AgencyReport, SummaryReport
    from auditor.reports.models import Lang as ReportLang
    from auditor.store import Store

app = typer.Typer()
T = TypeVar("T")


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"
    docx = "docx"  # the official yearly report only


class RenderProgress:
    """One line per step on stderr (a spinner while it runs, then its time), only when ``enabled``: a terminal
    watches and --quiet was not given. Disabled, each step just runs."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console = console
        self.progress: Progress | None = None
        if enabled:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(finished_text="✓"),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
            )

    def __enter__(self) -> RenderProgress:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def step(self, description: str, work: Callable[[], T]) -> T:
        if self.progress is None:
            return work()
        task = self.progress.add_task(description, total=1)
        result = work()
        self.progress.update(task, completed=1)
        self.progress.stop_task(task)  # freezes its elapsed time
        return result


@contextmanager
def render_progress(quiet: bool) -> Iterator[RenderProgress]:
    with RenderProgress(err_console, enabled=not quiet and err_console.is_terminal) as progress:
        yield progress


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
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory",
            "-i",
            help="Inventory of the agency report: its contact is named as the owner of the fix-first plan and its "
            "'timezone' (default: the profile's report_timezone) is the local time the report shows; without it, "
            "the owner's name and the time zone the run recorded.",
        ),
    ] = None,
    lang: LangOption = None,
    format: Annotated[
        ReportFormat, typer.Option("--format", help="html (self-contained) or pdf; docx or pdf with --yearly.")
    ] = ReportFormat.html,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write; '-' for stdout.")] = None,
    framework: Annotated[str | None, typer.Option(help="Catalogue to judge against.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Judge attestations and waivers as of this date (YYYY-MM-DD).")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress lines and no 'wrote' line on stderr.")
    ] = False,
    db: DbOption = DEFAULT_DB_URL,
    content_dir: ContentDirOption = None,
) -> None:
    """Write the agency remediation report, or with --summary the department summary, as HTML or PDF; or with
    --yearly the official yearly report as DOCX or PDF."""
    from auditor.reports import build_agency_report, build_summary_report, render_html, render_pdf
    from auditor.reports.owner import agency_owner

    with errors_to_exit(lang) as told:
        if yearly:
            if runs or summary or as_of:
                raise ConfigError(told("report_yearly_no_runs"))
            if lang is Lang.en:
                raise ConfigError(told("report_yearly_vi_only"))
            if inventory is not None:
                raise ConfigError(told("report_summary_no_inventory"))
            with render_progress(quiet) as progress:
                made = _yearly(agency, format, year, report_date, settings, framework, db, content_dir, told, progress)
            _write(made, output, told, quiet)
            return
        if format is ReportFormat.docx:
            raise ConfigError(told("report_docx_yearly_only"))
        if year is not None or report_date is not None or settings is not None:
            raise ConfigError(told("report_yearly_options"))
        if not runs:
            raise ConfigError(told("report_need_run"))
        moment = as_of_moment(as_of) if as_of else None
        content = load(content_dir)
        store = open_db(db)
        report_lang: ReportLang = "en" if told.lang is Lang.en else "vi"
        with render_progress(quiet) as progress:
            model: AgencyReport | SummaryReport
            if summary:
                if agency is not None:
                    raise ConfigError(told("report_summary_no_agency"))
                if inventory is not None:
                    raise ConfigError(told("report_summary_no_inventory"))
                what = told("report_what_summary")
                model = progress.step(
                    told("report_step_read", what=what),
                    lambda: build_summary_report(store, content, runs, report_lang, framework, as_of=moment),
                )
                default_name = f"summary-{model.run_ids[-1]}-{report_lang}.{format.value}"
            else:
                if len(runs) != 1:
                    raise ConfigError(told("report_one_run"))
                run_id, agency_id = _run_and_agency(store, runs[0], agency, told)
                what = agency_id
                owner = agency_owner(store, content.profile, run_id, agency_id, _agency_record(inventory, agency_id))
                if owner.source != "inventory" and not quiet:
                    note = "report_recorded_owner_note" if owner.source == "run" else "report_no_inventory_note"
                    err_console.print(told(note, run=run_id, zone=owner.settings.timezone), style="dim", markup=False)
                model = progress.step(
                    told("report_step_read", what=what),
                    lambda: build_agency_report(
                        store,
                        content,
                        run_id,
                        agency_id,
                        report_lang,
                        framework,
                        as_of=moment,
                        contact=owner.contact,
                        settings=owner.settings,
                    ),
                )
                default_name = f"report-{run_id}-{agency_id}-{report_lang}.{format.value}"
            html = progress.step(told("report_step_html", what=what), lambda: render_html(model))
            if format is ReportFormat.pdf:
                data = progress.step(told("report_step_pdf", what=what), lambda: render_pdf(html))
            else:
                data = html.encode("utf-8")
        _write((data, default_name), output, told, quiet)


def _run_and_agency(store: Store, run_ref: str, agency: str | None, told: Words) -> tuple[str, str]:
    """The run's id, and the agency: the one given, or the run's only one."""
    run = store.get_run(run_ref)
    if agency is not None:
        return run.id, agency
    agencies = sorted({h.agency_id for h in store.list_run_hosts(run.id)})
    if len(agencies) != 1:
        raise ConfigError(told("report_choose_agency", run=run.id, agencies=", ".join(agencies)))
    return run.id, agencies[0]


def _agency_record(inventory: Path | None, agency_id: str) -> Agency | None:
    """The agency as the inventory describes it (validated as every command validates it); None without one."""
    if inventory is None:
        return None
    from auditor.inventory import load_inventory

    return load_inventory(inventory).agency(agency_id)


def _yearly(
    agency: str | None,
    format: ReportFormat,
    year: int | None,
    report_date: str | None,
    settings_file: Path | None,
    framework: str | None,
    db: str,
    content_dir: list[Path] | None,
    told: Words,
    progress: RenderProgress,
) -> tuple[bytes, str]:
    """The official yearly report (the Department's, or with ``agency`` the agency's) and its default file name."""
    from auditor.reports.official import OfficialDocument, build_agency_yearly_report, build_yearly_report
    from auditor.reports.official_docx import render_docx
    from auditor.reports.official_html import render_official_pdf
    from auditor.reports.official_settings import load_settings

    if format is ReportFormat.html:
        raise ConfigError(told("report_yearly_format"))
    settings = load_settings(settings_file)
    if report_date is None:
        issued_on = datetime.now(settings.zone).date()
    else:
        try:
            issued_on = date.fromisoformat(report_date)
        except ValueError:
            raise ConfigError(told("report_bad_date", value=report_date)) from None
    if year is not None and year > issued_on.year:
        raise ConfigError(told("report_year_after_date", year=year, date=issued_on.isoformat()))
    content = load(content_dir)
    store = open_db(db)
    of_year = year or issued_on.year
    what = (
        told("report_what_yearly", year=of_year)
        if agency is None
        else told("report_what_yearly_agency", year=of_year, agency=agency)
    )

    def build() -> OfficialDocument:
        if agency is None:
            return build_yearly_report(store, content, settings, issued_on, year, framework)
        return build_agency_yearly_report(store, content, settings, agency, issued_on, year, framework)

    document = progress.step(told("report_step_read", what=what), build)
    if format is ReportFormat.docx:
        data = progress.step(told("report_step_docx", what=what), lambda: render_docx(document))
    else:
        data = progress.step(told("report_step_pdf", what=what), lambda: render_official_pdf(document))
    return data, f"yearly-{document.year}{f'-{agency}' if agency else ''}.{format.value}"


def _write(made: tuple[bytes, str], output: Path | None, told: Words, quiet: bool) -> None:
    """Write the report to ``output`` ('-': stdout), or to its default name in the working directory."""
    data, default_name = made
    if output is not None and str(output) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    target = output or Path(default_name)
    target.write_bytes(data)
    if not quiet:
        err_console.print(told("report_wrote", path=target, size=len(data)), highlight=False, markup=False)
