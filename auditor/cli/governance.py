"""Commands for manual evidence (attest), governed exceptions (waive) and the level-3 verdict."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from auditor.cli.clock import profile_clock
from auditor.cli.common import (
    DEFAULT_DB_URL,
    AsOfOption,
    DbOption,
    ExitCode,
    LangOption,
    RunArgument,
    as_of_moment,
    console,
    errors_to_exit,
    load,
    open_db,
)
from auditor.cli.known import require_known, require_targets, resolve_run
from auditor.cli.listing import Cell, Column, FormatOption, Listing, OutputFormat, emit
from auditor.errors import ConfigError
from auditor.textsafe import terminal_text

attest_app = typer.Typer(help="Manual evidence: attestations with documents.", no_args_is_help=True)
waive_app = typer.Typer(help="Governed exceptions: waivers with approver and expiry.", no_args_is_help=True)
verdict_app = typer.Typer()


@attest_app.command("import")
def attest_import(
    file: Annotated[Path, typer.Argument(help="YAML or CSV file; document paths are relative to it.")],
    lang: LangOption = None,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """Record attestations (all of the file, or nothing) with their documents, hashed."""
    from auditor.evidence_chain.sealing import seal_attestations
    from auditor.governance.records import prepare_import

    with errors_to_exit(lang) as words:
        content = load(None)
        store = open_db(db)
        now = datetime.now(UTC)
        manual = {check_id for check_id, check in content.checks.items() if check.is_manual}
        prepared = prepare_import(file, manual, store.known_agencies(), now)
        ids = store.record_attestations(prepared, file.name, now)
        seal_attestations(store, ids)
        documents = sum(len(item.documents) for item in prepared)
        console.print(words("attest_recorded", n=len(ids), documents=documents, first=ids[0], last=ids[-1]))


@attest_app.command("list")
def attest_list(
    agency: Annotated[str | None, typer.Option(help="Only this agency.")] = None,
    as_of: AsOfOption = None,
    lang: LangOption = None,
    output: FormatOption = OutputFormat.table,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """List attestations, newest last, with validity as of a moment."""
    with errors_to_exit(lang) as words:
        moment = as_of_moment(as_of, told=words)
        store = open_db(db)
        require_known("--agency", agency, store.known_agencies(), words=words)
        rows: list[dict[str, Cell]] = []
        for item in store.list_attestations(agency, moment):
            rows.append(
                {
                    "id": item.id,
                    "agency_id": item.agency_id,
                    "check_id": item.check_id,
                    "answer": item.answer.value,
                    "attested_by": item.attested_by,
                    "valid_until": item.valid_until.date().isoformat(),
                    "state": "valid" if item.attested_at <= moment <= item.valid_until else "expired",
                    "documents": "; ".join(f"{d.file_name} {d.sha256}" for d in item.documents),
                }
            )
        columns = (
            Column("id", "id", "id"),
            Column("agency_id", words("col_agency"), "id"),
            Column("check_id", words("col_item"), "id"),
            Column("answer", words("col_answer")),
            Column("attested_by", words("col_by")),
            Column("valid_until", words("col_valid_until"), "id"),
            Column("state", words("col_state")),
            Column("documents", words("col_documents")),
        )
        # the table: one heading per agency; a document's hash begun (in full in JSON and CSV); words for people
        styled = [
            {
                "documents": terminal_text(_short_hashes(str(r["documents"]))),
                "answer": Text(words(f"answer_{r['answer']}")),
                "state": Text(words(f"validity_{r['state']}")),
            }
            for r in rows
        ]
        table = [c for c in columns if c.key != "agency_id"]
        listing = Listing(
            title=words("attestations_title"),
            columns=columns,
            rows=rows,
            styled=styled,
            table_columns=table,
            group_by=("agency_id",),
        )
        emit(listing, output)


def _short_hashes(documents: str) -> str:
    return "; ".join(f"{part[:-48]}…" if len(part) > 64 else part for part in documents.split("; ") if part)


@waive_app.command("add")
def waive_add(
    agency: Annotated[str, typer.Option(help="Agency id.")],
    check: Annotated[str, typer.Option(help="Automated check id.")],
    justification: Annotated[str, typer.Option(help="Why the risk is accepted.")],
    compensating_control: Annotated[str, typer.Option(help="What reduces the risk meanwhile.")],
    requested_by: Annotated[str, typer.Option(help="Who asks for the exception.")],
    approved_by: Annotated[str, typer.Option(help="Who approves it (another person).")],
    expires: Annotated[str, typer.Option(help="Last day it applies (YYYY-MM-DD).")],
    hosts: Annotated[str, typer.Option(help="Target names it covers (shell pattern).")] = "*",
    lang: LangOption = None,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """Record a waiver: a failed check accepted, with approver and expiry."""
    from pydantic import ValidationError

    from auditor.evidence_chain.sealing import seal_waiver
    from auditor.governance.records import WaiverRequest
    from auditor.schema_said import error_said

    with errors_to_exit(lang) as words:
        content = load(None)
        if check not in content.checks or content.checks[check].is_manual:
            raise ConfigError(words("not_automated_check", check=check))
        try:
            expires_on = date.fromisoformat(expires)
        except ValueError:
            raise ConfigError(words("waiver_bad_expires", value=expires)) from None
        try:
            request = WaiverRequest(
                agency_id=agency,
                host_pattern=hosts,
                check_id=check,
                justification=justification,
                compensating_control=compensating_control,
                requested_by=requested_by,
                approved_by=approved_by,
                expires_on=expires_on,
            )
        except ValidationError as exc:
            said_errors = [(".".join(map(str, e["loc"])), error_said(e).text(words.lang.value)) for e in exc.errors()]
            problem = "; ".join(f"{field}: {text}" if field else text for field, text in said_errors)
            raise ConfigError(words("waiver_refused", problem=problem)) from None
        store = open_db(db)
        waiver_id = store.add_waiver(request, datetime.now(UTC))
        seal_waiver(store, waiver_id)
        console.print(words("waiver_recorded", id=waiver_id, expires=expires))


@waive_app.command("list")
def waive_list(
    agency: Annotated[str | None, typer.Option(help="Only this agency.")] = None,
    as_of: AsOfOption = None,
    lang: LangOption = None,
    output: FormatOption = OutputFormat.table,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """List waivers with their state as of a moment."""
    with errors_to_exit(lang) as words:
        moment = as_of_moment(as_of, told=words)
        clock = profile_clock()
        store = open_db(db)
        require_known("--agency", agency, store.known_agencies(), words=words)
        rows: list[dict[str, Cell]] = []
        styled: list[dict[str, Text]] = []
        for waiver in store.list_waivers(agency, moment):
            if waiver.revoked_at is not None:
                state = f"revoked {waiver.revoked_at.date().isoformat()}"
                shown = words("waiver_revoked_on", date=clock.local(waiver.revoked_at).date().isoformat())
            else:
                state = "active" if waiver.active(moment) else "expired"
                shown = words(f"validity_{state}")
            styled.append({"state": Text(shown)})
            rows.append(
                {
                    "id": waiver.id,
                    "agency_id": waiver.agency_id,
                    "hosts": waiver.host_pattern,
                    "check_id": waiver.check_id,
                    "requested_by": waiver.requested_by,
                    "approved_by": waiver.approved_by,
                    "expires": waiver.expires_at.date().isoformat(),
                    "state": state,
                }
            )
        columns = (
            Column("id", "id", "id"),
            Column("agency_id", words("col_agency"), "id"),
            Column("check_id", words("col_check"), "id"),
            Column("hosts", words("col_hosts"), "id"),
            Column("expires", words("col_expires"), "id"),
            Column("state", words("col_state")),
            Column("requested_by", words("col_requested_by")),
            Column("approved_by", words("col_approved_by")),
        )
        # the table: one heading per agency; who asked and approved are in JSON and CSV
        table = [c for c in columns if c.key not in ("agency_id", "requested_by", "approved_by")]
        listing = Listing(
            title=words("waivers_title"),
            columns=columns,
            rows=rows,
            styled=styled,
            table_columns=table,
            group_by=("agency_id",),
        )
        emit(listing, output)


@waive_app.command("revoke")
def waive_revoke(
    waiver: Annotated[int, typer.Argument(help="Waiver id.")],
    by: Annotated[str, typer.Option("--by", help="Who revokes it.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    lang: LangOption = None,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """Revoke a waiver (recorded as a new entry; the waiver itself is kept)."""
    from auditor.evidence_chain.sealing import seal_waiver

    with errors_to_exit(lang) as words:
        store = open_db(db)
        store.revoke_waiver(waiver, by, reason, datetime.now(UTC))
        seal_waiver(store, waiver, revoked=True)
        console.print(words("waiver_revoked", id=waiver))


@verdict_app.command("verdict")
def verdict(
    run: RunArgument,
    agency: Annotated[str, typer.Option(help="Agency id.")],
    framework: Annotated[str, typer.Option(help="Catalogue to judge against.")] = "TCVN 11930:2017",
    as_of: AsOfOption = None,
    lang: LangOption = None,
    output: FormatOption = OutputFormat.table,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """Level-3 verdict of one agency: every clause met, with checks plus attestations; waivers shown."""
    from auditor.governance.resolve import OWN_SOURCE, ClauseState, judge_agency

    with errors_to_exit(lang) as words:
        content = load(None)
        require_known("--framework", framework, content.catalogues, words=words)
        catalogue = content.catalogues[framework]
        store = open_db(db)
        run_id = resolve_run(store, run, words)
        require_targets(store, run_id, agency, words=words)
        moment = as_of_moment(as_of, told=words)
        rows = store.list_findings(run_id, agency_id=agency)
        rows += store.external_findings(agency, moment, exclude_run=run_id)  # imported results (auditor import)
        result = judge_agency(agency, catalogue, list(store.resolved_findings(rows, moment).values()))
        headings = {clause.id: clause.heading.get(words.lang) for clause in catalogue.clauses}
        fields: list[dict[str, Cell]] = []
        styled: list[dict[str, Text]] = []
        for row in result.clauses:
            style = "green" if row.state in (ClauseState.met, ClauseState.not_applicable) else "red"
            fields.append(
                {
                    "clause": row.clause,
                    "heading": headings[row.clause],
                    "state": row.state.value,
                    "findings": row.findings,
                    "failed": row.failed,
                    "errors": row.errors,
                    "waived": row.waived,
                    "awaiting": row.awaiting,
                    "sources": ", ".join(row.sources),
                }
            )
            styled.append({"state": Text(words.status(row.state.value), style=style)})
        columns = (
            Column("clause", words("col_clause"), "id"),
            Column("state", words("col_state"), "id"),  # a state name is never split
            Column("findings", words("col_checks_short"), "number"),
            Column("failed", words("col_failed_short"), "number"),
            Column("errors", words("col_errors_short"), "number"),
            Column("waived", words("col_waived_short"), "number"),
            Column("awaiting", words("col_awaiting_short"), "number"),
            Column("heading", words("col_heading")),
            Column("sources", words("col_sources")),
        )
        # the table names sources only when imported results take part; JSON and CSV always carry them
        imported = any(source != OWN_SOURCE for row in result.clauses for source in row.sources)
        table = [c for c in columns if imported or c.key != "sources"]
        title = words("verdict_title", agency=agency, run=run_id, framework=framework, level=catalogue.level)
        emit(Listing(title=title, columns=columns, rows=fields, styled=styled, table_columns=table), output)
        if output is OutputFormat.table:
            sentence = words("verdict_meets" if result.meets_level3 else "verdict_not_met", agency=agency)
            if result.waived:
                sentence += words("verdict_with_waivers", n=result.waived)
            console.print(Text(sentence, style="bold green" if result.meets_level3 else "bold red"))
    raise typer.Exit(ExitCode.ok if result.meets_level3 else ExitCode.failures)
