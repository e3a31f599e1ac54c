"""The background workers a portal process runs beside its pages, started and stopped with the app."""

from __future__ import annotations

from auditor.portal.app import Worker
from auditor.portal.config import PortalConfig


def default_workers(config: PortalConfig) -> tuple[Worker, ...]:
    """The workers ``auditor serve`` starts for this configuration."""
    workers: list[Worker] = []
    return tuple(workers)
