"""Re-verify: audit again only the touched checks on the touched hosts, through the audit service."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from auditor.inventory import Inventory
from auditor.service.audit import AuditOptions, AuditScope, AuditService
from auditor.store import FindingRow
from auditor.vocabulary import Only, Status

FixOutcome = Literal["fixed", "still_failing", "error"]


class CheckVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host_name: str
    check_id: str
    verdict: FixOutcome
    status: str  # the new finding's status
    observed: str = ""


def reverify(
    service: AuditService,
    inventory: Inventory,
    inventory_sha256: str,
    agency_id: str,
    touched: dict[str, list[str]],
    known_hosts: Path,
    record: dict[str, Any],
    run_id: str | None = None,
) -> tuple[str, list[CheckVerdict]]:
    """Audit `touched` (host → check ids) over SSH into a run (a new one, or `run_id` to add hosts to), which
    stays open for the caller to close; then say per check whether it is fixed or still failing."""
    scope = AuditScope(
        inventory=inventory,
        inventory_sha256=inventory_sha256,
        agencies=(agency_id,),
        host_checks={host: tuple(checks) for host, checks in touched.items() if checks},
        only=Only.ssh,
    )
    options = AuditOptions(known_hosts=known_hosts, append_to=run_id, leave_open=True, record=record)
    run_id = service.start_audit(scope, options)
    rows = [
        row
        for row in service.store.list_findings(run_id, agency_id=agency_id)
        if row.check_id in touched.get(row.host_name, ())
    ]
    return run_id, verdicts(rows)


def verdicts(rows: Sequence[FindingRow]) -> list[CheckVerdict]:
    out = []
    for row in sorted(rows, key=lambda r: (r.host_name, r.check_id)):
        verdict: FixOutcome = (
            "fixed" if row.status is Status.passed else "still_failing" if row.status is Status.failed else "error"
        )
        out.append(
            CheckVerdict(
                host_name=row.host_name,
                check_id=row.check_id,
                verdict=verdict,
                status=row.status.value,
                observed=row.observed[:200],
            )
        )
    return out
