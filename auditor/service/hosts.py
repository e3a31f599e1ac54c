"""The SSH phase: a bounded pool of host workers; each result is handed over the moment its host finishes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from typing import Protocol

from auditor.errors import CollectorError
from auditor.evaluation.evaluate import host_error_finding
from auditor.evaluation.findings import HostResult, HostStatus
from auditor.evaluation.observations import HostObservations, ProbeRequest
from auditor.inventory import Host
from auditor.messages import shorten
from auditor.service.plan import AgencyPlan, HostPlan

log = logging.getLogger(__name__)


class Collector(Protocol):
    def collect(self, host: Host, requests: Sequence[ProbeRequest]) -> HostObservations: ...


def _now() -> datetime:
    return datetime.now(UTC)


def audit_host(plan: HostPlan, collector: Collector) -> HostResult:
    """Observe one host and judge every planned check; never raises for a host-level failure."""
    started = _now()
    try:
        observed = collector.collect(plan.host, plan.requests())
        findings = plan.judge(observed)
    except CollectorError as exc:
        return error_result(plan, exc.reason, str(exc), started)
    except Exception as exc:  # a bug must cost one host, not the run
        log.exception("unexpected failure auditing %s", plan.host.name)
        return error_result(plan, "internal_error", f"{type(exc).__name__}: {exc}", started)
    return HostResult(
        agency_id=plan.agency.id,
        host_name=plan.host.name,
        address=plan.host.address,
        status=HostStatus.ok,
        facts=observed.facts,
        exec_requests=observed.exec_requests,
        started_at=started,
        finished_at=_now(),
        findings=tuple(findings),
        observations=tuple(observed.observations.values()),
    )


def error_result(plan: HostPlan, reason_code: str, detail: str, started: datetime) -> HostResult:
    detail = shorten(detail, 300)
    findings = [host_error_finding(check, reason_code, detail) for check in plan.to_probe]
    return HostResult(
        agency_id=plan.agency.id,
        host_name=plan.host.name,
        address=plan.host.address,
        status=HostStatus.error,
        error_reason=reason_code,
        error_detail=detail,
        started_at=started,
        finished_at=_now(),
        findings=tuple(sorted([*findings, *plan.decided], key=lambda f: f.check_id)),
    )


def agency_result(plan: AgencyPlan) -> HostResult:
    now = _now()
    return HostResult(
        agency_id=plan.agency.id,
        host_name=plan.target_name,
        kind="agency",
        address="",
        status=HostStatus.ok,
        started_at=now,
        finished_at=now,
        findings=plan.findings,
    )


def _finished_or_interrupted(future: Future[HostResult], plan: HostPlan) -> HostResult:
    if future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return error_result(plan, "interrupted", "run interrupted", _now())


def audit_hosts(
    plans: Sequence[HostPlan],
    collector: Collector,
    concurrency: int,
    on_finished: Callable[[HostPlan, HostResult], None],
    on_started: Callable[[HostPlan], None] | None = None,
) -> bool:
    """Audit every planned host with at most ``concurrency`` at once; returns True when interrupted.

    ``on_finished`` runs in this (the calling) thread as each host finishes, so a crash or kill later in
    the run keeps what it stored; ``on_started`` runs in the worker thread. On KeyboardInterrupt, hosts not
    yet finished are handed over as ``interrupted`` errors and the pool is left without waiting for them.
    """

    def work(plan: HostPlan) -> HostResult:
        if on_started is not None:
            on_started(plan)
        return audit_host(plan, collector)

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="audit")
    pending: dict[Future[HostResult], HostPlan] = {pool.submit(work, plan): plan for plan in plans}
    try:
        for future in as_completed(pending):
            result = future.result()
            on_finished(pending.pop(future), result)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        for future, plan in pending.items():
            on_finished(plan, _finished_or_interrupted(future, plan))
        return True
    pool.shutdown(wait=True)
    return False
