"""`auditor import`: bring another tool's results (OpenSCAP ARF/XCCDF, Lynis report.dat) into an agency's history."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from auditor import __version__
from auditor.cli.common import (
    DEFAULT_DB_URL,
    ContentDirOption,
    DbOption,
    LangOption,
    console,
    errors_to_exit,
    load,
    open_db,
)
from auditor.errors import ConfigError, NotFoundError
from auditor.said import Said, said
from auditor.textsafe import terminal_text

if TYPE_CHECKING:
    from auditor.content.loader import Content
    from auditor.external.mapping import ToolMapping
    from auditor.inventory import Agency

app = typer.Typer(add_completion=False)


class ToolChoice(StrEnum):
    openscap = "openscap"
    lynis = "lynis"


class ImportFormat(StrEnum):
    table = "table"
    json = "json"


def _mapping(content: Content, content_dirs: list[Path] | None, tool: ToolChoice) -> ToolMapping:
    """The tool's mapping from the last content directory that has one (an organisation's own wins)."""
    from auditor.content.loader import builtin_content_dir
    from auditor.external.mapping import load_mapping, mapping_path

    candidates = [mapping_path(d, tool.value) for d in [builtin_content_dir(), *(content_dirs or [])]]
    found = [p for p in candidates if p.is_file()]
    if not found:
        raise ConfigError(said("err_import_no_mapping", tool=tool.value, candidates=", ".join(map(str, candidates))))
    return load_mapping(found[-1], tool.value, content.catalogues)


def _agency_host(inventory: Path | None, agency_id: str, host_name: str) -> tuple[Agency | None, str]:
    """The inventory's agency and the host's address; without an inventory, the host name stands for its address."""
    if inventory is None:
        return None, host_name
    from auditor.inventory import load_inventory

    inv = load_inventory(inventory)
    agency = next((a for a in inv.agencies if a.id == agency_id), None)
    if agency is None:
        known: str | Said = ", ".join(a.id for a in inv.agencies) or said("known_none")
        raise NotFoundError(said("err_import_no_agency", inventory=inventory, agency=agency_id, known=known))
    host = next((h for h in agency.hosts if h.name == host_name), None)
    if host is None:
        known = ", ".join(h.name for h in agency.hosts) or said("known_none")
        raise NotFoundError(
            said("err_import_no_host", inventory=inventory, agency=agency_id, host=host_name, known=known)
        )
    return agency, host.address


@app.command("import")
def import_results(
    file: Annotated[Path, typer.Argument(help="The results file: OpenSCAP ARF or XCCDF results, or Lynis report.dat.")],
    tool: Annotated[ToolChoice, typer.Option("--tool", help="The tool that wrote the file.")],
    agency: Annotated[str, typer.Option(help="Agency id.")],
    host: Annotated[str, typer.Option(help="The host the results are about (its name in the inventory).")],
    inventory: Annotated[
        Path | None, typer.Option("--inventory", "-i", help="Inventory naming the agency and host (else: the store's).")
    ] = None,
    max_size: Annotated[
        int, typer.Option("--max-size", min=1, help="Refuse a results file larger than this many bytes.")
    ] = 64 * 1024 * 1024,
    content_dir: ContentDirOption = None,
    output: Annotated[ImportFormat, typer.Option("--format", help="table or json.")] = ImportFormat.table,
    lang: LangOption = None,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """Record another tool's results as findings of source external:<tool>, mapped to TCVN clauses; results the
    mapping does not know are kept and counted as unmapped. A malformed or hostile file is refused whole."""
    from auditor.external.record import build_import, read_report
    from auditor.messages import phrase

    with errors_to_exit(lang) as words:
        for option, value in (("--agency", agency), ("--host", host)):
            if not value or len(value) > 64 or not all(c.isalnum() or c in "-_." for c in value):
                raise ConfigError(said("err_import_bad_id", option=option, value=terminal_text(value)))
        content = load(content_dir)
        mapping = _mapping(content, content_dir, tool)
        agency_record, address = _agency_host(inventory, agency, host)
        report, data = read_report(file, tool.value, max_size)
        imported = build_import(report, mapping, agency, host, file.name, data)
        store = open_db(db)
        run_id = store.save_external_import(
            imported,
            address=address,
            tool_version=__version__,
            checklist_version=content.version,
            agency=agency_record,
        )
        from auditor.evidence_chain.sealing import ChainSealer, seal_quietly

        seal_quietly(lambda: ChainSealer().seal_run(store, run_id, content, None))  # signed like any other run
        counts = imported.status_counts()
        summary = {
            "run_id": run_id,
            "source": imported.source,
            "agency_id": agency,
            "host_name": host,
            "file": file.name,
            "file_sha256": imported.file_sha256,
            "target_in_file": report.target,
            "results": len(imported.findings),
            "mapped": imported.mapped,
            "unmapped": imported.unmapped,
            "skipped": report.skipped,
            "statuses": counts,
        }
        if output is ImportFormat.json:
            print(json.dumps(summary, ensure_ascii=False, indent=2))
            return
        lang_code = words.lang.value
        imported_words = phrase(
            "external",
            "cli.imported",
            file=terminal_text(file.name),
            tool=mapping.name,
            agency=agency,
            host=host,
            run=run_id,
            results=len(imported.findings),
            mapped=imported.mapped,
            unmapped=imported.unmapped,
            skipped=report.skipped,
        )
        console.print(Text(imported_words.get(lang_code)))
        listed = ", ".join(f"{words.status(status)} {n}" for status, n in sorted(counts.items()))
        console.print(Text(phrase("external", "cli.statuses", counts=listed).get(lang_code)))
        if report.target and report.target != host:
            note = phrase("external", "cli.other_target", target=terminal_text(report.target), host=host)
            console.print(Text(note.get(lang_code), style="yellow"))
