"""Re-verify: audit again only the touched checks on the touched hosts, through the normal engine."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from auditor import __version__
from auditor.collectors.ssh.collector import SshCollector
from auditor.content.loader import Content
from auditor.evaluation.findings import HostResult
from auditor.inventory import Inventory
from auditor.service.hosts import Collector, run_audit
from auditor.service.plan import plan_host
from auditor.store import Store
from auditor.vocabulary import Status

Verdict = Literal["fixed", "still_failing", "error"]


class CheckVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host_name: str
    check_id: str
    verdict: Verdict
    status: str  # the new finding's status
    observed: str = ""


def reverify(
    store: Store,
    inventory: Inventory,
    content: Content,
    agency_id: str,
    touched: dict[str, list[str]],
    run_options: dict[str, object],
    inventory_sha256: str,
    known_hosts: Path,
    run_id: str | None = None,
    collector: Collector | None = None,
) -> tuple[str, list[CheckVerdict]]:
    """Audit `touched` (host → check ids) into a run (new, or `run_id` to add hosts to); fixed / still failing."""
    agency = inventory.agency(agency_id)
    plans = [
        plan_host(agency, host, content.select(touched[host.name]), content.profile, content.requirements)
        for host in agency.hosts
        if touched.get(host.name)
    ]
    if run_id is None:
        run_id = store.start_run(__version__, content.version, inventory_sha256, run_options)
    results: list[HostResult] = []
    run_audit(run_id, plans, collector or SshCollector(known_hosts), store, on_host_done=results.append)
    return run_id, verdicts(results)


def verdicts(results: Sequence[HostResult]) -> list[CheckVerdict]:
    out = []
    for result in sorted(results, key=lambda r: r.host_name):
        for finding in result.findings:
            verdict: Verdict = (
                "fixed"
                if finding.status is Status.passed
                else "still_failing"
                if finding.status is Status.failed
                else "error"
            )
            out.append(
                CheckVerdict(
                    host_name=result.host_name,
                    check_id=finding.check_id,
                    verdict=verdict,
                    status=finding.status.value,
                    observed=finding.observed[:200],
                )
            )
    return out
