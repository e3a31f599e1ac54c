"""The progress events of the runs this process is running, kept in memory for the live pages (server-sent
events). Bounded: so many events per run, so many finished runs; a run of another process is not here."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditor.portal.context import Portal

Event = dict[str, Any]  # an AuditEvent as JSON (its "kind" says which)
MAX_RUNS = 20  # finished runs kept (running ones are always kept)
MAX_EVENTS = 1000  # per run: the oldest go first


@dataclass
class _Run:
    events: deque[tuple[int, Event]]
    seq: int = 0
    done: bool = False
    final: Event | None = field(default=None)


@dataclass(frozen=True)
class Snapshot:
    events: list[tuple[int, Event]]  # (sequence number, event) after the one asked for
    done: bool
    final: Event | None  # the run_finished event, once there is one


class ProgressRegistry:
    def __init__(self, max_runs: int = MAX_RUNS, max_events: int = MAX_EVENTS) -> None:
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, _Run] = OrderedDict()
        self._max_runs = max_runs
        self._max_events = max_events

    def open(self, run_id: str) -> None:
        with self._lock:
            self._runs[run_id] = _Run(events=deque(maxlen=self._max_events))
            finished = [key for key, run in self._runs.items() if run.done]
            for key in finished[: max(0, len(finished) - self._max_runs)]:
                del self._runs[key]

    def add(self, run_id: str, event: Event) -> None:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.done:
                return
            run.seq += 1
            run.events.append((run.seq, event))
            if event.get("kind") == "run_finished":
                run.final = event

    def finish(self, run_id: str, status: str) -> None:
        """The run has ended: one that ended without its run_finished event (it failed) gets one."""
        if self._final(run_id) is None:
            self.add(run_id, {"kind": "run_finished", "run_id": run_id, "status": status, "tally": None})
        with self._lock:
            run = self._runs.get(run_id)
            if run is not None:
                run.done = True

    def read(self, run_id: str, after: int = 0) -> Snapshot | None:
        """The events after sequence number ``after``; None when this process is not running (or has
        forgotten) the run."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return None
            return Snapshot([item for item in run.events if item[0] > after], run.done, run.final)

    def running(self) -> frozenset[str]:
        with self._lock:
            return frozenset(key for key, run in self._runs.items() if not run.done)

    def _final(self, run_id: str) -> Event | None:
        with self._lock:
            run = self._runs.get(run_id)
            return run.final if run is not None else None


def progress_of(portal: Portal) -> ProgressRegistry:
    """The portal process's registry (made on first use)."""
    registry: ProgressRegistry = portal.services.setdefault("progress", ProgressRegistry())
    return registry
