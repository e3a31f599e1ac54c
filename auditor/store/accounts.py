"""Portal accounts and sessions. Passwords arrive already hashed (argon2id); session tokens only as their
SHA-256: nothing secret is kept here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from auditor.errors import ConfigError, NotFoundError
from auditor.said import said
from auditor.store.base import StoreBase
from auditor.store.schema import PortalSessionRecord, UserRecord
from auditor.store.views import Role, UserRow


class AccountStore(StoreBase):
    # -- users -------------------------------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        display_name: str,
        role: Role,
        password_hash: str,
        now: datetime,
        agency_id: str | None = None,
        email: str | None = None,
    ) -> UserRow:
        try:
            with self._write() as session:
                record = UserRecord(
                    username=username,
                    display_name=display_name,
                    role=role,
                    agency_id=agency_id,
                    email=email,
                    password_hash=password_hash,
                    disabled=False,
                    failed_logins=0,
                    locked_until=None,
                    created_at=now,
                    password_changed_at=now,
                )
                session.add(record)
                session.flush()
                return UserRow.model_validate(record, from_attributes=True)
        except IntegrityError:
            raise ConfigError(said("err_store_user_exists", user=username)) from None

    def list_users(self) -> list[UserRow]:
        with self._read() as session:
            records = session.scalars(select(UserRecord).order_by(UserRecord.username))
            return [UserRow.model_validate(r, from_attributes=True) for r in records]

    def get_user(self, username: str) -> UserRow:
        with self._read() as session:
            record = session.scalars(select(UserRecord).where(UserRecord.username == username)).first()
            if record is None:
                raise NotFoundError(said("err_store_no_user", user=username))
            return UserRow.model_validate(record, from_attributes=True)

    def password_hash(self, username: str) -> str | None:
        """The stored hash, for the login check only (None: no such user)."""
        with self._read() as session:
            return session.scalars(select(UserRecord.password_hash).where(UserRecord.username == username)).first()

    def update_user(self, username: str, **changes: object) -> UserRow:
        """Change a user's role, agency, password hash, disabled flag or lockout counters."""
        allowed = {"role", "agency_id", "password_hash", "password_changed_at", "disabled", "failed_logins"}
        allowed |= {"locked_until", "display_name", "email"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
        try:
            with self._write() as session:
                record = session.scalars(select(UserRecord).where(UserRecord.username == username)).first()
                if record is None:
                    raise NotFoundError(said("err_store_no_user", user=username))
                for name, value in changes.items():
                    setattr(record, name, value)
                session.flush()
                return UserRow.model_validate(record, from_attributes=True)
        except IntegrityError:
            raise ConfigError(said("err_store_user_agency", user=username)) from None

    # -- sessions ----------------------------------------------------------------------------------------------

    def open_session(self, token_sha256: str, user_id: int, now: datetime, remote_addr: str | None) -> None:
        with self._write() as session:
            session.add(
                PortalSessionRecord(
                    id=token_sha256, user_id=user_id, created_at=now, last_seen_at=now, remote_addr=remote_addr
                )
            )

    def session_user(self, token_sha256: str, now: datetime, idle_s: float) -> UserRow | None:
        """The live session's user, its last activity moved to ``now``; None when unknown, ended, idle longer
        than ``idle_s`` (then it is ended) or its user is disabled."""
        with self._write() as session:
            found = session.execute(
                select(PortalSessionRecord, UserRecord)
                .join(UserRecord, UserRecord.id == PortalSessionRecord.user_id)
                .where(PortalSessionRecord.id == token_sha256, PortalSessionRecord.ended_at.is_(None))
            ).first()
            if found is None:
                return None
            record, user = found
            if (now - record.last_seen_at).total_seconds() > idle_s or user.disabled:
                record.ended_at = now
                return None
            record.last_seen_at = now
            return UserRow.model_validate(user, from_attributes=True)

    def end_session(self, token_sha256: str, now: datetime) -> None:
        with self._write() as session:
            session.execute(
                update(PortalSessionRecord)
                .where(PortalSessionRecord.id == token_sha256, PortalSessionRecord.ended_at.is_(None))
                .values(ended_at=now)
            )

    def end_sessions_of(self, username: str, now: datetime) -> int:
        """End every live session of a user (disabled, password or role changed)."""
        with self._write() as session:
            user_id = session.scalars(select(UserRecord.id).where(UserRecord.username == username)).first()
            if user_id is None:
                return 0
            result = session.execute(
                update(PortalSessionRecord)
                .where(PortalSessionRecord.user_id == user_id, PortalSessionRecord.ended_at.is_(None))
                .values(ended_at=now)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
