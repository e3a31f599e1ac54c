"""Runs: open, close, find and list them, with live counts of their targets and findings."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auditor.errors import NotFoundError, StoreError
from auditor.said import said
from auditor.store.base import StoreBase, escape_like
from auditor.store.rows import aware, run_summary
from auditor.store.schema import FindingRecord, RunHostRecord, RunRecord
from auditor.store.views import RunStatus, RunSummary, TargetCounts, empty_status_counts
from auditor.vocabulary import RunEndReason

IMPORT_KIND = "external"  # runs.options["kind"] of an imported result file (auditor/store/external.py)


def is_audit() -> Any:
    """Runs that audited something, not imports of other tools' results: what "latest", listings, the portal
    and the yearly report speak of. An import is reached by its id and joins a verdict through its findings."""
    kind = RunRecord.options["kind"].as_string()
    return or_(kind.is_(None), kind != IMPORT_KIND)


_SECRET_WORDS = ("password", "passphrase", "secret", "token", "private_key", "credential")
_FINAL_STATUSES = frozenset(set(RunStatus) - {RunStatus.running})
RunCounts = tuple[TargetCounts, dict[str, int]]
STATUS_DETAIL_LIMIT = 1000  # characters of the reason kept with a run


def mark_interrupted(session: Session, run_ids: Sequence[str], reason: RunEndReason) -> list[str]:
    """End these runs as interrupted (for ``reason``), those still ``running`` only; returns the ones it ended."""
    if not run_ids:
        return []
    ended = session.scalars(
        update(RunRecord)
        .where(RunRecord.id.in_(list(run_ids)), RunRecord.status == RunStatus.running.value)
        .values(status=RunStatus.interrupted.value, finished_at=datetime.now(UTC), status_detail=reason.value)
        .returning(RunRecord.id)
    )
    return sorted(ended)


def new_run_id(now: datetime | None = None) -> str:
    """A short id a person can type: ``r-YYYYMMDD-HHMMSS-xxxx`` (UTC, 4 random hex digits)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"r-{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def _check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options must be JSON and carry no secrets (by key name); returns a JSON-normalised copy."""

    def walk(value: Any, path: str) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                lowered = str(key).lower()
                if any(word in lowered for word in _SECRET_WORDS):
                    raise ValueError(f"run options must not carry secrets: {path}{key}")
                walk(item, f"{path}{key}.")
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(item, f"{path}{index}.")

    walk(options, "")
    try:
        normalised: dict[str, Any] = json.loads(json.dumps(dict(options), sort_keys=True))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"run options must be JSON-serialisable: {exc}") from None
    return normalised


