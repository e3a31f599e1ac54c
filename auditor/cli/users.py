"""`auditor users`: the portal's accounts. No default account and no default password: every account is
made here, with a password typed at a prompt (or read from an environment variable for automation)."""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from auditor.cli.common import DEFAULT_DB_URL, DbOption, LangOption, console, errors_to_exit, open_db
from auditor.cli.listing import Cell, Column, FormatOption, Listing, OutputFormat, emit
from auditor.errors import ConfigError
from auditor.textsafe import terminal_text

if TYPE_CHECKING:
    from rich.text import Text

    from auditor.cli.words import Words

users_app = typer.Typer(help="Portal accounts: officer, department, agency.", no_args_is_help=True)
RoleName = Literal["officer", "department", "agency"]
PasswordEnvOption = Annotated[
    str | None, typer.Option("--password-env", help="Read the password from this environment variable.")
]


@users_app.callback()
def users() -> None:
    """Portal accounts (passwords hashed with argon2id)."""


def _password(password_env: str | None, words: Words) -> str:
    if password_env is not None:
        value = os.environ.get(password_env)
        if not value:
            raise ConfigError(words("users_password_env_unset", name=password_env))
        return value
    first = typer.prompt(words("users_prompt_password"), hide_input=True)
    if typer.prompt(words("users_prompt_again"), hide_input=True) != first:
        raise ConfigError(words("users_passwords_differ"))
    return str(first)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _check_agency(role: str, agency: str | None, known: set[str], words: Words) -> None:
    if role == "agency" and agency is None:
        raise ConfigError(words("users_agency_needed"))
    if role != "agency" and agency is not None:
        raise ConfigError(words("users_agency_only"))
    if agency is not None and agency not in known:
        listed = ", ".join(sorted(known)) or words("known_none")
        raise ConfigError(words("users_unknown_agency", agency=agency, known=listed))


def _role(words: Words, role: str, agency: str | None) -> str:
    """The role as people read it, with an agency account's agency."""
    shown = words(f"users_role_{role}")
    return f"{shown}, {agency}" if agency else shown


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Sign-in name (letters, digits, . _ -).")],
    role: Annotated[RoleName, typer.Option("--role", help="officer, department or agency.")],
    name: Annotated[str, typer.Option("--name", help="The person's name, as pages show it.")],
    agency: Annotated[str | None, typer.Option("--agency", help="The agency of an agency account.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Mail address (reports, reminders).")] = None,
    password_env: PasswordEnvOption = None,
    db: DbOption = DEFAULT_DB_URL,
    lang: LangOption = None,
) -> None:
    """Create an account."""
    from auditor.portal.accounts import valid_username
    from auditor.portal.security import hash_password

    with errors_to_exit(lang) as words:
        store = open_db(db)
        try:
            valid_username(username)
        except ConfigError:  # the same rule, said in the reader's language
            raise ConfigError(words("users_bad_username", username=username)) from None
        _check_agency(role, agency, store.known_agencies(), words)
        digest = hash_password(_password(password_env, words))
        now = _now()
        user = store.add_user(username, name, role, digest, now, agency_id=agency, email=email)
        store.log_activity(_actor(), "user_add", username, now, agency_id=agency, detail={"role": role})
        console.print(
            words("users_created", username=user.username, role=_role(words, user.role, agency)), markup=False
        )


@users_app.command("list")
def list_users(
    output: FormatOption = OutputFormat.table, db: DbOption = DEFAULT_DB_URL, lang: LangOption = None
) -> None:
    """List the accounts. The table names roles and states in words; JSON and CSV keep the machine names."""
    with errors_to_exit(lang) as words:
        now = _now()
        rows: list[dict[str, Cell]] = []
        styled: list[dict[str, Text]] = []
        for user in open_db(db).list_users():
            locked = user.locked_until is not None and user.locked_until > now
            rows.append(
                {
                    "username": user.username,
                    "name": user.display_name,
                    "role": user.role,
                    "agency_id": user.agency_id,
                    "state": "disabled" if user.disabled else "locked" if locked else "active",
                    "created": user.created_at.date().isoformat(),
                }
            )
            styled.append(
                {
                    "role": terminal_text(words(f"users_role_{user.role}")),
                    "state": terminal_text(words(f"users_state_{rows[-1]['state']}")),
                }
            )
        columns = tuple(Column(key, key) for key in ("username", "name", "role", "agency_id", "state", "created"))
        table = (
            Column("username", words("col_username"), "id"),
            Column("name", words("col_person")),
            Column("role", words("col_role")),
            Column("agency_id", words("col_agency"), "id"),
            Column("state", words("col_state")),
            Column("created", words("col_created"), "id"),
        )
        listing = Listing(words("users_title"), columns, rows, styled=styled, table_columns=table)
        emit(listing, output)


@users_app.command("disable")
def disable(username: str, db: DbOption = DEFAULT_DB_URL, lang: LangOption = None) -> None:
    """Disable an account and end its sessions."""
    _change(db, lang, username, "user_disable", disabled=True)


@users_app.command("enable")
def enable(username: str, db: DbOption = DEFAULT_DB_URL, lang: LangOption = None) -> None:
    """Enable an account again (also unlocks it)."""
    _change(db, lang, username, "user_enable", disabled=False, failed_logins=0, locked_until=None)


@users_app.command("unlock")
def unlock(username: str, db: DbOption = DEFAULT_DB_URL, lang: LangOption = None) -> None:
    """Unlock an account locked by failed sign-ins."""
    _change(db, lang, username, "user_unlock", failed_logins=0, locked_until=None)


@users_app.command("passwd")
def passwd(
    username: str, password_env: PasswordEnvOption = None, db: DbOption = DEFAULT_DB_URL, lang: LangOption = None
) -> None:
    """Set a new password (ends the account's sessions)."""
    from auditor.portal.security import hash_password

    with errors_to_exit(lang) as words:
        digest = hash_password(_password(password_env, words))
    _change(db, lang, username, "user_passwd", password_hash=digest, password_changed_at=_now())


@users_app.command("role")
def role(
    username: str,
    role: Annotated[RoleName, typer.Option("--role", help="officer, department or agency.")],
    agency: Annotated[str | None, typer.Option("--agency", help="The agency of an agency account.")] = None,
    db: DbOption = DEFAULT_DB_URL,
    lang: LangOption = None,
) -> None:
    """Change an account's role (ends its sessions)."""
    with errors_to_exit(lang) as words:
        _check_agency(role, agency, open_db(db).known_agencies(), words)
    _change(db, lang, username, "user_role", role=role, agency_id=agency)


def _change(db: str, lang: LangOption, username: str, action: str, **changes: object) -> None:
    with errors_to_exit(lang) as words:
        store = open_db(db)
        now = _now()
        user = store.update_user(username, **changes)
        ended = store.end_sessions_of(username, now) if action != "user_unlock" else 0
        shown = {k: v for k, v in changes.items() if k not in ("password_hash", "password_changed_at")}
        store.log_activity(
            _actor(), action, username, now, agency_id=user.agency_id, detail={**shown, "ended_sessions": ended}
        )
        done = words(f"users_{action.removeprefix('user_')}_done", username=username)
        console.print(done + (words("users_sessions_ended", n=ended) if ended else ""), markup=False)


def _now() -> datetime:
    return datetime.now(UTC)
