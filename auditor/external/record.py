"""Turn a tool's report and its mapping into the findings the store keeps, and count what was mapped.

Every result is kept: one mapped to clauses carries them (and so counts in verdicts); one the mapping does not
know is kept with no clause, its reason saying so, and counted as unmapped. The results file itself is the
evidence of every finding, stored whole with its SHA-256.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from auditor.external.lynis import parse_lynis
from auditor.external.mapping import ToolMapping
from auditor.external.models import Tool, ToolReport, ToolResult, source_of
from auditor.external.openscap import parse_openscap
from auditor.external.xmlsafe import DEFAULT_SIZE_LIMIT, read_limited
from auditor.messages import phrase
from auditor.vocabulary import LocalizedText, RequirementRef, Severity, Status

DEFAULT_SEVERITY = Severity.medium  # a result neither the tool nor the mapping rates


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExternalFinding(_Frozen):
    check_id: str  # the tool's rule or test id
    title: LocalizedText | None  # from the mapping; None when unmapped
    status: Status
    severity: Severity
    observed: str
    expected: str
    expected_text: LocalizedText
    reason: LocalizedText
    requirements: tuple[RequirementRef, ...]  # empty: unmapped

    @property
    def mapped(self) -> bool:
        return bool(self.requirements)


class ExternalImport(_Frozen):
    """One results file of one host, ready to store in one transaction."""

    source: str  # external:openscap | external:lynis
    tool_name: str
    agency_id: str
    host_name: str
    file_name: str
    file_sha256: str
    file_bytes: bytes
    report: ToolReport
    findings: tuple[ExternalFinding, ...]

    @property
    def mapped(self) -> int:
        return sum(1 for f in self.findings if f.mapped)

    @property
    def unmapped(self) -> int:
        return len(self.findings) - self.mapped

    def status_counts(self) -> dict[str, int]:
        return dict(Counter(f.status.value for f in self.findings))


def read_report(path: Path, tool: Tool, max_size: int = DEFAULT_SIZE_LIMIT) -> tuple[ToolReport, bytes]:
    """The parsed report and the file's bytes (read once, within ``max_size``); ImportFileError names the file."""
    data = read_limited(path, max_size)
    return (parse_openscap(path, data) if tool == "openscap" else parse_lynis(path, data)), data


def external_finding(result: ToolResult, mapping: ToolMapping) -> ExternalFinding:
    item = mapping.find(result.id)
    words = {"tool": mapping.name, "raw": result.raw, "detail": result.detail or result.raw}
    reason = phrase("external", f"reason.{result.status.value}", **words)
    if item is None:
        unmapped = phrase("external", "reason.unmapped")
        reason = LocalizedText(vi=reason.vi + unmapped.vi, en=reason.en + unmapped.en)
    else:  # the mapping's title leads, so a reader knows the rule without knowing the tool's ids
        reason = LocalizedText(vi=f"{item.title.vi}: {reason.vi}", en=f"{item.title.en}: {reason.en}")
    return ExternalFinding(
        check_id=result.id,
        title=item.title if item is not None else None,
        status=result.status,
        severity=(item.severity if item is not None and item.severity else None) or result.severity or DEFAULT_SEVERITY,
        observed=result.detail or result.raw,
        expected="pass",
        expected_text=phrase("external", "expected", tool=mapping.name),
        reason=reason,
        requirements=item.requirements if item is not None else (),
    )


def build_import(
    report: ToolReport, mapping: ToolMapping, agency_id: str, host_name: str, file_name: str, data: bytes
) -> ExternalImport:
    return ExternalImport(
        source=source_of(report.tool),
        tool_name=mapping.name,
        agency_id=agency_id,
        host_name=host_name,
        file_name=file_name,
        file_sha256=hashlib.sha256(data).hexdigest(),
        file_bytes=data,
        report=report,
        findings=tuple(external_finding(r, mapping) for r in report.results),
    )
