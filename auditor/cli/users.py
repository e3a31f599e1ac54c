"""`auditor users`: the portal's accounts. No default account and no default password: every account is
made here, with a password typed at a prompt (or read from an environment variable for automation)."""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from typing import Annotated, Literal

import typer

from auditor.cli.common import DEFAULT_DB_URL, DbOption, console, errors_to_exit, open_db
from auditor.cli.listing import Cell, Column, FormatOption, Listing, OutputFormat, emit
from auditor.errors import ConfigError

users_app = typer.Typer(help="Portal accounts: officer, department, agency.", no_args_is_help=True)
RoleName = Literal["officer", "department", "agency"]
PasswordEnvOption = Annotated[
    str | None, typer.Option("--password-env", help="Read the password from this environment variable.")
]


@users_app.callback()
def users() -> None:
    """Portal accounts (passwords hashed with argon2id)."""


def _password(password_env: str | None) -> str:
    if password_env is not None:
        value = os.environ.get(password_env)
        if not value:
            raise ConfigError(f"--password-env {password_env}: the variable is not set")
        return value
    first = typer.prompt("password", hide_input=True)
    if typer.prompt("again", hide_input=True) != first:
        raise ConfigError("the two passwords differ")
    return str(first)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _check_agency(role: str, agency: str | None, known: set[str]) -> None:
    if role == "agency" and agency is None:
        raise ConfigError("an agency account needs --agency ID")
    if role != "agency" and agency is not None:
        raise ConfigError("--agency goes with --role agency only")
    if agency is not None and agency not in known:
        raise ConfigError(
            f"unknown agency {agency!r}: audit it once first (known: {', '.join(sorted(known)) or 'none'})"
        )


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Sign-in name (letters, digits, . _ -).")],
    role: Annotated[RoleName, typer.Option("--role", help="officer, department or agency.")],
    name: Annotated[str, typer.Option("--name", help="The person's name, as pages show it.")],
    agency: Annotated[str | None, typer.Option("--agency", help="The agency of an agency account.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Mail address (reports, reminders).")] = None,
    password_env: PasswordEnvOption = None,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """Create an account."""
    from auditor.portal.accounts import valid_username
    from auditor.portal.security import hash_password

    with errors_to_exit():
        store = open_db(db)
        valid_username(username)
        _check_agency(role, agency, store.known_agencies())
        digest = hash_password(_password(password_env))
        now = _now()
        user = store.add_user(username, name, role, digest, now, agency_id=agency, email=email)
        store.log_activity(_actor(), "user_add", username, now, agency_id=agency, detail={"role": role})
        console.print(f"account {user.username} ({user.role}{', ' + agency if agency else ''}) created")


@users_app.command("list")
def list_users(output: FormatOption = OutputFormat.table, db: DbOption = DEFAULT_DB_URL) -> None:
    """List the accounts."""
    with errors_to_exit():
        now = _now()
        rows: list[dict[str, Cell]] = []
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
        columns = (
            Column("username", "username", "id"),
            Column("name", "name"),
            Column("role", "role"),
            Column("agency_id", "agency", "id"),
            Column("state", "state"),
            Column("created", "created", "id"),
        )
        emit(Listing(title="Accounts", columns=columns, rows=rows), output)


@users_app.command("disable")
def disable(username: str, db: DbOption = DEFAULT_DB_URL) -> None:
    """Disable an account and end its sessions."""
    _change(db, username, "user_disable", disabled=True)


@users_app.command("enable")
def enable(username: str, db: DbOption = DEFAULT_DB_URL) -> None:
    """Enable an account again (also unlocks it)."""
    _change(db, username, "user_enable", disabled=False, failed_logins=0, locked_until=None)


@users_app.command("unlock")
def unlock(username: str, db: DbOption = DEFAULT_DB_URL) -> None:
    """Unlock an account locked by failed sign-ins."""
    _change(db, username, "user_unlock", failed_logins=0, locked_until=None)


@users_app.command("passwd")
def passwd(username: str, password_env: PasswordEnvOption = None, db: DbOption = DEFAULT_DB_URL) -> None:
    """Set a new password (ends the account's sessions)."""
    from auditor.portal.security import hash_password

    with errors_to_exit():
        digest = hash_password(_password(password_env))
    _change(db, username, "user_passwd", password_hash=digest, password_changed_at=_now())


@users_app.command("role")
def role(
    username: str,
    role: Annotated[RoleName, typer.Option("--role", help="officer, department or agency.")],
    agency: Annotated[str | None, typer.Option("--agency", help="The agency of an agency account.")] = None,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """Change an account's role (ends its sessions)."""
    with errors_to_exit():
        _check_agency(role, agency, open_db(db).known_agencies())
    _change(db, username, "user_role", role=role, agency_id=agency)


def _change(db: str, username: str, action: str, **changes: object) -> None:
    with errors_to_exit():
        store = open_db(db)
        now = _now()
        user = store.update_user(username, **changes)
        ended = store.end_sessions_of(username, now) if action != "user_unlock" else 0
        shown = {k: v for k, v in changes.items() if k not in ("password_hash", "password_changed_at")}
        store.log_activity(
            _actor(), action, username, now, agency_id=user.agency_id, detail={**shown, "ended_sessions": ended}
        )
        console.print(
            f"account {username}: {action.removeprefix('user_')} done"
            + (f", {ended} session(s) ended" if ended else "")
        )


def _now() -> datetime:
    return datetime.now(UTC)
