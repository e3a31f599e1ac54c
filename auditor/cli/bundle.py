"""`auditor bundle` writes a run's offline-verifiable bundle; `auditor verify` checks a bundle (no database) or
the whole store against its manifests. Exit 0: verified; 1: verification failed; 3: bad usage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.text import Text

from auditor.cli.common import (
    DEFAULT_DB_URL,
    ContentDirOption,
    DbOption,
    ExitCode,
    LangOption,
    RunArgument,
    console,
    err_console,
    errors_to_exit,
    load,
    open_db,
)
from auditor.cli.keys import KeyOption, PassphraseEnvOption
from auditor.errors import ConfigError

if TYPE_CHECKING:
    from auditor.cli.words import Words
    from auditor.evidence_chain.keys import PublicKey
    from auditor.evidence_chain.verify import Verdict

app = typer.Typer()
REPORT_LANGS: tuple[Literal["vi", "en"], ...] = ("vi", "en")


@app.command("bundle")
def bundle(
    run: RunArgument,
    output: Annotated[Path, typer.Option("--output", "-o", help="The bundle to write (.zip).")],
    agency: Annotated[str | None, typer.Option("--agency", help="Only this agency's targets and report.")] = None,
    db: DbOption = DEFAULT_DB_URL,
    content_dir: ContentDirOption = None,
    key: KeyOption = None,
    passphrase_env: PassphraseEnvOption = None,
    lang: LangOption = None,
) -> None:
    """Write a run's bundle: signed manifest, public key, findings, evidence bytes and the agency reports."""
    from auditor.cli.known import require_targets, resolve_run
    from auditor.errors import NotFoundError
    from auditor.evidence_chain.bundle import write_bundle
    from auditor.evidence_chain.entries import run_entries
    from auditor.evidence_chain.keys import installation_key
    from auditor.evidence_chain.manifest import parse_manifest
    from auditor.reports import build_agency_report, render_html
    from auditor.reports.owner import agency_owner

    with errors_to_exit(lang) as words:
        store = open_db(db)
        run_id = resolve_run(store, run)
        require_targets(store, run_id, agency)
        try:
            sealed = store.manifest_of("run", run_id)
        except NotFoundError:
            raise ConfigError(words("bundle_no_manifest", run=run_id)) from None
        signing_key = installation_key(key, passphrase_env)
        content = load(content_dir)
        agencies = [agency] if agency else sorted({t.agency_id for t in store.list_run_hosts(run_id)})
        owners = {a: agency_owner(store, content.profile, run_id, a, None) for a in agencies}  # as the run recorded
        reports = [
            (
                f"reports/{agency_id}-{lang}.html",
                render_html(
                    build_agency_report(
                        store,
                        content,
                        run_id,
                        agency_id,
                        lang,
                        contact=owners[agency_id].contact,
                        settings=owners[agency_id].settings,
                    )
                ),
            )
            for agency_id in agencies
            for lang in REPORT_LANGS
        ]
        manifest = parse_manifest(sealed.body)
        write_bundle(
            output,
            sealed,
            manifest,
            run_entries(store.run_material(run_id)),
            [(name, html.encode("utf-8")) for name, html in reports],
            agency=agency,
            key=signing_key,
        )
        wrote = words("bundle_wrote", path=output, run=run_id, sequence=sealed.sequence, reports=len(reports))
        err_console.print(wrote + ("" if manifest.signed else words("bundle_manifest_unsigned")), markup=False)
        if signing_key is None:
            err_console.print(words("bundle_index_unsigned"), markup=False)


