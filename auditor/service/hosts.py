"""The SSH phase: a bounded pool of host workers; each result is handed over the moment its host finishes."""

from __future__ import annotations

import logging
import queue
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Protocol

from auditor.errors import CollectorError
from auditor.evaluation.evaluate import host_error_finding
from auditor.evaluation.findings import HostResult, HostStatus
from auditor.evaluation.observations import HostObservations, ProbeRequest
from auditor.foreign import connection_error_said, in_words
from auditor.inventory import Host
from auditor.messages import shorten
from auditor.service.plan import AgencyPlan, HostPlan
from auditor.vocabulary import LocalizedText

log = logging.getLogger(__name__)
_DETAIL_CHARS = 300  # of a host error's detail kept on its findings


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
        return error_result(plan, exc.reason, in_words(exc.said) if exc.said is not None else str(exc), started)
    except (EOFError, ConnectionError, TimeoutError, socket.gaierror) as exc:  # a network fault a collector let out
        reason_code = "timeout" if isinstance(exc, TimeoutError) else "connection_lost"
        return error_result(plan, reason_code, in_words(connection_error_said(exc)), started)
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


def error_result(plan: HostPlan, reason_code: str, detail: str | LocalizedText, started: datetime) -> HostResult:
    """Every planned check in error; ``detail`` in words when the error was raised with words to say."""
    if isinstance(detail, LocalizedText):
        detail = LocalizedText(vi=shorten(detail.vi, _DETAIL_CHARS), en=shorten(detail.en, _DETAIL_CHARS))
    else:
        detail = shorten(detail, _DETAIL_CHARS)
    findings = [host_error_finding(check, reason_code, detail) for check in plan.to_probe]
    return HostResult(
        agency_id=plan.agency.id,
        host_name=plan.host.name,
        address=plan.host.address,
        status=HostStatus.error,
        error_reason=reason_code,
        error_detail=detail.en if isinstance(detail, LocalizedText) else detail,
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


BATCH_MAX = 64  # finished hosts handed over at once, at most (one transaction in the store)
_ROOM_POLL_S = 0.5  # how often a worker waiting for room looks whether the run was abandoned


class HostPool:
    """Audits the planned hosts, at most ``concurrency`` at once, from the moment it is made; the caller
    takes the results with ``deliver`` or ``deliver_batches`` (and can do other work meanwhile, such as
    recording the run)."""

    def __init__(
        self,
        plans: Sequence[HostPlan],
        collector: Collector,
        concurrency: int,
        on_started: Callable[[HostPlan], None] | None = None,
    ) -> None:
        # Hosts under way plus results not yet handed over, at most: when the caller (the store) falls behind,
        # workers wait instead of piling finished results up in memory.
        self._room = threading.Semaphore(max(1, concurrency) + BATCH_MAX)
        self._abandoned = threading.Event()

        def work(plan: HostPlan) -> HostResult:
            while not self._room.acquire(timeout=_ROOM_POLL_S):
                if self._abandoned.is_set():
                    return error_result(plan, "interrupted", "run interrupted", _now())
            if on_started is not None:
                on_started(plan)
            return audit_host(plan, collector)

        self._pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="audit")
        self._finished: queue.SimpleQueue[Future[HostResult]] = queue.SimpleQueue()
        self._pending: dict[Future[HostResult], HostPlan] = {}
        for plan in plans:
            future = self._pool.submit(work, plan)
            self._pending[future] = plan
            future.add_done_callback(self._finished.put)  # each future once, whatever the fleet's size

    def deliver(self, on_finished: Callable[[HostPlan, HostResult], None]) -> bool:
        """Hand each result to ``on_finished`` in this thread as its host finishes; True when interrupted."""

        def each(batch: list[tuple[HostPlan, HostResult]]) -> None:
            for plan, result in batch:
                on_finished(plan, result)

        return self.deliver_batches(each)

    def deliver_batches(
        self, on_batch: Callable[[list[tuple[HostPlan, HostResult]]], None], max_batch: int = BATCH_MAX
    ) -> bool:
        """Hand the results to ``on_batch`` in this thread: each time, every host that finished since the last
        call (at most ``max_batch``), never waiting for more; True when interrupted.

        On KeyboardInterrupt, hosts not yet handed over are handed over as ``interrupted`` errors (those that
        had finished, with their results) and the pool is left without waiting for them, so a crash or kill
        later keeps what was stored.
        """
        try:
            while self._pending:
                batch = [self._finished.get()]
                while len(batch) < max_batch and not self._finished.empty():
                    batch.append(self._finished.get())
                broken = [future for future in batch if future.exception() is not None]
                handed = [(self._pending.pop(future), future.result()) for future in batch if future not in broken]
                if handed:
                    on_batch(handed)
                for _ in batch:
                    self._room.release()
                if broken:  # a worker raised (Ctrl-C in a worker): raised here, after what finished was handed over
                    broken[0].result()
        except KeyboardInterrupt:
            self.abandon()
            left = [(plan, _finished_or_interrupted(future, plan)) for future, plan in self._pending.items()]
            self._pending.clear()
            for start in range(0, len(left), max_batch):
                on_batch(left[start : start + max_batch])
            return True
        self._pool.shutdown(wait=True)
        return False

    def abandon(self) -> None:
        """Start no more hosts and do not wait for those under way (what they find is not kept)."""
        self._abandoned.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
