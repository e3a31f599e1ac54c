"""Starting a run from the portal process (a due schedule, or an officer's "audit now"): the leases of its
agencies first (all or none, so no two runs of one agency overlap, also across processes), then the run
through the audit service on a thread of its own, its leases renewed by a heartbeat while it lives and
released when it ends, its progress kept for the live pages, and every after-run hook called at its end."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from auditor.errors import AuditorError, ConfigError
from auditor.foreign import foreign
from auditor.inventory import Inventory, file_sha256
from auditor.scheduler.progress import progress_of
from auditor.service.audit import AuditOptions, AuditScope, AuditService
from auditor.service.events import AuditEvent, RunFinished, RunStarted
from auditor.vocabulary import Only, RunStatus

if TYPE_CHECKING:
    from auditor.portal.context import Portal
    from auditor.store.views import LeaseRow

log = logging.getLogger(__name__)

LEASE_TTL = timedelta(minutes=3)  # a process that dies leaves its leases to expire after this
HEARTBEAT_S = 30.0  # how often a live run renews its leases
START_TIMEOUT_S = 120.0  # how long a caller waits for the run to be recorded
ServiceFactory = Callable[[], AuditService]


@dataclass(frozen=True)
class RunRequest:
    agency_id: str | None  # None: every agency of the inventory
    only: Only | None
    started_by: str  # "scheduler", or the officer's username
    schedule_id: int | None = None

    def record(self) -> dict[str, Any]:
        """Recorded with the run's options: who started it, and from which schedule."""
        return {"started_by": self.started_by, "schedule_id": self.schedule_id}


class AgencyBusy(AuditorError):
    """An agency of the scope is being audited by another run (its lease is held and has not expired)."""

    def __init__(self, leases: list[LeaseRow]) -> None:
        self.leases = leases
        shown = ", ".join(f"{lease.agency_id} (run {lease.run_id or 'starting'})" for lease in leases)
        super().__init__(f"being audited: {shown or 'another run holds the lease'}")

    def runs(self) -> dict[str, str | None]:
        return {lease.agency_id: lease.run_id for lease in self.leases}


@dataclass
class _Job:
    request: RunRequest
    scope: AuditScope
    options: AuditOptions
    holder: str
    agencies: tuple[str, ...]
    run_id: str | None = None
    status: RunStatus = RunStatus.failed
    error: Exception | None = None
    started: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)