@app.command("verify")
def verify(
    file: Annotated[Path | None, typer.Argument(help="A bundle (.zip) to verify offline.")] = None,
    pubkey: Annotated[
        list[Path] | None,
        typer.Option("--pubkey", help="The public key the department recorded (PEM or raw base64); repeatable."),
    ] = None,
    previous: Annotated[
        Path | None, typer.Option("--previous", help="The previous manifest (manifest.json or its bundle).")
    ] = None,
    chain: Annotated[
        Path | None, typer.Option("--chain", help="A chain file: 'SEQUENCE SHA256' per line (see --chain-out).")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Re-check this database (sqlite:///file.db or postgresql://...) instead of a bundle."
        ),
    ] = None,
    chain_out: Annotated[
        Path | None, typer.Option("--chain-out", help="With --db: write the chain file for the department to keep.")
    ] = None,
    key: KeyOption = None,
    lang: LangOption = None,
) -> None:
    """Verify a bundle offline, or with --db every stored run, attestation and waiver against its manifest."""
    from auditor.evidence_chain.verify import read_chain_file, read_previous, verify_bundle

    with errors_to_exit(lang) as words:
        if (file is None) == (db is None):
            raise ConfigError(words("verify_file_or_db"))
        trusted = _read_keys(pubkey or [], words)
        if file is not None:
            if chain_out is not None:
                raise ConfigError(words("verify_chain_out_with_db"))
            if not file.is_file():
                raise ConfigError(words("verify_no_file", path=file))
            verdict = verify_bundle(
                file,
                trusted,
                read_previous(previous) if previous else None,
                read_chain_file(chain) if chain else None,
            )
        else:
            if previous is not None or chain is not None:
                raise ConfigError(words("verify_bundle_options"))
            assert db is not None  # noqa: S101 - checked above
            verdict = _verify_db(db, trusted or _installation_keys(key), chain_out)
    _show(verdict, words)
    raise typer.Exit(ExitCode.ok if verdict.verified else ExitCode.failures)


def _read_keys(paths: list[Path], words: Words) -> list[PublicKey]:
    from auditor.evidence_chain.keys import PublicKey
    from auditor.foreign import os_error_as_is

    keys = []
    for path in paths:
        try:
            keys.append(PublicKey.parse(path.read_bytes()))
        except OSError as exc:
            problem = (
                words("verify_key_file_missing")
                if isinstance(exc, FileNotFoundError)
                else os_error_as_is(exc).text(words.lang.value)
            )
            raise ConfigError(words("verify_pubkey_unreadable", path=path, problem=problem)) from None
        except ConfigError as exc:
            problem = exc.text(words.lang.value)
            raise ConfigError(words("verify_pubkey_unreadable", path=path, problem=problem)) from None
    return keys


def _installation_keys(key: Path | None) -> list[PublicKey]:
    """The installation's current and retired public keys, when it has a key."""
    from auditor.evidence_chain.keys import default_key_path, public_key_of, retired_public_keys

    path = key or default_key_path()
    if not path.exists():
        return []
    return [public_key_of(path), *retired_public_keys(path)]


def _verify_db(url: str, trusted: list[PublicKey], chain_out: Path | None) -> Verdict:
    from auditor.evidence_chain.db_verify import verify_store
    from auditor.said import said

    store = open_db(url)
    verdict = verify_store(store, trusted)
    if not trusted:
        verdict.notes.append(said("verify_no_trusted_key"))
    if chain_out is not None:
        lines = [f"{row.sequence} {row.sha256} {row.kind} {row.subject}\n" for row in store.list_manifests()]
        chain_out.write_text("".join(lines), encoding="utf-8")
        verdict.notes.append(said("verify_wrote_chain", path=str(chain_out), n=len(lines)))
    return verdict


def _show(verdict: Verdict, words: Words) -> None:
    from auditor.textsafe import terminal_text

    for problem in verdict.problem_texts(words.lang.value):
        console.print(Text(f"{words('verify_fail_label')} ", style="bold red") + terminal_text(problem))
    for note in verdict.note_texts(words.lang.value):
        console.print(terminal_text(note))
    if verdict.verified:
        console.print(Text(words("verify_verified"), style="bold green"))
    else:
        console.print(Text(words("verify_not_verified", n=len(verdict.problems)), style="bold red"))
