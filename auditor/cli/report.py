"""`auditor report`: the agency remediation report and the department summary, from the store only."""

from __future__ import annotations

import sys
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


@app.command()
def report(
    runs: Annotated[list[str], typer.Argument(help="Run id(s), unique prefixes or 'latest'; several with --summary.")],
    agency: Annotated[str | None, typer.Option("--agency", help="Agency id (agency report).")] = None,
    summary: Annotated[bool, typer.Option("--summary", help="Department summary over the given runs.")] = False,
    lang: Annotated[ReportLang, typer.Option("--lang", help="Report language.")] = ReportLang.vi,
    format: Annotated[ReportFormat, typer.Option("--format", help="html (self-contained) or pdf.")] = ReportFormat.html,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write; '-' for stdout.")] = None,
    framework: Annotated[str | None, typer.Option(help="Catalogue to judge against.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Judge attestations and waivers as of this date (YYYY-MM-DD).")
    ] = None,
    db: DbOption = DEFAULT_DB_URL,
    content_dir: ContentDirOption = None,
) -> None:
    """Write the agency remediation report, or with --summary the department summary, as HTML or PDF."""
    from auditor.reports import build_agency_report, build_summary_report, render_html, render_pdf

    with errors_to_exit():
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
        if output is not None and str(output) == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            return
        target = output or Path(default_name)
        target.write_bytes(data)
        err_console.print(f"wrote {target} ({len(data)} bytes)")