def new_holder() -> str:
    """Names the process and the run holding a lease (at most 64 characters)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"


def scope_agencies(inventory: Inventory, agency_id: str | None) -> tuple[str, ...]:
    if agency_id is None:
        return tuple(agency.id for agency in inventory.agencies)
    if agency_id not in {agency.id for agency in inventory.agencies}:
        raise ConfigError(foreign("launch_agency_unknown", agency=repr(agency_id)))
    return (agency_id,)


class Launcher:
    """Starts runs in the background for this portal process; one per process (``launcher_of``)."""

    def __init__(
        self,
        portal: Portal,
        *,
        service_factory: ServiceFactory | None = None,
        lease_ttl: timedelta = LEASE_TTL,
        heartbeat_s: float = HEARTBEAT_S,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        self._portal = portal
        self._make_service = service_factory or (lambda: AuditService(portal.store, portal.content))
        self.lease_ttl = lease_ttl
        self.heartbeat_s = heartbeat_s
        self.start_timeout_s = start_timeout_s
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()

    def start(self, request: RunRequest) -> str:
        """Take the leases, start the run and return its id once recorded. Raises AgencyBusy when an agency
        is being audited, ConfigError for a scope that cannot be audited (nothing is recorded then)."""
        portal = self._portal
        inventory = portal.inventory()
        agencies = scope_agencies(inventory, request.agency_id)
        scope = AuditScope(
            inventory=inventory,
            inventory_sha256=file_sha256(portal.config.inventory),
            agencies=(request.agency_id,) if request.agency_id else (),
            only=request.only,
        )
        options = AuditOptions(
            known_hosts=portal.config.known_hosts,
            concurrency=portal.config.concurrency,
            trust_ca=portal.config.trust_ca,
            record=request.record(),
        )
        job = _Job(request, scope, options, new_holder(), agencies)
        if not portal.store.acquire_leases(agencies, job.holder, portal.now(), self.lease_ttl):
            raise AgencyBusy(self.busy(agencies))
        thread = threading.Thread(target=self._run, args=(job,), name=f"audit-{job.holder}", daemon=True)
        with self._lock:
            self._threads.add(thread)
        try:
            thread.start()
        except BaseException:
            with self._lock:
                self._threads.discard(thread)
            portal.store.release_leases(job.holder)
            raise
        if not job.started.wait(self.start_timeout_s):
            raise AuditorError(foreign("launch_not_recorded"))
        if job.error is not None:
            raise job.error
        assert job.run_id is not None  # noqa: S101 - started is set with a run id or an error
        return job.run_id

    def busy(self, agencies: tuple[str, ...]) -> list[LeaseRow]:
        """The live leases of these agencies (held by other runs)."""
        now = self._portal.now()
        wanted = set(agencies)
        return [
            lease for lease in self._portal.store.list_leases() if lease.agency_id in wanted and lease.expires_at >= now
        ]

    def active(self) -> int:
        with self._lock:
            return len(self._threads)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the runs under way to end (tests, shutdown); True when none is left."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
        return self.active() == 0

    # -- the run's thread ------------------------------------------------------------------------------------

    def _run(self, job: _Job) -> None:
        beat = threading.Thread(target=self._heartbeat, args=(job,), name=f"lease-{job.holder}", daemon=True)
        beat.start()
        try:
            self._make_service().start_audit(job.scope, job.options, on_event=lambda event: self._on_event(job, event))
        except Exception as exc:
            if job.run_id is None:
                job.error = exc  # nothing recorded: the caller hears of it
            else:
                log.exception("run %s failed", job.run_id)
        finally:
            job.ended.set()
            beat.join()
            self._release(job)
            job.started.set()
            if job.run_id is not None:
                progress_of(self._portal).finish(job.run_id, job.status.value)
                self._after_run(job.run_id, job.agencies)
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _on_event(self, job: _Job, event: AuditEvent) -> None:
        """Never raises: a progress event must not break the run."""
        registry = progress_of(self._portal)
        try:
            if isinstance(event, RunStarted):
                job.run_id = event.run_id
                registry.open(event.run_id)
                self._portal.store.renew_leases(job.holder, self._portal.now(), self.lease_ttl, event.run_id)
            elif isinstance(event, RunFinished):
                job.status = event.status
            registry.add(event.run_id, event.model_dump(mode="json"))
        except Exception:
            log.exception("progress of run %s", event.run_id)
        finally:
            if isinstance(event, RunStarted):
                job.started.set()

    def _heartbeat(self, job: _Job) -> None:
        while not job.ended.wait(self.heartbeat_s):
            try:
                held = self._portal.store.renew_leases(job.holder, self._portal.now(), self.lease_ttl)
            except AuditorError:
                log.exception("cannot renew the leases of %s", job.holder)
                continue
            if held < len(job.agencies):
                log.warning("run %s holds %d of its %d leases", job.run_id, held, len(job.agencies))

    def _release(self, job: _Job) -> None:
        try:
            self._portal.store.release_leases(job.holder)
        except AuditorError:
            log.exception("cannot release the leases of %s: they expire on their own", job.holder)

    def _after_run(self, run_id: str, agencies: tuple[str, ...]) -> None:
        for hook in list(self._portal.after_run_hooks):
            try:
                hook(run_id, agencies)
            except Exception:
                log.exception("after-run hook %r failed for run %s", hook, run_id)


def launcher_of(portal: Portal) -> Launcher:
    """The portal process's launcher (made on first use; tests install one with fake collectors)."""
    found = portal.services.get("runs")
    if not isinstance(found, Launcher):
        found = portal.services.setdefault("runs", Launcher(portal))
    return found
