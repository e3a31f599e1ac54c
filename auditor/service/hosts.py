"""The SSH phase: a bounded pool of host workers; each result is handed over the moment its host finishes."""

from __future__ import annotations

import logging
import socket
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
    except (EOFError, ConnectionError, TimeoutError, socket.gaierror) as exc:  # a network fault a collector let out
        reason_code = "timeout" if isinstance(exc, TimeoutError) else "connection_lost"
        return error_result(plan, reason_code, f"{type(exc).__name__}: {exc}", started)
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


class HostPool:
    """Audits the planned hosts, at most ``concurrency`` at once, from the moment it is made; the caller
    takes the results with ``deliver`` (and can do other work meanwhile, such as recording the run)."""

    def __init__(
        self,
        plans: Sequence[HostPlan],
        collector: Collector,
        concurrency: int,
        on_started: Callable[[HostPlan], None] | None = None,
    ) -> None:
        def work(plan: HostPlan) -> HostResult:
            if on_started is not None:
                on_started(plan)
            return audit_host(plan, collector)

        self._pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="audit")
        self._pending: dict[Future[HostResult], HostPlan] = {self._pool.submit(work, plan): plan for plan in plans}

    def deliver(self, on_finished: Callable[[HostPlan, HostResult], None]) -> bool:
        """Hand each result to ``on_finished`` in this thread as its host finishes; True when interrupted.

        On KeyboardInterrupt, hosts not yet finished are handed over as ``interrupted`` errors and the
        pool is left without waiting for them, so a crash or kill later keeps what was stored.
        """
        try:
            for future in as_completed(self._pending):
                result = future.result()
                on_finished(self._pending.pop(future), result)
        except KeyboardInterrupt:
            self.abandon()
            for future, plan in self._pending.items():
                on_finished(plan, _finished_or_interrupted(future, plan))
            return True
        self._pool.shutdown(wait=True)
        return False

    def abandon(self) -> None:
        """Start no more hosts and do not wait for those under way (what they find is not kept)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
