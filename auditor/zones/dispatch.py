"""The central side: zoned hosts go to their zone's queue, their observations come back and are evaluated here
exactly as a local collection's.

``ZoneCollector`` is a collector like any other for the audit service's host pool: a host without a zone is
collected locally, a zoned host is sent as a task and its pool slot waits for the outcome. Each host has an
overall deadline: ``attempts`` times (the host's deadline + ``grace_s`` for queueing and the way back). A
host whose worker never answers (not running, lost mid-collection) is sent again, under the same task id, up
to ``attempts`` times, then ends as an error (``zone_worker_lost``) saying so: never a gap, never a stuck run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from auditor.errors import CollectorError
from auditor.evaluation.observations import HostObservations, ProbeRequest
from auditor.foreign import foreign, verbatim
from auditor.inventory import Host
from auditor.zones.payload import TASK_NAME, CollectOutcome, CollectTask, ZoneHost, queue_name

log = logging.getLogger(__name__)
DEFAULT_ATTEMPTS = 2
DEFAULT_GRACE_S = 30.0
_POLL_S = 0.2


class LocalCollector(Protocol):
    def collect(self, host: Host, requests: Sequence[ProbeRequest]) -> HostObservations: ...


class ZoneDispatcher(Protocol):
    def collect(self, task: CollectTask) -> HostObservations: ...


class CeleryDispatcher:
    """Sends collection tasks to the zones' queues and waits for their outcomes in the result backend."""

    def __init__(self, app: Any, attempts: int = DEFAULT_ATTEMPTS, grace_s: float = DEFAULT_GRACE_S) -> None:
        if attempts < 1 or grace_s <= 0:
            raise ValueError("attempts must be at least 1 and grace_s positive")
        self.app = app
        self.attempts = attempts
        self.grace_s = grace_s

    def collect(self, task: CollectTask) -> HostObservations:
        """The host's observations; raises CollectorError (the worker's own, or ``zone_worker_lost``)."""
        window = task.connect_timeout_s + task.deadline_s + self.grace_s
        began = time.monotonic()
        for attempt in range(1, self.attempts + 1):
            # Same task id every time: a late answer to an earlier attempt is as good as this one's.
            expires = window * (self.attempts - attempt + 1)  # seconds: a late worker skips it
            self.app.send_task(
                TASK_NAME,
                args=[task.model_dump_json()],
                task_id=task.task_id,
                queue=queue_name(task.zone),
                expires=expires,
            )
            meta = self._wait(task.task_id, window)
            if meta is not None:
                return _observed(task, meta)
            if attempt < self.attempts:
                log.warning(
                    "zone %s: no answer for %s within %.0f s (attempt %d of %d): sending it again",
                    task.zone,
                    task.host.name,
                    window,
                    attempt,
                    self.attempts,
                )
        waited = time.monotonic() - began
        lost = foreign(
            "zone_worker_lost", host=task.host.name, zone=task.zone, attempts=self.attempts, seconds=f"{waited:.0f}"
        )
        raise CollectorError(lost, reason="zone_worker_lost")

    def _wait(self, task_id: str, window: float) -> dict[str, Any] | None:
        """The task's final state within ``window`` seconds; None when there is none by then."""
        until = time.monotonic() + window
        while True:
            meta: dict[str, Any] = self.app.backend.get_task_meta(task_id, cache=False)
            if meta.get("status") in ("SUCCESS", "FAILURE"):
                return meta
            if time.monotonic() >= until:
                return None
            time.sleep(_POLL_S)


def _observed(task: CollectTask, meta: dict[str, Any]) -> HostObservations:
    if meta["status"] == "FAILURE":
        failure = meta.get("result")
        kind = failure.get("exc_type", "error") if isinstance(failure, dict) else "error"
        message = failure.get("exc_message", "") if isinstance(failure, dict) else ""
        reason = "zone_refused" if kind == "ZoneRefusedError" else "internal_error"
        cause = verbatim("python", f"{kind}: {message}")  # the worker's own exception, quoted and cut short
        raise CollectorError(foreign("zone_worker_failed", host=task.host.name, zone=task.zone, cause=cause), reason)
    result = meta.get("result")
    if not isinstance(result, str):
        raise CollectorError(foreign("zone_no_outcome", host=task.host.name, zone=task.zone), "internal_error")
    outcome = CollectOutcome.model_validate_json(result)
    if outcome.host_name != task.host.name:  # a mixed-up answer must never be judged as this host's
        other = foreign("zone_other_host", host=task.host.name, other=outcome.host_name)
        raise CollectorError(other, "internal_error")
    return outcome.observed()


class ZoneCollector:
    """The audit service's collector when some hosts have a zone: local hosts locally, zoned hosts through
    their zone's worker. A zoned host's task is named after the run, so it waits until the run is recorded
    (``bind_run``), which happens while the first local hosts work."""

    def __init__(
        self,
        local: LocalCollector,
        dispatcher: ZoneDispatcher,
        *,
        connect_timeout_s: float,
        deadline_s: float,
        run_id: str | None = None,
    ) -> None:
        self.local = local
        self.dispatcher = dispatcher
        self.connect_timeout_s = connect_timeout_s
        self.deadline_s = deadline_s
        self._run_id = run_id
        self._bound = threading.Event()
        if run_id is not None:
            self._bound.set()

    def bind_run(self, run_id: str | None) -> None:
        """The run's id (None: the run will not be recorded; zoned hosts waiting give up)."""
        self._run_id = run_id
        self._bound.set()

    def collect(self, host: Host, requests: Sequence[ProbeRequest]) -> HostObservations:
        if host.zone is None:
            return self.local.collect(host, requests)
        if not self._bound.wait(self.connect_timeout_s + self.deadline_s) or self._run_id is None:
            raise CollectorError(foreign("zone_run_not_recorded", host=host.name, zone=host.zone))
        task = CollectTask(
            run_id=self._run_id,
            zone=host.zone,
            host=ZoneHost.of(host),
            requests=tuple(requests),
            connect_timeout_s=self.connect_timeout_s,
            deadline_s=self.deadline_s,
        )
        return self.dispatcher.collect(task)


def celery_dispatcher(url: str | None = None, **settings: Any) -> CeleryDispatcher:
    """A dispatcher on the configured broker (``url``, or ``$AUDITOR_BROKER_URL`` with the password from
    ``$AUDITOR_BROKER_PASSWORD``). Runs in one process share one Celery app per broker, so a long-running
    portal or scheduler keeps its broker connections instead of opening new pools for every run."""
    from auditor.zones.broker import broker_url

    return CeleryDispatcher(_shared_app(broker_url(url)), **settings)


_apps: dict[str, Any] = {}
_apps_lock = threading.Lock()


def _shared_app(url: str) -> Any:
    from auditor.zones.broker import make_app

    with _apps_lock:
        if url not in _apps:
            _apps[url] = make_app(url)
        return _apps[url]