class RunStore(StoreBase):
    # -- writes ------------------------------------------------------------------------------------------------

    def start_run(
        self,
        tool_version: str,
        checklist_version: str,
        inventory_sha256: str,
        options: Mapping[str, Any],
        *,
        started_at: datetime | None = None,
    ) -> str:
        """Record a new run (status running), committed before returning its id."""
        clean_options = _check_options(options)
        moment = started_at or datetime.now(UTC)
        for _attempt in range(5):
            run_id = new_run_id(moment)
            try:
                with self._write() as session:
                    session.add(
                        RunRecord(
                            id=run_id,
                            started_at=moment,
                            finished_at=None,
                            status=RunStatus.running.value,
                            tool_version=tool_version,
                            checklist_version=checklist_version,
                            inventory_sha256=inventory_sha256,
                            options=clean_options,
                            counts=None,
                        )
                    )
                return run_id
            except IntegrityError:  # the same second and the same 4 random hex digits: draw again
                continue
        raise StoreError(said("err_store_run_id_exhausted"))

    def finish_run(
        self, run_id: str, status: RunStatus | str = RunStatus.completed, detail: str | None = None
    ) -> RunStatus:
        """Close a run with a final status and, for an abnormal end, the reason; returns the status recorded.

        ``completed`` is recorded as ``completed_with_errors`` when a target of the run ended in error, so that
        every caller closes runs alike. Caches target and finding counts on the run row.
        """
        final = RunStatus(status)
        if final not in _FINAL_STATUSES:
            raise ValueError(f"a run finishes as {', '.join(sorted(_FINAL_STATUSES))}, not {final.value!r}")
        with self._write() as session:
            updated = session.execute(  # a write first: SQLite takes its write lock right away
                update(RunRecord)
                .where(RunRecord.id == run_id)
                .values(
                    status=final.value,
                    finished_at=datetime.now(UTC),
                    status_detail=detail[:STATUS_DETAIL_LIMIT] if detail else None,
                )
                .returning(RunRecord.id)
            ).first()
            if updated is None:
                raise NotFoundError(said("err_no_run", run=run_id))
            targets, findings = self._counts(session, [run_id])[run_id]
            if final is RunStatus.completed and (targets.servers_error or targets.network_error):
                final = RunStatus.completed_with_errors
            session.execute(
                update(RunRecord)
                .where(RunRecord.id == run_id)
                .values(status=final.value, counts={"targets": targets.model_dump(), "findings": findings})
            )
        return final

    def mark_stale_runs(self, older_than: timedelta = timedelta(hours=6)) -> list[str]:
        """Mark ``running`` runs with no activity (start or last saved host) for ``older_than`` as interrupted.

        Nothing calls it on its own: a run without leases (one the command line started) may belong to a live
        process on another machine, and only its owner's silence for that long suggests it is gone."""
        cutoff = datetime.now(UTC) - older_than
        last_host = (
            select(RunHostRecord.run_id, func.max(RunHostRecord.finished_at).label("last"))
            .group_by(RunHostRecord.run_id)
            .subquery()
        )
        with self._write() as session:
            rows = session.execute(
                select(RunRecord.id, RunRecord.started_at, last_host.c.last)
                .outerjoin(last_host, last_host.c.run_id == RunRecord.id)
                .where(RunRecord.status == RunStatus.running.value)
            ).all()
            stale = [
                run_id
                for run_id, started_at, last in rows
                if max(started_at, aware(last) if last is not None else started_at) < cutoff
            ]
            return mark_interrupted(session, stale, RunEndReason.no_activity)

    # -- run id resolution -------------------------------------------------------------------------------------

    def latest_run_id(self) -> str | None:
        with self._read() as session:
            return session.scalars(
                select(RunRecord.id)
                .where(is_audit())
                .order_by(RunRecord.started_at.desc(), RunRecord.id.desc())
                .limit(1)
            ).first()

    def resolve_run_id(self, ref: str) -> str:
        """A full id, a unique prefix of one, or ``latest`` -> the full run id (NotFoundError otherwise)."""
        wanted = ref.strip()
        if not wanted:
            raise NotFoundError(said("err_no_run_id"))
        if wanted.lower() == "latest":
            latest = self.latest_run_id()
            if latest is None:
                raise NotFoundError(said("err_no_runs_yet"))
            return latest
        with self._read() as session:
            if session.get(RunRecord, wanted) is not None:
                return wanted
            matches = list(
                session.scalars(
                    select(RunRecord.id)
                    .where(RunRecord.id.like(f"{escape_like(wanted)}%", escape="\\"))
                    .order_by(RunRecord.id)
                    .limit(6)
                )
            )
        if not matches:
            raise NotFoundError(said("err_no_run_matches", wanted=wanted))
        if len(matches) > 1:
            shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
            raise NotFoundError(said("err_run_ambiguous", wanted=wanted, matches=shown))
        return matches[0]

    # -- reads -------------------------------------------------------------------------------------------------

    def list_runs(self, limit: int = 20) -> list[RunSummary]:
        """The newest runs first."""
        with self._read() as session:
            records = list(
                session.scalars(
                    select(RunRecord)
                    .where(is_audit())
                    .order_by(RunRecord.started_at.desc(), RunRecord.id.desc())
                    .limit(limit)
                )
            )
            counts = self._counts(session, [r.id for r in records])
        return [run_summary(r, *counts[r.id]) for r in records]

    def get_run(self, run_ref: str) -> RunSummary:
        run_id = self.resolve_run_id(run_ref)
        with self._read() as session:
            record = session.get(RunRecord, run_id)
            if record is None:
                raise NotFoundError(said("err_no_run", run=run_id))
            counts = self._counts(session, [run_id])
        return run_summary(record, *counts[run_id])

    def previous_run(self, run_ref: str, agency_id: str) -> str | None:
        """The latest run started before ``run_ref`` that audited ``agency_id`` (any of its targets), or None."""
        run_id = self.resolve_run_id(run_ref)
        with self._read() as session:
            current = session.get(RunRecord, run_id)
            if current is None:
                return None
            return session.scalars(
                select(RunRecord.id)
                .join(RunHostRecord, RunHostRecord.run_id == RunRecord.id)
                .where(
                    RunHostRecord.agency_id == agency_id,
                    is_audit(),
                    or_(
                        RunRecord.started_at < current.started_at,
                        and_(RunRecord.started_at == current.started_at, RunRecord.id < run_id),
                    ),
                )
                .order_by(RunRecord.started_at.desc(), RunRecord.id.desc())
                .limit(1)
            ).first()

    @staticmethod
    def _counts(session: Session, run_ids: list[str]) -> dict[str, RunCounts]:
        """Live counts per run: targets by kind and state (servers apart from the rest), findings per status."""
        if not run_ids:
            return {}
        targets: dict[str, dict[str, int]] = {run_id: {} for run_id in run_ids}
        for run_id, kind, status, n in session.execute(
            select(RunHostRecord.run_id, RunHostRecord.kind, RunHostRecord.status, func.count())
            .where(RunHostRecord.run_id.in_(run_ids))
            .group_by(RunHostRecord.run_id, RunHostRecord.kind, RunHostRecord.status)
        ):
            field = TargetCounts.field_for(kind, status)
            targets[run_id][field] = targets[run_id].get(field, 0) + int(n)
        findings: dict[str, dict[str, int]] = {run_id: empty_status_counts() for run_id in run_ids}
        for run_id, status, n in session.execute(
            select(FindingRecord.run_id, FindingRecord.status, func.count())
            .where(FindingRecord.run_id.in_(run_ids))
            .group_by(FindingRecord.run_id, FindingRecord.status)
        ):
            findings[run_id][status] = int(n)
        return {run_id: (TargetCounts(**targets[run_id]), findings[run_id]) for run_id in run_ids}

    def latest_runs_by_agency(self) -> dict[str, str]:
        """Agency id -> the latest finished run that audited it (what mails and reminders speak of)."""
        query = (
            select(RunHostRecord.agency_id, RunRecord.id, RunRecord.started_at)
            .join(RunRecord, RunRecord.id == RunHostRecord.run_id)
            .where(RunRecord.finished_at.is_not(None), is_audit())
            .distinct()
            .order_by(RunRecord.started_at, RunRecord.id)
        )
        with self._read() as session:
            return {agency_id: run_id for agency_id, run_id, _started in session.execute(query)}  # later runs win
