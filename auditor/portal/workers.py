"""The background workers a portal process runs beside its pages, started and stopped with the app."""

from __future__ import annotations

from auditor.portal.app import Worker
from auditor.portal.config import PortalConfig


def default_workers(config: PortalConfig) -> tuple[Worker, ...]:
    """The workers ``auditor serve`` starts for this configuration."""
    workers: list[Worker] = []
    if config.mail is not None:  # mail: reports after runs, reminders, sending from the outbox
        from auditor.mail.worker import MailWorker

        workers.append(MailWorker(config.mail))
    # Due schedules, claimed once across processes and run under agency leases. Started last: a slot missed
    # while no server ran starts at once, and must find the after-run hooks the other workers hang.
    if config.scheduler:
        from auditor.scheduler.worker import scheduler_worker

        workers.append(scheduler_worker())
    return tuple(workers)
