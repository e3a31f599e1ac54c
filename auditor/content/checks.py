"""The check format: one YAML file per check under checklists/, validated strictly."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StringConstraints, Tag, model_validator

from auditor.content.expectations import Expectation, input_names
from auditor.content.select import Selection
from auditor.content.sources import SourceId, source_probe_id
from auditor.vocabulary import LocalizedText, OsFamily, Severity, Slug

CheckId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$", max_length=80)]

# A probe that exits with this status declares the check not applicable on that host (for
# example: the service it inspects is not installed); its stdout says why.
NOT_APPLICABLE_EXIT = 100


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Applicability(_Strict):
    os_families: tuple[OsFamily, ...] = ()  # empty: every family
    roles: tuple[Slug, ...] = ()  # empty: every host; else the host needs one of these roles
    exclude_roles: tuple[Slug, ...] = ()  # hosts with any of these roles are out of scope (e.g. router)


class Probe(_Strict):
    """A read-only observation of the host over SSH: either its own shell `command`, whose trimmed stdout
    is what the expectation judges, or a `select`ion from a shared `source` collected once per host."""

    kind: Literal["shell"] = "shell"
    command: str | None = Field(default=None, min_length=1)
    source: SourceId | None = None
    select: Selection | None = None  # with `source`: which part of its output is judged (default: all of it)
    # Profile inputs the command reads, as environment variables AUDITOR_INPUT_<NAME> (upper case):
    # e.g. `inputs: [backup_dirs]` gives $AUDITOR_INPUT_BACKUP_DIRS.
    inputs: tuple[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")], ...] = ()
    timeout: float = Field(default=20.0, gt=0, le=600)
    output_cap: int = Field(default=64 * 1024, gt=0, le=16 * 1024 * 1024)
    slow: bool = False  # known to take long (package simulation, file system walks): started first

    @model_validator(mode="after")
    def _command_or_source(self) -> Probe:
        if (self.command is None) == (self.source is None):
            raise ValueError("a probe has either its own `command` or a shared `source`")
        if self.source is None and self.select is not None:
            raise ValueError("`select` goes with `source`")
        own = {"inputs", "timeout", "output_cap", "slow"} & self.model_fields_set
        if self.source is not None and own:
            raise ValueError(f"{', '.join(sorted(own))}: set on the source, not on a check that reads it")
        return self

    @property
    def probe_id_for(self) -> str | None:
        """The record a check reading a shared source is judged on (None: the check's own record)."""
        return source_probe_id(self.source) if self.source is not None else None


class NetworkProbe(_Strict):
    """An observation made from outside by a network agent (nmap, TLS, SSH algorithms, web).

    The agent reports, per target (a service `tcp://address:port` or a website URL), named facts
    as text lines; `observe` names the fact this check judges. A target without that fact is not
    judged by this check (no TLS on a port, no cookie on a site).
    """

    kind: Literal["network"]
    agent: Literal["nmap", "tls", "ssh", "web", "exposure"]
    observe: str = Field(pattern=r"^[a-z0-9_.-]+$")
    # A shared source giving the host's own view that this fact joins with the scan (the exposure agent:
    # the sockets the host says it listens on); collected on every host audited over SSH in the same run.
    inside: SourceId | None = None
    timeout: float = Field(default=60.0, gt=0, le=3600)


def _probe_kind(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "shell"))
    return str(getattr(value, "kind", "shell"))


AnyProbe = Annotated[
    Annotated[Probe, Tag("shell")] | Annotated[NetworkProbe, Tag("network")],
    Discriminator(
        _probe_kind,
        custom_error_type="unknown_probe_kind",
        custom_error_message="probe kind must be 'shell' (default) or 'network'",
    ),
]


class Remediation(_Strict):
    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)
    playbook: CheckId | None = None  # name of the playbook unit that fixes this check


class Check(_Strict):
    """What to observe and what to expect. Which clauses it evidences is said by the catalogues
    (checklists/catalogues/), never by the check itself."""

    id: CheckId
    title: LocalizedText
    severity: Severity
    # host: probed over SSH; network: observed from outside; agency: answered once per agency (manual)
    scope: Literal["host", "network", "agency"] = "host"
    applies_to: Applicability = Applicability()
    probe: AnyProbe | None = None  # absent: a manual check answered by evidence, not by a machine
    expect: Expectation | None = None
    # Optional weaker test: "configured at all" (what the clause asks), judged on the same output;
    # `expect` then says whether the value also meets our profile's default.
    configured: Expectation | None = None
    evidence_required: LocalizedText | None = None  # for manual checks: what the auditor asks for
    rationale: LocalizedText
    remediation: Remediation

    @model_validator(mode="after")
    def _automated_or_manual(self) -> Check:
        if self.configured is not None and self.expect is None:
            raise ValueError("`configured` needs an `expect` beside it")
        if self.probe is not None and self.expect is None:
            raise ValueError("a check with a probe needs an `expect`")
        if self.probe is None and (self.expect is not None or self.evidence_required is None):
            raise ValueError("a check without a probe is manual: give `evidence_required` and no `expect`")
        if self.scope == "agency" and self.probe is not None:
            raise ValueError("agency-scope checks are manual: they have no probe")
        if (self.scope == "network") != isinstance(self.probe, NetworkProbe):
            raise ValueError("network probes go with `scope: network`, and only there")
        return self

    @property
    def is_manual(self) -> bool:
        return self.probe is None

    def input_names(self) -> set[str]:
        names = set(self.probe.inputs) if isinstance(self.probe, Probe) else set()
        for expectation in (self.expect, self.configured):
            if expectation is not None:
                names |= input_names(expectation)
        return names


class ProfileInput(_Strict):
    default: int | float | str | bool
    unit: str | None = None
    description: LocalizedText
    origin: str = Field(min_length=1)  # where the default comes from (normative clause or our choice)


class Profile(_Strict):
    """Named thresholds the standard leaves open, with defaults; agencies may override them."""

    id: Slug
    title: LocalizedText
    inputs: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")], ProfileInput]

    def values(
        self, overrides: dict[str, int | float | str | bool] | None = None
    ) -> dict[str, int | float | str | bool]:
        merged = {name: spec.default for name, spec in self.inputs.items()}
        for name, value in (overrides or {}).items():
            if name not in self.inputs:
                raise KeyError(name)
            merged[name] = value
        return merged
