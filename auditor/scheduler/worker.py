"""The scheduler: a portal worker that checks the schedules regularly and starts the runs that are due.

A due slot is claimed first (``claim_slot``: of two server processes exactly one wins it), then its run is
started through the launcher, which takes the leases of the scope's agencies; when another run holds one,
the slot is skipped and the activity log says so. On start, a schedule whose slot passed while no server
ran is due at once, and runs once however many slots it missed."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from auditor.errors import AuditorError
from auditor.scheduler.cron import due_slot
from auditor.scheduler.launcher import AgencyBusy, Launcher, RunRequest, launcher_of
from auditor.scheduler.specs import spec_of

if TYPE_CHECKING:
    from auditor.portal.context import Portal
    from auditor.store.views import ScheduleRow

log = logging.getLogger(__name__)

ACTOR = "scheduler"
DEFAULT_INTERVAL_S = 20.0
INTERVAL_ENV = "AUDITOR_SCHEDULER_INTERVAL_S"  # a shorter check interval (tests, demonstrations)


@dataclass(frozen=True)
class Outcome:
    """What became of one due slot this process claimed."""

    schedule_id: int
    slot: datetime
    run_id: str | None  # None: skipped
    reason: str | None = None  # agency_busy | error


class Scheduler:
    def __init__(self, portal: Portal, launcher: Launcher | None = None) -> None:
        self._portal = portal
        self._launcher = launcher

    @property
    def launcher(self) -> Launcher:
        return self._launcher or launcher_of(self._portal)

    def tick(self) -> list[Outcome]:
        """One check: every active schedule with a due slot this process wins is run (or skipped)."""
        store = self._portal.store
        now = self._portal.now()
        outcomes = []
        for row in store.list_schedules():
            if row.paused:
                continue
            try:
                slot = due_slot(row.cron, row.timezone, row.last_slot_at or row.created_at, now)
            except Exception:  # a timezone gone from the system's database must not stop the others
                log.exception("schedule %d: cannot evaluate %r in %s", row.id, row.cron, row.timezone)
                continue
            if slot is None or not store.claim_slot(row.id, slot):
                continue  # not due, or another process has it
            outcomes.append(self._start(row, slot))
        return outcomes

    def _start(self, row: ScheduleRow, slot: datetime) -> Outcome:
        spec = spec_of(row)
        request = RunRequest(agency_id=spec.agency_id, only=spec.only, started_by=ACTOR, schedule_id=row.id)
        detail: dict[str, Any] = {"schedule_id": row.id, "slot": slot.isoformat(), **spec.detail()}
        store = self._portal.store
        target = f"schedule:{row.id}"
        try:
            run_id = self.launcher.start(request)
        except AgencyBusy as busy:
            store.log_activity(
                ACTOR,
                "run_skipped",
                target,
                self._portal.now(),
                agency_id=row.agency_id,
                detail={**detail, "reason": "agency_busy", "busy": busy.runs()},
            )
            return Outcome(row.id, slot, None, "agency_busy")
        except AuditorError as exc:
            store.log_activity(
                ACTOR,
                "run_skipped",
                target,
                self._portal.now(),
                agency_id=row.agency_id,
                detail={**detail, "reason": "error", "error": str(exc)},
            )
            return Outcome(row.id, slot, None, "error")
        store.log_activity(ACTOR, "run_start", run_id, self._portal.now(), agency_id=row.agency_id, detail=detail)
        return Outcome(row.id, slot, run_id)


def default_interval() -> float:
    try:
        return max(0.2, float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL_S)))
    except ValueError:
        return DEFAULT_INTERVAL_S


def scheduler_worker(
    interval_s: float | None = None, launcher: Callable[[Portal], Launcher] | None = None
) -> Callable[[Portal], Callable[[], None]]:
    """The worker ``auditor serve`` runs: checks at once (the missed slots), then every ``interval_s``."""

    def start(portal: Portal) -> Callable[[], None]:
        interval = interval_s if interval_s is not None else default_interval()
        scheduler = Scheduler(portal, launcher(portal) if launcher else None)
        portal.services["scheduler"] = scheduler
        stopping = threading.Event()

        def loop() -> None:
            while True:
                try:
                    scheduler.tick()
                except Exception:  # the database may be away for a while: try again at the next check
                    log.exception("the scheduler's check failed")
                if stopping.wait(interval):
                    return

        thread = threading.Thread(target=loop, name="auditor-scheduler", daemon=True)
        thread.start()

        def stop() -> None:
            stopping.set()
            thread.join(timeout=max(5.0, interval))

        return stop

    return start
