"""The worker's side: the one task a zone worker runs. It checks that the host is in its own zone, collects
with the real SSH collector and this zone's keys, and returns the raw observations (or the collector's
error) as JSON. It never evaluates, and never sees a database."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pydantic import ValidationError

from auditor.errors import CollectorError
from auditor.evaluation.observations import HostObservations, ProbeRequest
from auditor.foreign import connection_error_said, foreign, verbatim
from auditor.inventory import Host
from auditor.messages import shorten
from auditor.zones.payload import TASK_NAME, CollectOutcome, CollectTask, Words
from auditor.zones.worker_config import ZoneConfig

log = logging.getLogger(__name__)
DETAIL_LIMIT = 300  # characters of an error's detail, as a local collection keeps


class HostCollector(Protocol):
    def collect(self, host: Host, requests: Sequence[ProbeRequest]) -> HostObservations: ...


CollectorFactory = Callable[[ZoneConfig, CollectTask], HostCollector]


def ssh_collector(config: ZoneConfig, task: CollectTask) -> HostCollector:
    from auditor.collectors.ssh.collector import SshCollector  # paramiko only in a worker that collects

    return SshCollector(config.known_hosts, connect_timeout_s=task.connect_timeout_s, deadline_s=task.deadline_s)


class ZoneRefusedError(ValueError):
    """A task this worker must not run: not JSON of a collection task."""


def collect_in_zone(
    task: CollectTask, config: ZoneConfig, collector: CollectorFactory = ssh_collector, worker: str = ""
) -> CollectOutcome:
    """Collect one host of this worker's zone. Never raises for the host: every failure is an outcome with the
    reason code and words a local collection would have given, so the central evaluation is the same."""
    outcome = {"zone": config.zone, "host_name": task.host.name, "worker": worker}
    if task.zone != config.zone:
        log.warning(
            "refused %s: it is in zone %s, this worker collects zone %s", task.host.name, task.zone, config.zone
        )
        refused = foreign("zone_refused", host=task.host.name, worker_zone=config.zone, zone=task.zone)
        return _failed(outcome, "zone_refused", refused.text("en"), Words.of(refused))
    began = time.monotonic()
    try:
        observed = collector(config, task).collect(config.host(task.host), task.requests)
    except CollectorError as exc:
        words = Words.of(exc.said) if exc.said is not None else None
        return _failed(outcome, exc.reason, str(exc), words)
    except (EOFError, ConnectionError, TimeoutError, socket.gaierror) as exc:  # as audit_host names them
        reason = "timeout" if isinstance(exc, TimeoutError) else "connection_lost"
        said = connection_error_said(exc)
        return _failed(outcome, reason, f"{type(exc).__name__}: {exc}", Words.of(said))
    except Exception as exc:  # a bug costs this host, not the worker
        log.exception("unexpected failure collecting %s", task.host.name)
        detail = f"{type(exc).__name__}: {exc}"
        cause = verbatim("python", detail)
        internal = foreign("zone_internal_error", host=task.host.name, zone=config.zone, cause=cause)
        return _failed(outcome, "internal_error", detail, Words.of(internal))
    log.info("collected %s (zone %s) in %.1f s", task.host.name, config.zone, time.monotonic() - began)
    return CollectOutcome(**outcome, observations=observed)


def _failed(outcome: dict[str, str], reason: str, detail: str, words: Words | None) -> CollectOutcome:
    return CollectOutcome(**outcome, error_reason=reason, error_detail=shorten(detail, DETAIL_LIMIT), error_words=words)


def parse_task(payload: str) -> CollectTask:
    try:
        return CollectTask.model_validate_json(payload)
    except ValidationError as exc:
        raise ZoneRefusedError(f"not a collection task ({exc.error_count()} problem(s))") from None


def register_collect_task(app: Any, config: ZoneConfig, collector: CollectorFactory = ssh_collector) -> Any:
    """Register the collection task on a worker's app, bound to this zone's configuration.

    Idempotent per (run, host): the task id is derived from both, and a message delivered again after its
    task succeeded (a worker lost just before acknowledging it, a retry sent meanwhile) returns the stored
    outcome instead of logging into the host a second time."""

    @app.task(name=TASK_NAME, bind=True, shared=False, acks_late=True, reject_on_worker_lost=True)
    def collect(self: Any, payload: str) -> str:
        task = parse_task(payload)
        done = self.AsyncResult(self.request.id)
        if done.state == "SUCCESS" and isinstance(done.result, str):
            log.info("%s was collected already (task %s): its stored outcome is returned", task.host.name, done.id)
            return done.result
        return collect_in_zone(task, config, collector, worker=self.request.hostname or "").model_dump_json()

    return collect
