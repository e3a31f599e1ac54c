"""The Store: writes one committed transaction per host and reads pydantic views back."""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from auditor.errors import NotFoundError, StoreError
from auditor.evaluation.findings import HostResult, HostStatus
from auditor.evaluation.observations import HostFacts
from auditor.inventory import Agency
from auditor.store.rows import (
    EXPORT_TEXT_CAP,
    aware,
    evidence_row,
    export_stream,
    finding_row,
    recompute_sha256,
    run_summary,
)
from auditor.store.schema import AgencyRecord, EvidenceRecord, FindingRecord, RunHostRecord, RunRecord
from auditor.store.views import (
    EvidenceRow,
    FindingRow,
    RunHostRow,
    RunStatus,
    RunSummary,
    empty_status_counts,
)
from auditor.vocabulary import LocalizedText, Status

EXPORT_FORMAT = "auditor-run-export"
EXPORT_FORMAT_VERSION = 1
_SECRET_WORDS = ("password", "passphrase", "secret", "token", "private_key", "credential")
_FINAL_STATUSES = frozenset({RunStatus.completed, RunStatus.interrupted, RunStatus.failed})


def new_run_id(now: datetime | None = None) -> str:
    """A short id a person can type: ``r-YYYYMMDD-HHMMSS-xxxx`` (UTC, 4 random hex digits)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"r-{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


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


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Store:
    """The audit store. Thread-safe: each call uses its own short session; writes are serialised on SQLite."""

    def __init__(self, engine: Engine, display_url: str | None = None) -> None:
        self.engine = engine
        self.url = display_url or engine.url.render_as_string(hide_password=True)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._is_sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer at a time; taking the lock in-process avoids busy waits between our own threads.
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if self._is_sqlite else contextlib.nullcontext()
        )

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    @contextlib.contextmanager
    def _read(self) -> Iterator[Session]:
        try:
            with self._sessions() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the audit store at {self.url}: {_reason(exc)}") from None

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        """One transaction, committed on leaving the block (rolled back on any error)."""
        try:
            with self._write_lock, self._sessions() as session, session.begin():
                yield session
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot write to the audit store at {self.url}: {_reason(exc)}") from None

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
        moment = started_at or _utcnow()
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
        raise StoreError("could not allocate a unique run id")

    def save_host_result(self, run_id: str, agency: Agency, result: HostResult) -> int:
        """Store one finished host in ONE committed transaction; returns the run_hosts id.

        Upserts the agency (latest names win), then writes the host row, one evidence row per observation and
        one finding row per finding, linked to the evidence whose probe_id is the finding's evidence_probe_id.
        """
        if result.agency_id != agency.id:
            raise ValueError(f"host {result.host_name!r} belongs to agency {result.agency_id!r}, not {agency.id!r}")
        probe_ids = [obs.probe_id for obs in result.observations]
        duplicates = sorted({p for p in probe_ids if probe_ids.count(p) > 1})
        if duplicates:
            raise ValueError(f"host {result.host_name!r}: duplicate observation probe ids: {', '.join(duplicates)}")
        known = set(probe_ids)
        dangling = sorted(
            f"{f.check_id} -> {f.evidence_probe_id}"
            for f in result.findings
            if f.evidence_probe_id is not None and f.evidence_probe_id not in known
        )
        if dangling:
            raise ValueError(f"host {result.host_name!r}: findings cite evidence that is not there: {dangling}")

        try:
            with self._write() as session:
                self._upsert_agency(session, agency)  # a write first: SQLite takes its write lock right away
                if session.get(RunRecord, run_id) is None:
                    raise NotFoundError(f"no run {run_id!r}")
                host = RunHostRecord(
                    run_id=run_id,
                    agency_id=agency.id,
                    host_name=result.host_name,
                    kind=result.kind,
                    address=result.address,
                    status=result.status.value,
                    error_reason=result.error_reason,
                    error_detail=result.error_detail,
                    facts=result.facts.model_dump(mode="json") if result.facts is not None else None,
                    exec_requests=result.exec_requests,
                    started_at=result.started_at,
                    finished_at=result.finished_at,
                )
                session.add(host)
                session.flush()
                evidence_ids: dict[str, int] = {}
                for obs in result.observations:
                    record = EvidenceRecord(
                        run_host_id=host.id,
                        probe_id=obs.probe_id,
                        command=obs.command,
                        outcome=obs.outcome.value,
                        exit_code=obs.exit_code,
                        stdout=obs.stdout,
                        stderr=obs.stderr,
                        sha256=obs.sha256,
                        duration_s=obs.duration_s,
                        truncated=obs.truncated,
                        collected_at=obs.collected_at,
                    )
                    session.add(record)
                    session.flush()
                    evidence_ids[obs.probe_id] = record.id
                session.add_all(
                    FindingRecord(
                        run_id=run_id,
                        run_host_id=host.id,
                        check_id=finding.check_id,
                        status=finding.status.value,
                        severity=finding.severity.value,
                        observed=finding.observed,
                        expected=finding.expected,
                        configured=finding.configured,
                        reason_vi=finding.reason.vi,
                        reason_en=finding.reason.en,
                        requirements=[req.model_dump(mode="json") for req in finding.requirements],
                        evidence_id=evidence_ids.get(finding.evidence_probe_id) if finding.evidence_probe_id else None,
                    )
                    for finding in result.findings
                )
                session.flush()
                host_id = host.id
        except IntegrityError as exc:
            raise StoreError(
                f"cannot save host {result.host_name!r} for run {run_id!r} "
                f"(already saved, or inconsistent data): {_reason(exc)}"
            ) from None
        return host_id

    def _upsert_agency(self, session: Session, agency: Agency) -> None:
        values = {"id": agency.id, "name_vi": agency.name.vi, "name_en": agency.name.en}
        if self._is_sqlite:
            sqlite_stmt = sqlite.insert(AgencyRecord).values(values)
            session.execute(
                sqlite_stmt.on_conflict_do_update(
                    index_elements=["id"],
                    set_={"name_vi": sqlite_stmt.excluded.name_vi, "name_en": sqlite_stmt.excluded.name_en},
                )
            )
        else:
            pg_stmt = postgresql.insert(AgencyRecord).values(values)
            session.execute(
                pg_stmt.on_conflict_do_update(
                    index_elements=["id"],
                    set_={"name_vi": pg_stmt.excluded.name_vi, "name_en": pg_stmt.excluded.name_en},
                )
            )

    def finish_run(self, run_id: str, status: RunStatus | str = RunStatus.completed) -> None:
        """Close a run: completed, interrupted or failed. Caches host and finding counts on the run row."""
        final = RunStatus(status)
        if final not in _FINAL_STATUSES:
            raise ValueError(f"a run finishes as completed, interrupted or failed, not {final.value!r}")
        with self._write() as session:
            updated = session.execute(
                update(RunRecord)
                .where(RunRecord.id == run_id)
                .values(status=final.value, finished_at=_utcnow())
                .returning(RunRecord.id)
            ).first()
            if updated is None:
                raise NotFoundError(f"no run {run_id!r}")
            hosts_ok, hosts_error, findings = self._counts(session, [run_id])[run_id]
            session.execute(
                update(RunRecord)
                .where(RunRecord.id == run_id)
                .values(counts={"hosts_ok": hosts_ok, "hosts_error": hosts_error, "findings": findings})
            )

    def mark_stale_runs(self, older_than: timedelta = timedelta(hours=6)) -> list[str]:
        """Mark ``running`` runs with no activity (start or last saved host) for ``older_than`` as interrupted."""
        cutoff = _utcnow() - older_than
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
            if stale:
                session.execute(
                    update(RunRecord)
                    .where(RunRecord.id.in_(stale), RunRecord.status == RunStatus.running.value)
                    .values(status=RunStatus.interrupted.value, finished_at=_utcnow())
                )
        return sorted(stale)

    # -- run id resolution -------------------------------------------------------------------------------------

    def latest_run_id(self) -> str | None:
        with self._read() as session:
            return session.scalars(
                select(RunRecord.id).order_by(RunRecord.started_at.desc(), RunRecord.id.desc()).limit(1)
            ).first()

    def resolve_run_id(self, ref: str) -> str:
        """A full id, a unique prefix of one, or ``latest`` -> the full run id (NotFoundError otherwise)."""
        wanted = ref.strip()
        if not wanted:
            raise NotFoundError("no run id given")
        if wanted.lower() == "latest":
            latest = self.latest_run_id()
            if latest is None:
                raise NotFoundError("there are no runs yet")
            return latest
        with self._read() as session:
            if session.get(RunRecord, wanted) is not None:
                return wanted
            matches = list(
                session.scalars(
                    select(RunRecord.id)
                    .where(RunRecord.id.like(f"{_escape_like(wanted)}%", escape="\\"))
                    .order_by(RunRecord.id)
                    .limit(6)
                )
            )
        if not matches:
            raise NotFoundError(f"no run matches {wanted!r}")
        if len(matches) > 1:
            shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
            raise NotFoundError(f"run id {wanted!r} is ambiguous: {shown}")
        return matches[0]

    # -- reads -------------------------------------------------------------------------------------------------

    def list_runs(self, limit: int = 20) -> list[RunSummary]:
        """The newest runs first."""
        with self._read() as session:
            records = list(
                session.scalars(
                    select(RunRecord).order_by(RunRecord.started_at.desc(), RunRecord.id.desc()).limit(limit)
                )
            )
            counts = self._counts(session, [r.id for r in records])
        return [run_summary(r, counts[r.id]) for r in records]

    def get_run(self, run_ref: str) -> RunSummary:
        run_id = self.resolve_run_id(run_ref)
        with self._read() as session:
            record = session.get(RunRecord, run_id)
            if record is None:
                raise NotFoundError(f"no run {run_id!r}")
            counts = self._counts(session, [run_id])
        return run_summary(record, counts[run_id])

    def list_run_hosts(self, run_ref: str) -> list[RunHostRow]:
        run_id = self.resolve_run_id(run_ref)
        per_host = (
            select(FindingRecord.run_host_id, FindingRecord.status, func.count().label("n"))
            .where(FindingRecord.run_id == run_id)
            .group_by(FindingRecord.run_host_id, FindingRecord.status)
        )
        with self._read() as session:
            rows = session.execute(
                select(RunHostRecord, AgencyRecord)
                .join(AgencyRecord, AgencyRecord.id == RunHostRecord.agency_id)
                .where(RunHostRecord.run_id == run_id)
                .order_by(RunHostRecord.agency_id, RunHostRecord.host_name)
            ).all()
            finding_counts: dict[int, dict[str, int]] = {}
            for host_id, status, n in session.execute(per_host):
                finding_counts.setdefault(host_id, empty_status_counts())[status] = n
        return [
            RunHostRow(
                id=host.id,
                run_id=host.run_id,
                agency_id=host.agency_id,
                agency_name=LocalizedText(vi=agency.name_vi, en=agency.name_en),
                host_name=host.host_name,
                kind=host.kind,
                address=host.address,
                status=HostStatus(host.status),
                error_reason=host.error_reason,
                error_detail=host.error_detail,
                facts=HostFacts.model_validate(host.facts) if host.facts is not None else None,
                exec_requests=host.exec_requests,
                started_at=host.started_at,
                finished_at=host.finished_at,
                finding_counts=finding_counts.get(host.id, empty_status_counts()),
            )
            for host, agency in rows
        ]

    def list_findings(
        self,
        run_ref: str,
        status: Status | str | None = None,
        agency_id: str | None = None,
        host_name: str | None = None,
        check_id: str | None = None,
    ) -> list[FindingRow]:
        """Findings of one run, ordered by agency, host and check; each filter narrows when given."""
        run_id = self.resolve_run_id(run_ref)
        query = self._finding_query().where(FindingRecord.run_id == run_id)
        if status is not None:
            query = query.where(FindingRecord.status == Status(status).value)
        if agency_id is not None:
            query = query.where(RunHostRecord.agency_id == agency_id)
        if host_name is not None:
            query = query.where(RunHostRecord.host_name == host_name)
        if check_id is not None:
            query = query.where(FindingRecord.check_id == check_id)
        query = query.order_by(RunHostRecord.agency_id, RunHostRecord.host_name, FindingRecord.check_id)
        with self._read() as session:
            rows = session.execute(query).all()
        return [finding_row(row[0], row[1], row[2]) for row in rows]

    def get_finding(self, finding_id: int) -> FindingRow:
        with self._read() as session:
            row = session.execute(self._finding_query().where(FindingRecord.id == finding_id)).first()
        if row is None:
            raise NotFoundError(f"no finding {finding_id}")
        return finding_row(row[0], row[1], row[2])

    def get_evidence(self, finding_id: int) -> EvidenceRow:
        """The evidence backing a finding; NotFoundError when the finding does not exist or cites none."""
        with self._read() as session:
            finding = session.get(FindingRecord, finding_id)
            if finding is None:
                raise NotFoundError(f"no finding {finding_id}")
            if finding.evidence_id is None:
                raise NotFoundError(f"finding {finding_id} ({finding.check_id}) has no evidence")
            row = session.execute(self._evidence_query().where(EvidenceRecord.id == finding.evidence_id)).first()
        if row is None:  # pragma: no cover - the foreign key prevents it
            raise NotFoundError(f"no evidence for finding {finding_id}")
        return evidence_row(row[0], row[1], row[2], row[3])

    def get_evidence_by_id(self, evidence_id: int) -> EvidenceRow:
        with self._read() as session:
            row = session.execute(self._evidence_query().where(EvidenceRecord.id == evidence_id)).first()
        if row is None:
            raise NotFoundError(f"no evidence {evidence_id}")
        return evidence_row(row[0], row[1], row[2], row[3])

    def verify_evidence(self, evidence_id: int) -> bool:
        """Recompute the stored evidence hash exactly as Observation.sha256 does and compare it."""
        with self._read() as session:
            record = session.get(EvidenceRecord, evidence_id)
            if record is None:
                raise NotFoundError(f"no evidence {evidence_id}")
            return secrets.compare_digest(recompute_sha256(record), record.sha256)

    def export_run(self, run_ref: str) -> dict[str, Any]:
        """A canonical, JSON-ready dump of one run (evidence text capped at 64 KiB per stream)."""
        run = self.get_run(run_ref)
        hosts = self.list_run_hosts(run.id)
        findings = self.list_findings(run.id)
        capped = func.substr
        with self._read() as session:
            evidence_rows = session.execute(
                select(
                    EvidenceRecord.id,
                    RunHostRecord.agency_id,
                    RunHostRecord.host_name,
                    EvidenceRecord.probe_id,
                    EvidenceRecord.command,
                    EvidenceRecord.outcome,
                    EvidenceRecord.exit_code,
                    EvidenceRecord.sha256,
                    EvidenceRecord.duration_s,
                    EvidenceRecord.truncated,
                    EvidenceRecord.collected_at,
                    func.length(EvidenceRecord.stdout),
                    func.length(EvidenceRecord.stderr),
                    capped(EvidenceRecord.stdout, 1, EXPORT_TEXT_CAP, type_=EvidenceRecord.stdout.type),
                    capped(EvidenceRecord.stderr, 1, EXPORT_TEXT_CAP, type_=EvidenceRecord.stderr.type),
                )
                .join(RunHostRecord, RunHostRecord.id == EvidenceRecord.run_host_id)
                .where(RunHostRecord.run_id == run.id)
                .order_by(RunHostRecord.agency_id, RunHostRecord.host_name, EvidenceRecord.probe_id)
            ).all()
        agencies = {h.agency_id: h.agency_name for h in hosts}
        return {
            "format": EXPORT_FORMAT,
            "format_version": EXPORT_FORMAT_VERSION,
            "run": run.model_dump(mode="json"),
            "agencies": [{"id": aid, "name": agencies[aid].model_dump(mode="json")} for aid in sorted(agencies)],
            "hosts": [h.model_dump(mode="json", exclude={"agency_name"}) for h in hosts],
            "findings": [f.model_dump(mode="json") for f in findings],
            "evidence": [
                {
                    "id": eid,
                    "agency_id": agency_id,
                    "host_name": host_name,
                    "probe_id": probe_id,
                    "command": command,
                    "outcome": outcome,
                    "exit_code": exit_code,
                    "sha256": sha256,
                    "duration_s": duration_s,
                    "truncated": bool(truncated),
                    "collected_at": aware(collected_at).isoformat().replace("+00:00", "Z"),  # as pydantic writes
                    "stdout": export_stream(bytes(out_head or b""), int(out_len or 0)),
                    "stderr": export_stream(bytes(err_head or b""), int(err_len or 0)),
                }
                for (
                    eid,
                    agency_id,
                    host_name,
                    probe_id,
                    command,
                    outcome,
                    exit_code,
                    sha256,
                    duration_s,
                    truncated,
                    collected_at,
                    out_len,
                    err_len,
                    out_head,
                    err_head,
                ) in evidence_rows
            ],
        }

    # -- helpers -----------------------------------------------------------------------------------------------

    @staticmethod
    def _finding_query() -> Select[FindingRecord, str, str]:
        return select(FindingRecord, RunHostRecord.agency_id, RunHostRecord.host_name).join(
            RunHostRecord, RunHostRecord.id == FindingRecord.run_host_id
        )

    @staticmethod
    def _evidence_query() -> Select[EvidenceRecord, str, str, str]:
        return select(EvidenceRecord, RunHostRecord.run_id, RunHostRecord.agency_id, RunHostRecord.host_name).join(
            RunHostRecord, RunHostRecord.id == EvidenceRecord.run_host_id
        )

    @staticmethod
    def _counts(session: Session, run_ids: list[str]) -> dict[str, tuple[int, int, dict[str, int]]]:
        """Live counts per run: (hosts ok, hosts error, findings per status)."""
        result: dict[str, tuple[int, int, dict[str, int]]] = {}
        if not run_ids:
            return result
        hosts: dict[str, tuple[int, int]] = {}
        for run_id, ok, error in session.execute(
            select(
                RunHostRecord.run_id,
                func.sum(case((RunHostRecord.status == HostStatus.ok.value, 1), else_=0)),
                func.sum(case((RunHostRecord.status == HostStatus.error.value, 1), else_=0)),
            )
            .where(RunHostRecord.run_id.in_(run_ids))
            .group_by(RunHostRecord.run_id)
        ):
            hosts[run_id] = (int(ok or 0), int(error or 0))
        findings: dict[str, dict[str, int]] = {run_id: empty_status_counts() for run_id in run_ids}
        for run_id, status, n in session.execute(
            select(FindingRecord.run_id, FindingRecord.status, func.count())
            .where(FindingRecord.run_id.in_(run_ids))
            .group_by(FindingRecord.run_id, FindingRecord.status)
        ):
            findings[run_id][status] = int(n)
        for run_id in run_ids:
            ok, error = hosts.get(run_id, (0, 0))
            result[run_id] = (ok, error, findings[run_id])
        return result


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
