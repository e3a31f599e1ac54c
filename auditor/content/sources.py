"""Shared probe sources: one read-only command whose output several checks select from.

A source runs once per host inside the same batched script as the probes (its record's probe id is
``source.<id>``). Every check that reads it is judged on a selection of that one output, and its
finding cites the source's record as evidence, with the record's hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from auditor.collectors.ssh.script import shell_quote
from auditor.evaluation.observations import ProbeRequest
from auditor.vocabulary import LocalizedText, OsFamily

SourceId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
SOURCE_PREFIX = "source."


def source_probe_id(source_id: str) -> str:
    return SOURCE_PREFIX + source_id


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: SourceId
    title: LocalizedText
    command: str = Field(min_length=1)
    timeout: float = Field(default=20.0, gt=0, le=600)
    output_cap: int = Field(default=256 * 1024, gt=0, le=16 * 1024 * 1024)
    slow: bool = False  # started before the quick probes
    os_families: tuple[OsFamily, ...] = ()  # empty: every family
    # Profile inputs the command reads, as for a check's own probe: $AUDITOR_INPUT_<NAME>. They are the
    # host's inputs, so every check reading the source sees the same record.
    inputs: tuple[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")], ...] = ()

    @property
    def probe_id(self) -> str:
        return source_probe_id(self.id)

    def command_with(self, inputs: Mapping[str, int | float | str | bool]) -> str:
        """The command prefixed with the inputs it reads, so the evidence shows the values used too."""
        if not self.inputs:
            return self.command
        lines = [f"AUDITOR_INPUT_{name.upper()}={shell_quote(str(inputs.get(name, '')))}" for name in self.inputs]
        exports = " ".join(f"AUDITOR_INPUT_{name.upper()}" for name in self.inputs)
        return "\n".join([*lines, f"export {exports}", self.command])

    def request(self, inputs: Mapping[str, int | float | str | bool] | None = None) -> ProbeRequest:
        return ProbeRequest(
            probe_id=self.probe_id,
            command=self.command_with(inputs or {}),
            timeout_s=self.timeout,
            output_cap=self.output_cap,
            os_families=self.os_families,
            slow=self.slow,
        )
