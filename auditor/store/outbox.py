"""The mail outbox: a mail is recorded before it is sent, so a failed send is retried and never lost."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from auditor.store.base import StoreBase
from auditor.store.schema import MailRecord
from auditor.store.views import MailRow


class OutboxStore(StoreBase):
    def queue_mail(
        self,
        kind: str,
        to_addr: str,
        subject: str,
        body: str,
        now: datetime,
        *,
        run_id: str | None = None,
        agency_id: str | None = None,
        attachment: tuple[str, bytes] | None = None,
        dedupe_key: str | None = None,
    ) -> MailRow | None:
        """Record a mail to send; None when a mail with the same ``dedupe_key`` was queued before."""
        try:
            with self._write() as session:
                record = MailRecord(
                    kind=kind,
                    dedupe_key=dedupe_key,
                    run_id=run_id,
                    agency_id=agency_id,
                    to_addr=to_addr,
                    subject=subject,
                    body=body,
                    attachment_name=attachment[0] if attachment else None,
                    attachment=attachment[1] if attachment else None,
                    created_at=now,
                    attempts=0,
                    next_attempt_at=now,
                    last_error=None,
                    sent_at=None,
                )
                session.add(record)
                session.flush()
                return MailRow.model_validate(record, from_attributes=True)
        except IntegrityError:
            return None

    def has_mail(self, dedupe_key: str) -> bool:
        """Whether a mail with this ``dedupe_key`` was queued before (sent or not): spares building it again."""
        with self._read() as session:
            found = session.scalars(select(MailRecord.id).where(MailRecord.dedupe_key == dedupe_key).limit(1))
            return found.first() is not None

    def due_mail(self, now: datetime, limit: int = 50) -> list[MailRow]:
        query = (
            select(MailRecord)
            .where(MailRecord.sent_at.is_(None), MailRecord.next_attempt_at <= now)
            .order_by(MailRecord.next_attempt_at, MailRecord.id)
            .limit(limit)
        )
        with self._read() as session:
            return [MailRow.model_validate(r, from_attributes=True) for r in session.scalars(query)]

    def claim_due_mail(self, now: datetime, hold: timedelta, limit: int = 50) -> list[MailRow]:
        """Due mail this process may send: each is claimed by moving its next attempt ``hold`` ahead with a
        compare-and-set, so two portal processes sharing the store never send the same mail. A process that
        dies while sending leaves the claim to expire and the mail due again."""
        claimed: list[MailRow] = []
        for mail in self.due_mail(now, limit=limit):
            with self._write() as session:
                won = session.execute(
                    update(MailRecord)
                    .where(
                        MailRecord.id == mail.id,
                        MailRecord.sent_at.is_(None),
                        MailRecord.next_attempt_at == mail.next_attempt_at,
                    )
                    .values(next_attempt_at=now + hold)
                )
                if won.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(mail)
        return claimed

    def list_mail(self, *, run_id: str | None = None, limit: int = 200) -> list[MailRow]:
        query = select(MailRecord).order_by(MailRecord.id.desc()).limit(limit)
        if run_id is not None:
            query = query.where(MailRecord.run_id == run_id)
        with self._read() as session:
            return [MailRow.model_validate(r, from_attributes=True) for r in session.scalars(query)]

    def mark_sent(self, mail_id: int, now: datetime) -> None:
        with self._write() as session:
            session.execute(
                update(MailRecord)
                .where(MailRecord.id == mail_id)
                .values(sent_at=now, attempts=MailRecord.attempts + 1, last_error=None)
            )

    def mark_failed(self, mail_id: int, error: str, retry_at: datetime) -> None:
        with self._write() as session:
            session.execute(
                update(MailRecord)
                .where(MailRecord.id == mail_id)
                .values(attempts=MailRecord.attempts + 1, last_error=error[:500], next_attempt_at=retry_at)
            )
