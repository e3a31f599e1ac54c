"""Run an audit: a bounded pool of host workers; each host is stored the moment it finishes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from auditor.errors import CollectorError
from auditor.evaluation.evaluate import evaluate, host_error_finding
from auditor.evaluation.findings import HostResult, HostStatus
from auditor.evaluation.observations import HostObservations, ProbeRequest
from auditor.inventory import Agency, Host
from auditor.messages import shorten
from auditor.service.plan import AgencyPlan, HostPlan
from auditor.vocabulary import Status

log = logging.getLogger(__name__)


class Collector(Protocol):
    def collect(self, host: Host, requests: Sequence[ProbeRequest]) -> HostObservations: ...


class ResultSink(Protocol):
    def save_host_result(self, run_id: str, agency: Agency, result: HostResult) -> object: ...


@dataclass
class RunTally:
    hosts_ok: int = 0
    hosts_error: int = 0
    by_status: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))
    interrupted: bool = False

    def add(self, result: HostResult, count_target: bool = True) -> None:
        if count_target and result.status is HostStatus.ok:
            self.hosts_ok += 1
        elif count_target:
            self.hosts_error += 1
        for finding in result.findings:
            self.by_status[finding.status] += 1


def _now() -> datetime:
    return datetime.now(UTC)


def audit_host(plan: HostPlan, collector: Collector) -> HostResult:
    """Observe one host and judge every planned check; never raises for a host-level failure."""
    started = _now()
    try:
        observed = collector.collect(plan.host, plan.requests())
        findings = [
            evaluate(check, observed.observations.get(check.id), observed.facts, plan.inputs) for check in plan.to_probe
        ]
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
        findings=plan.with_requirements([*findings, *plan.decided]),
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
        findings=plan.with_requirements([*findings, *plan.decided]),
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


def run_audit(
    run_id: str,
    plans: Sequence[HostPlan],
    collector: Collector,
    sink: ResultSink,
    concurrency: int = 8,
    on_host_done: Callable[[HostResult], None] | None = None,
    agency_plans: Sequence[AgencyPlan] = (),
) -> RunTally:
    """Audit every planned host with at most `concurrency` at once.

    Results are handed to the sink from this thread as each host finishes, so a crash or kill
    later in the run keeps them. On KeyboardInterrupt, hosts not yet finished are recorded as
    `interrupted` errors and the tally says so; the caller marks the run.
    """
    tally = RunTally()
    for agency_plan in agency_plans:  # nothing to observe: recorded first, as items awaiting evidence
        result = agency_result(agency_plan)
        sink.save_host_result(run_id, agency_plan.agency, result)
        tally.add(result, count_target=False)
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="audit")
    pending: dict[Future[HostResult], HostPlan] = {pool.submit(audit_host, plan, collector): plan for plan in plans}
    try:
        for future in as_completed(pending):
            plan = pending.pop(future)
            _deliver(run_id, plan, future.result(), sink, tally, on_host_done)
    except KeyboardInterrupt:
        tally.interrupted = True
        pool.shutdown(wait=False, cancel_futures=True)
        for future, plan in pending.items():
            if future.done() and not future.cancelled():
                result = future.result()
            else:
                result = error_result(plan, "interrupted", "run interrupted", _now())
            _deliver(run_id, plan, result, sink, tally, on_host_done)
        return tally
    pool.shutdown(wait=True)
    return tally


def _deliver(
    run_id: str,
    plan: HostPlan,
    result: HostResult,
    sink: ResultSink,
    tally: RunTally,
    on_host_done: Callable[[HostResult], None] | None,
) -> None:
    sink.save_host_result(run_id, plan.agency, result)
    tally.add(result)
    if on_host_done is not None:
        on_host_done(result)
