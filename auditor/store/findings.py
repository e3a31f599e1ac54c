"""Reading results: a run's targets and findings, findings resolved "as of" a moment, and changes between runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, select

from auditor.errors import NotFoundError
from auditor.evaluation.findings import HostStatus
from auditor.evaluation.observations import HostFacts
from auditor.governance.resolve import FindingKey, Resolved, resolve
from auditor.said import said
from auditor.store.governance import GovernanceStore
from auditor.store.rows import finding_row
from auditor.store.runs import RunStore
from auditor.store.schema import AgencyRecord, FindingRecord, RunHostRecord
from auditor.store.views import DiffChange, DiffEntry, FindingRow, RunDiff, RunHostRow, empty_status_counts
from auditor.vocabulary import LocalizedText, Status

FAILING: frozenset[Status] = frozenset({Status.failed, Status.error})


def finding_query() -> Select[FindingRecord, str, str]:
    return select(FindingRecord, RunHostRecord.agency_id, RunHostRecord.host_name).join(
        RunHostRecord, RunHostRecord.id == FindingRecord.run_host_id
    )


class FindingStore(RunStore, GovernanceStore):
    def list_run_hosts(self, run_ref: str, agency_id: str | None = None) -> list[RunHostRow]:
        """The run's targets (servers, agency items, services, websites) with their finding counts."""
        run_id = self.resolve_run_id(run_ref)
        per_host = (
            select(FindingRecord.run_host_id, FindingRecord.status, func.count().label("n"))
            .where(FindingRecord.run_id == run_id)
            .group_by(FindingRecord.run_host_id, FindingRecord.status)
        )
        hosts = (
            select(RunHostRecord, AgencyRecord)
            .join(AgencyRecord, AgencyRecord.id == RunHostRecord.agency_id)
            .where(RunHostRecord.run_id == run_id)
            .order_by(RunHostRecord.agency_id, RunHostRecord.host_name)
        )
        if agency_id is not None:
            hosts = hosts.where(RunHostRecord.agency_id == agency_id)
        with self._read() as session:
            rows = session.execute(hosts).all()
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
        query = finding_query().where(FindingRecord.run_id == run_id)
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
            row = session.execute(finding_query().where(FindingRecord.id == finding_id)).first()
        if row is None:
            raise NotFoundError(said("err_no_finding", finding=finding_id))
        return finding_row(row[0], row[1], row[2])

    def resolved_findings(self, findings: Sequence[FindingRow], as_of: datetime) -> dict[int, Resolved]:
        """Attestations and waivers recorded by ``as_of`` applied to ``findings`` (finding id → resolution)."""
        agencies = sorted({f.agency_id for f in findings})
        only = agencies[0] if len(agencies) == 1 else None
        keys = [
            FindingKey(
                finding_id=f.id,
                agency_id=f.agency_id,
                target=f.host_name,
                check_id=f.check_id,
                status=f.status,
                source=f.source,
                requirements=f.requirements if f.source else (),
            )
            for f in findings
        ]
        attestations = self.list_attestations(only, as_of)
        waivers = self.list_waivers(only, as_of)
        return {r.finding_id: r for r in resolve(keys, attestations, waivers, as_of)}

    def diff_runs(self, run_ref: str, previous_ref: str, agency_id: str) -> RunDiff:
        """Pair one agency's findings of two runs by (target, check): what is new, fixed, regressed, still failing,
        or failed before and was not re-checked."""
        run_id = self.resolve_run_id(run_ref)
        previous = self.get_run(previous_ref)
        now = {(f.host_name, f.check_id): f for f in self.list_findings(run_id, agency_id=agency_id)}
        before = {(f.host_name, f.check_id): f for f in self.list_findings(previous.id, agency_id=agency_id)}
        entries = []
        for key in sorted(now.keys() | before.keys()):
            cur, old = now.get(key), before.get(key)
            change = _change(cur.status if cur else None, old.status if old else None)
            if change is None:
                continue
            sample = cur or old
            assert sample is not None  # noqa: S101 - one of the two exists for every key
            entries.append(
                DiffEntry(
                    host_name=key[0],
                    check_id=key[1],
                    severity=sample.severity,
                    change=change,
                    before=old.status if old else None,
                    after=cur.status if cur else None,
                )
            )
        return RunDiff(
            run_id=run_id,
            previous_run_id=previous.id,
            previous_started_at=previous.started_at,
            agency_id=agency_id,
            entries=tuple(entries),
        )


def _change(now: Status | None, before: Status | None) -> DiffChange | None:
    """A pair failing now is new when it was not audited before, regressed when it did not fail before, still
    failing when it did; one that failed before and not now is fixed, or not re-checked when not audited now."""
    now_failing, before_failing = now in FAILING, before in FAILING
    if now_failing:
        if before is None:
            return "new"
        return "still_failing" if before_failing else "regressed"
    if before_failing:
        return "not_rechecked" if now is None else "fixed"
    return None
