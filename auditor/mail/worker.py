"""The mail worker of a portal process: hangs the after-run hook on the portal, and a thread that sends due
mail every ``poll_seconds`` (at once when a run has just queued some) and checks once a day whether reminders
are due. Stops with the app."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from auditor.mail.deliver import Connect, deliver_due
from auditor.mail.queue import queue_after_run
from auditor.mail.reminders import queue_reminders
from auditor.mail.settings import MailSettings
from auditor.mail.smtp import smtp_session
from auditor.mail.texts import local_day

if TYPE_CHECKING:
    from auditor.portal.context import Portal

log = logging.getLogger(__name__)


@dataclass
class MailWorker:
    """``start(portal) -> stop``, as ``create_app(workers=...)`` expects. ``clock`` defaults to the portal's."""

    settings: MailSettings
    poll_seconds: float = 30.0
    clock: Callable[[], datetime] | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    connect: Connect = smtp_session
    _checked_day: date | None = field(default=None, init=False)
    _wake: threading.Event = field(default_factory=threading.Event, init=False)  # a run queued mail: send now

    def __call__(self, portal: Portal) -> Callable[[], None]:
        return self.start(portal)

    def start(self, portal: Portal) -> Callable[[], None]:
        hook = self.hook(portal)
        portal.after_run_hooks.append(hook)
        stopping = threading.Event()
        thread = threading.Thread(target=self._loop, args=(portal, stopping), name="auditor-mail", daemon=True)
        thread.start()

        def stop() -> None:
            if hook in portal.after_run_hooks:
                portal.after_run_hooks.remove(hook)
            stopping.set()
            self._wake.set()
            thread.join(timeout=self.settings.timeout_seconds + 5)

        return stop

    def now(self, portal: Portal) -> datetime:
        return (self.clock or portal.now)()

    def hook(self, portal: Portal) -> Callable[[str, tuple[str, ...]], None]:
        def after_run(run_id: str, agency_ids: tuple[str, ...]) -> None:
            try:  # queue_after_run logs its own failures; this guards the run's thread against anything else
                queue_after_run(
                    portal.store, portal.content, self.settings, portal.inventory, run_id, agency_ids, self.now(portal)
                )
            except Exception:
                log.exception("queuing the mail of run %s failed", run_id)
            self._wake.set()

        return after_run

    def tick(self, portal: Portal) -> None:
        """One round: reminders when a new day has begun, then one batch of due mail."""
        now = self.now(portal)
        if self._checked_day != local_day(now):
            queue_reminders(portal.store, portal.content, self.settings, portal.inventory, now)
            self._checked_day = local_day(now)
        deliver_due(portal.store, self.settings, now, self.environ, connect=self.connect)

    def _loop(self, portal: Portal, stopping: threading.Event) -> None:
        while not stopping.is_set():
            self._wake.clear()  # before the round: mail queued during it wakes the next one at once
            try:
                self.tick(portal)
            except Exception:
                log.exception("mail worker round failed; trying again in %s seconds", self.poll_seconds)
            self._wake.wait(self.poll_seconds)
