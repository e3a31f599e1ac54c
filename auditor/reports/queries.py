"""Read-only queries the Store does not offer yet (kept here so the store stays untouched)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from auditor.errors import StoreError
from auditor.governance.resolve import FindingKey, Resolved, resolve
from auditor.store import FindingRow, Store
from auditor.store.governance import GovernanceStore
from auditor.store.schema import RunHostRecord, RunRecord


def previous_run_of_agency(store: Store, run_id: str, agency_id: str) -> str | None:
    """The latest run started before ``run_id`` that audited ``agency_id`` (any of its targets), or None."""
    try:
        with Session(store.engine) as session:
            current = session.get(RunRecord, run_id)
            if current is None:
                return None
            return session.scalars(
                select(RunRecord.id)
                .join(RunHostRecord, RunHostRecord.run_id == RunRecord.id)
                .where(
                    RunHostRecord.agency_id == agency_id,
                    or_(
                        RunRecord.started_at < current.started_at,
                        and_(RunRecord.started_at == current.started_at, RunRecord.id < run_id),
                    ),
                )
                .order_by(RunRecord.started_at.desc(), RunRecord.id.desc())
                .limit(1)
            ).first()
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the audit store at {store.url}: {type(exc).__name__}") from None


def resolved_findings(
    store: Store, findings: Sequence[FindingRow], agency_id: str | None, as_of: datetime
) -> dict[int, Resolved]:
    """Attestations and waivers recorded by ``as_of`` applied to ``findings`` (finding id -> resolution)."""
    governance = GovernanceStore(store)
    keys = [
        FindingKey(finding_id=f.id, agency_id=f.agency_id, target=f.host_name, check_id=f.check_id, status=f.status)
        for f in findings
    ]
    attestations = governance.list_attestations(agency_id, as_of)
    waivers = governance.list_waivers(agency_id, as_of)
    return {r.finding_id: r for r in resolve(keys, attestations, waivers, as_of)}
