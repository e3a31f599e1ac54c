"""What a results file says, tool-neutral: one result per rule (OpenSCAP) or test (Lynis)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from auditor.vocabulary import Severity, Status

Tool = Literal["openscap", "lynis"]
TOOLS: tuple[Tool, ...] = ("openscap", "lynis")
RESULT_ID_MAX = 128  # the store's check id column
DETAIL_MAX = 2000  # characters of a result's detail kept (the file itself is kept whole as evidence)


def source_of(tool: Tool) -> str:
    """The findings' source, e.g. ``external:openscap``."""
    return f"external:{tool}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ToolResult(_Frozen):
    id: str = Field(min_length=1, max_length=RESULT_ID_MAX)  # XCCDF rule id or Lynis test id
    status: Status
    raw: str  # the tool's own word: "fail", "notchecked", "warning", ...
    severity: Severity | None = None  # as the tool rated it, when it did
    title: str = ""  # the tool's own title, when the file carries one
    detail: str = Field(default="", max_length=DETAIL_MAX)


class ToolReport(_Frozen):
    tool: Tool
    target: str = ""  # the host name the tool recorded
    benchmark: str = ""  # XCCDF benchmark and profile, or the Lynis version
    started_at: datetime | None = None
    finished_at: datetime | None = None
    results: tuple[ToolResult, ...]
    skipped: int = 0  # rules not selected by the profile, tests Lynis skipped: not results, only counted
