"""`auditor keys`: the installation's signing key (create, rotate, show its public half and fingerprint)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditor.cli.common import LangOption, console, err_console, errors_to_exit
from auditor.errors import ConfigError

if TYPE_CHECKING:
    from auditor.cli.words import Words
    from auditor.evidence_chain.keys import PublicKey

keys_app = typer.Typer(help="The installation's signing key for manifests and bundles.", no_args_is_help=True)

KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="The signing key file (default: ~/.config/auditor/signing_key.pem).",
        envvar="AUDITOR_SIGNING_KEY",
        show_envvar=True,
    ),
]
PassphraseEnvOption = Annotated[
    str | None,
    typer.Option(
        "--passphrase-env",
        help="NAME of the environment variable holding the key's passphrase (never the passphrase itself).",
        metavar="NAME",
    ),
]


class KeyFormat(StrEnum):
    pem = "pem"
    raw = "raw"


KeyFormatOption = Annotated[
    KeyFormat, typer.Option("--format", help="pem, or raw: the 32-byte key in base64 on one line.")
]


def show_public(public: PublicKey, path: Path, format: KeyFormat, words: Words) -> None:
    console.print(words("keys_signing_key", path=path), markup=False)
    console.print(words("keys_fingerprint"), markup=False)
    console.print(f"  {public.fingerprint_grouped}")
    console.print(words("keys_public_key"), markup=False)
    text = public.pem().decode("ascii").rstrip() if format is KeyFormat.pem else public.raw_base64
    console.print(text, markup=False)


@keys_app.command("init")
def keys_init(
    key: KeyOption = None,
    passphrase_env: PassphraseEnvOption = None,
    rotate: Annotated[
        bool,
        typer.Option(
            "--rotate", help="Replace the existing key; its public half is kept in retired-keys/ to verify old runs."
        ),
    ] = False,
    format: KeyFormatOption = KeyFormat.pem,
    lang: LangOption = None,
) -> None:
    """Create the Ed25519 signing key (mode 0600; never overwrites one) and print its public key and fingerprint."""
    from auditor.evidence_chain.keys import RETIRED_DIR, create_key, default_key_path, passphrase_from_env

    with errors_to_exit(lang) as words:
        path = key or default_key_path()
        created = create_key(path, passphrase_from_env(passphrase_env), rotate=rotate)
        if rotate:
            err_console.print(words("keys_rotated", path=path.parent / RETIRED_DIR), markup=False)
        err_console.print(
            words("keys_created_encrypted" if passphrase_env else "keys_created", path=path), markup=False
        )
        show_public(created.public, path, format, words)


@keys_app.command("show")
def keys_show(
    key: KeyOption = None,
    passphrase_env: PassphraseEnvOption = None,
    format: KeyFormatOption = KeyFormat.pem,
    lang: LangOption = None,
) -> None:
    """Print the signing key's public key and fingerprint, and those of retired keys."""
    from auditor.evidence_chain.keys import (
        default_key_path,
        passphrase_from_env,
        public_key_of,
        retired_public_keys,
    )

    with errors_to_exit(lang) as words:
        path = key or default_key_path()
        if not path.exists():
            raise ConfigError(words("keys_none", path=path))
        show_public(public_key_of(path, passphrase_from_env(passphrase_env)), path, format, words)
        for retired in retired_public_keys(path):
            console.print(words("keys_retired", fingerprint=retired.fingerprint_grouped))
