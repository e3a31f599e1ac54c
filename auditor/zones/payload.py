"""What crosses the network between the central service and a zone worker: the task payload (where and what to
probe, never a credential) and the outcome (the collector's raw observations, or its error)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from auditor.errors import CollectorError, Sayable
from auditor.evaluation.observations import HostObservations, ProbeRequest
from auditor.inventory import Host
from auditor.said import Said
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


WORDS_VALUE_CHARS = 1000  # of one value of an error's words (each is already a short, escaped text)
WORDS_DEPTH = 6  # words within words: an error, its cause, the cause's source (a collector nests 4 at most)


class Words(StrictModel):
    """An error's words as a key and its values (auditor.said.Said), put into words on the central side, so a
    zoned host's reason reads in each language exactly as a local collection's. JSON only: a value is a text,
    a number, or words of its own."""

    key: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.]+$")
    catalogue: Literal["foreign", "cli"] = "foreign"
    values: dict[str, Words | str | int | float] = Field(default_factory=dict, max_length=20)

    @classmethod
    def of(cls, said: Sayable, depth: int = WORDS_DEPTH) -> Words | None:
        """The words of ``said``; None when they are not a key of a catalogue the central side has."""
        if not isinstance(said, Said) or said.catalogue not in ("foreign", "cli") or depth <= 0:
            return None
        values: dict[str, Words | str | int | float] = {}
        for name, value in said.values.items():
            if isinstance(value, Said):
                inner = cls.of(value, depth - 1)
                if inner is None:
                    return None
                values[name] = inner
            elif isinstance(value, int | float) and not isinstance(value, bool):
                values[name] = value
            else:
                values[name] = str(value)[:WORDS_VALUE_CHARS]
        return cls(key=said.key, catalogue=said.catalogue, values=values)  # type: ignore[arg-type]

    def said(self, depth: int = WORDS_DEPTH) -> Said | None:
        """The words to say; None when a key is not in this side's catalogue (another version's worker), or
        when they nest deeper than a collector's errors do."""
        from auditor.reports.locale import catalogue

        if depth <= 0 or self.key not in catalogue(self.catalogue):
            return None
        values: dict[str, object] = {}
        for name, value in self.values.items():
            if isinstance(value, Words):
                inner = value.said(depth - 1)
                if inner is None:
                    return None
                values[name] = inner
            else:
                values[name] = value if not isinstance(value, str) else value[:WORDS_VALUE_CHARS]
        words = Said(self.key, values, catalogue=self.catalogue)
        try:
            words.text("vi"), words.text("en")  # a value a sentence names is missing: not words to say
        except (KeyError, IndexError, ValueError):
            return None
        return words


class CollectOutcome(StrictModel):
    """What a worker sends back: the raw observations, or the collector's error with its reason code."""

    zone: Slug
    host_name: Slug
    worker: str = ""  # the worker's name, for the log of who collected
    observations: HostObservations | None = None
    error_reason: str | None = None
    error_detail: str | None = None  # the error in English, for the logs (and a worker of an older version)
    error_words: Words | None = None  # the same error as words: said here in each language

    def observed(self) -> HostObservations:
        """The observations; the worker's error raised as the collector would have raised it here, with its
        words when it was sent with them."""
        if self.observations is not None:
            return self.observations
        words = self.error_words.said() if self.error_words is not None else None
        if words is not None:
            raise CollectorError(words, self.error_reason)
        raise CollectorError(self.error_detail or "the zone worker sent no observations", self.error_reason)
