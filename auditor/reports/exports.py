"""Machine-readable exports of a run: JSON (the canonical model, with a published JSON Schema) and CSV.

The CLI's ``export`` command calls :func:`export_json` and :func:`export_csv`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from auditor.content.loader import Content
from auditor.evaluation.observations import ProbeOutcome
from auditor.store import FindingRow, RunHostRow, RunSummary, Store
from auditor.textsafe import inert_text
from auditor.vocabulary import LocalizedText

SCHEMA_ID = "https://auditor.example/schema/run-export.schema.json"
CSV_COLUMNS: tuple[str, ...] = (
    "run_id",
    "agency_id",
    "agency_name_vi",
    "host_name",
    "check_id",
    "title_vi",
    "title_en",
    "status",
    "severity",
    "requirements",
    "observed",
    "expected",
    "reason_vi",
    "reason_en",
    "evidence_id",
    "evidence_sha256",
    "finding_id",
)
UTF8_BOM = "\ufeff"  # leads a CSV file so that Excel reads it as UTF-8 (Vietnamese intact)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class _Export(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class AgencyExport(_Export):
    id: str
    name: LocalizedText


class StreamExport(_Export):
    size: int  # bytes of the whole stream as stored
    text: str  # the first 64 KiB, decoded (invalid UTF-8 replaced)
    omitted_bytes: int


class EvidenceExport(_Export):
    id: int
    agency_id: str
    host_name: str
    probe_id: str
    command: str
    outcome: ProbeOutcome
    exit_code: int | None
    sha256: str
    duration_s: float
    truncated: bool
    collected_at: datetime
    stdout: StreamExport
    stderr: StreamExport


class RunExport(_Export):
    """One run (or one agency of it) as stored: the document ``auditor export --format json`` writes."""

    format: Literal["auditor-run-export"]
    format_version: Literal[3]
    agency_filter: str | None = None  # set when the export holds one agency; run counts stay run-wide
    run: RunSummary
    agencies: list[AgencyExport]
    hosts: list[RunHostRow]
    findings: list[FindingRow]
    evidence: list[EvidenceExport]


def run_export(store: Store, run_ref: str, agency_id: str | None = None) -> RunExport:
    document = RunExport.model_validate(store.export_run(run_ref))
    if agency_id is None:
        return document
    return document.model_copy(
        update={
            "agency_filter": agency_id,
            "agencies": [a for a in document.agencies if a.id == agency_id],
            "hosts": [h for h in document.hosts if h.agency_id == agency_id],
            "findings": [f for f in document.findings if f.agency_id == agency_id],
            "evidence": [e for e in document.evidence if e.agency_id == agency_id],
        }
    )


def export_json(store: Store, run_ref: str, agency_id: str | None = None) -> str:
    """The canonical JSON dump (UTF-8 text, no trailing newline); valid against reports/schema/.

    Text is kept as stored; a lone surrogate a target sent (which UTF-8 cannot carry) is written as its JSON
    escape (``\\udc80``), which reads back as the same character."""
    text = json.dumps(run_export(store, run_ref, agency_id).model_dump(mode="json"), indent=2, ensure_ascii=False)
    return _LONE_SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def json_schema() -> dict[str, Any]:
    schema = RunExport.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def spreadsheet_safe(value: str) -> str:
    """Control characters escaped and a leading formula character defused, so a spreadsheet shows text."""
    text = inert_text(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_csv(store: Store, run_ref: str, agency_id: str | None = None, content: Content | None = None) -> str:
    """One row per finding (RFC 4180, header first); titles from ``content`` when given."""
    document = run_export(store, run_ref, agency_id)
    names = {a.id: a.name.vi for a in document.agencies}
    sha = {e.id: e.sha256 for e in document.evidence}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for finding in document.findings:
        check = content.checks.get(finding.check_id) if content else None
        row = (
            finding.run_id,
            finding.agency_id,
            names.get(finding.agency_id, ""),
            finding.host_name,
            finding.check_id,
            check.title.vi if check else "",
            check.title.en if check else "",
            finding.status.value,
            finding.severity.value,
            "; ".join(f"{r.framework} {r.clause}" for r in finding.requirements),
            finding.observed,
            finding.expected,
            finding.reason_vi,
            finding.reason_en,
            "" if finding.evidence_id is None else str(finding.evidence_id),
            sha.get(finding.evidence_id, "") if finding.evidence_id is not None else "",
            str(finding.id),
        )
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return buffer.getvalue()
