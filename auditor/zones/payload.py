"""What crosses the network between the central service and a zone worker: the task payload (where and what to
probe, never a credential) and the outcome (the collector's raw observations, or its error)."""

from __future__ import annotations

import re

from pydantic import Field

from auditor.errors import CollectorError
from auditor.evaluation.observations import HostObservations, ProbeRequest
from auditor.inventory import Host
from auditor.vocabulary import Slug, StrictModel

TASK_NAME = "auditor.zones.collect"
QUEUE_PREFIX = "zone."
_TASK_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def queue_name(zone: str) -> str:
    """The one queue a zone's worker consumes: ``zone.<name>``."""
    return f"{QUEUE_PREFIX}{zone}"


def task_id(run_id: str, host_name: str) -> str:
    """The task's id for one host of one run: the same (run, host) always gives the same task, so a task sent
    again (a retry) and a message delivered twice share one result."""
    return _TASK_ID_UNSAFE.sub("_", f"{run_id}.{host_name}")


class ZoneHost(StrictModel):
    """The host as a worker needs it: where it is and who to log in as; its key is the worker's own."""

    name: Slug
    address: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    user: str = Field(min_length=1)
    sudo: bool = False
    os_family: str | None = None
    probe_jobs: int | None = Field(default=None, ge=1, le=16)

    @classmethod
    def of(cls, host: Host) -> ZoneHost:
        return cls(
            name=host.name,
            address=host.address,
            port=host.port,
            user=host.user,
            sudo=host.sudo,
            os_family=host.os_family,
            probe_jobs=host.probe_jobs,
        )


class CollectTask(StrictModel):
    """One host to collect in one zone: the probe plan and the limits; no key, no password, no database."""

    run_id: str = Field(min_length=1, max_length=128)
    zone: Slug
    host: ZoneHost
    requests: tuple[ProbeRequest, ...]
    connect_timeout_s: float = Field(gt=0)
    deadline_s: float = Field(gt=0)

    @property
    def task_id(self) -> str:
        return task_id(self.run_id, self.host.name)


class CollectOutcome(StrictModel):
    """What a worker sends back: the raw observations, or the collector's error with its reason code."""

    zone: Slug
    host_name: Slug
    worker: str = ""  # the worker's name, for the log of who collected
    observations: HostObservations | None = None
    error_reason: str | None = None
    error_detail: str | None = None

    def observed(self) -> HostObservations:
        """The observations; the worker's error raised as the collector would have raised it here."""
        if self.observations is not None:
            return self.observations
        raise CollectorError(self.error_detail or "the zone worker sent no observations", self.error_reason)
