"""Manual evidence and governed exceptions: attestations with documents, and waivers.

Rules enforced here (pure; the store only keeps what passed them):
- an attestation answers one manual item of one agency, names who attested and until when it is
  valid, and cites documents that must exist; an already-expired attestation is refused;
- a waiver names a justification, a compensating control, who asked and who approved (two
  different people) and an expiry in the future; it covers failed automated checks only.
Nothing is edited in place: a new answer is a new attestation, a revocation a record of its own.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from auditor.errors import ConfigError
from auditor.foreign import in_english_as_is, os_error_as_is
from auditor.said import Said, said
from auditor.yamlio import (
    LineOf,
    Location,
    ParsedFile,
    read_text_file,
    read_yaml_file,
    shown,
    validation_problems_said,
)


class Answer(StrEnum):
    met = "met"
    partly_met = "partly_met"
    not_met = "not_met"
    not_applicable = "not_applicable"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def end_of_day(day: date) -> datetime:
    """Validity runs to the end of its last day (UTC)."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


class AttestationEntry(_Strict):
    """One row of an attestation import file."""

    agency: str = Field(min_length=1)
    item: str = Field(min_length=1)  # the manual item (check id) answered
    answer: Answer
    justification: str = Field(min_length=1)
    attested_by: str = Field(min_length=1)
    attested_at: date
    valid_until: date
    documents: tuple[str, ...] = ()  # paths, relative to the import file

    @model_validator(mode="after")
    def _dates_in_order(self) -> AttestationEntry:
        if self.valid_until < self.attested_at:
            raise PydanticCustomError("attestation_dates", "valid_until is before attested_at")
        if self.answer is Answer.not_applicable and len(self.justification.strip()) < 10:
            raise PydanticCustomError("attestation_justification", "not_applicable needs a real justification")
        if self.answer is not Answer.not_applicable and not self.documents:
            raise PydanticCustomError(
                "attestation_documents", "an answer other than not_applicable must cite at least one document"
            )
        return self


class AttestationFile(_Strict):
    attestations: tuple[AttestationEntry, ...] = Field(min_length=1)


class DocumentRef(_Strict):
    sha256: str
    file_name: str
    size: int


class Attestation(_Strict):
    id: int
    agency_id: str
    check_id: str
    answer: Answer
    justification: str
    attested_by: str
    attested_at: datetime
    valid_until: datetime
    recorded_at: datetime
    source: str
    documents: tuple[DocumentRef, ...] = ()


class WaiverRequest(_Strict):
    agency_id: str = Field(min_length=1)
    host_pattern: str = Field(default="*", min_length=1)  # fnmatch pattern over target names
    check_id: str = Field(min_length=1)
    justification: str = Field(min_length=10)
    compensating_control: str = Field(min_length=10)
    requested_by: str = Field(min_length=1)
    approved_by: str = Field(min_length=1)
    expires_on: date

    @field_validator("requested_by", "approved_by")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        return " ".join(value.split())

    @model_validator(mode="after")
    def _distinct_approver(self) -> WaiverRequest:
        if self.requested_by.casefold() == self.approved_by.casefold():
            raise PydanticCustomError("waiver_approver", "approved_by must be a different person from requested_by")
        return self


class Waiver(_Strict):
    id: int
    agency_id: str
    host_pattern: str
    check_id: str
    justification: str
    compensating_control: str
    requested_by: str
    approved_by: str
    expires_at: datetime
    recorded_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None

    def active(self, as_of: datetime) -> bool:
        if self.recorded_at > as_of or self.expires_at < as_of:
            return False
        return self.revoked_at is None or self.revoked_at > as_of


def read_attestation_file(path: Path) -> AttestationFile:
    """YAML (`attestations: [...]`) or CSV (one row per attestation, documents separated by ';')."""
    return _parse_attestation_file(path)[0]


def _parse_attestation_file(path: Path) -> tuple[AttestationFile, LineOf]:
    document = _csv_document(path) if path.suffix.lower() == ".csv" else read_yaml_file(path, ConfigError)
    try:
        return AttestationFile.model_validate(document.data), document.line_of
    except ValidationError as exc:
        raise ConfigError(validation_problems_said(path, exc, document.data, line_of=document.line_of)) from None


def _csv_document(path: Path) -> ParsedFile:
    """The rows as `{"attestations": [...]}`, and the line each row starts on (the header is line 1)."""
    text = read_text_file(path, ConfigError, encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[dict[str, object]] = []
    starts: list[int] = []
    try:
        previous_end = 1
        for row in reader:
            starts.append(previous_end + 1)
            previous_end = reader.line_num
            if None in row:
                raise ConfigError(said("gov_csv_extra_values", path=path, line=starts[-1]))
            documents = [d.strip() for d in (row.pop("documents", "") or "").split(";") if d.strip()]
            # A short row leaves its last columns None: reported as missing fields.
            rows.append({**{k: v for k, v in row.items() if v is not None}, "documents": documents})
    except csv.Error as exc:
        problem = in_english_as_is("python", str(exc))
        raise ConfigError(said("gov_csv_invalid", path=path, line=reader.reader.line_num, problem=problem)) from None

    def line_of(loc: Location) -> int | None:
        row = loc[1] if len(loc) > 1 and loc[0] == "attestations" else None
        return starts[row] if isinstance(row, int) and 0 <= row < len(starts) else None

    return ParsedFile({"attestations": rows}, line_of)


class PreparedDocument(_Strict):
    file_name: str
    content: bytes
    media_type: str


class PreparedAttestation(_Strict):
    entry: AttestationEntry
    documents: tuple[PreparedDocument, ...]


MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".txt": "text/plain",
}
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024


def prepare_import(
    path: Path, manual_items: set[str], known_agencies: set[str], now: datetime
) -> list[PreparedAttestation]:
    """Check every row of an import file; raise one ConfigError listing every problem, or return
    everything ready to store (documents read), so that nothing is half-written."""
    parsed, line_of = _parse_attestation_file(path)
    problems: list[Said] = []
    prepared: list[PreparedAttestation] = []
    for index, entry in enumerate(parsed.attestations):
        line = line_of(("attestations", index))
        item, agency = _shown(entry.item), _shown(entry.agency)
        where = (
            said("gov_where", path=path, index=index, item=item, agency=agency)
            if line is None
            else said("gov_where_line", path=path, line=line, index=index, item=item, agency=agency)
        )
        if entry.agency not in known_agencies:
            problems.append(said("gov_unknown_agency", where=where, agency=agency))
        if entry.item not in manual_items:
            problems.append(said("gov_not_manual_item", where=where, item=item))
        if end_of_day(entry.valid_until) < now:
            problems.append(said("gov_expired", where=where, date=entry.valid_until.isoformat()))
        documents = []
        for name in entry.documents:
            label = _shown(name)
            if Path(name).suffix.lower() not in MEDIA_TYPES:
                problems.append(said("gov_document_type", where=where, document=label))
                continue
            document_path = (path.parent / name) if not Path(name).is_absolute() else Path(name)
            try:
                content = document_path.read_bytes()
            except FileNotFoundError:
                problems.append(
                    said("gov_document_missing", where=where, document=label, path=_shown(str(document_path)))
                )
                continue
            except OSError as exc:
                problems.append(
                    said("gov_document_unreadable", where=where, document=label, problem=os_error_as_is(exc))
                )
                continue
            except ValueError:  # a NUL byte: no file can have that name
                problems.append(said("gov_document_bad_name", where=where, document=label))
                continue
            if not content or len(content) > MAX_DOCUMENT_BYTES:
                problems.append(said("gov_document_size", where=where, document=label, limit=MAX_DOCUMENT_BYTES))
                continue
            documents.append(
                PreparedDocument(
                    file_name=Path(name).name, content=content, media_type=MEDIA_TYPES[Path(name).suffix.lower()]
                )
            )
        prepared.append(PreparedAttestation(entry=entry, documents=tuple(documents)))
    if problems:
        raise ConfigError(ImportProblems(tuple(problems)))
    return prepared


@dataclass(frozen=True)
class ImportProblems:
    """Every problem of an import file, one a line under "nothing was imported:", said in either language."""

    problems: tuple[Said, ...]

    def text(self, lang: Literal["vi", "en"]) -> str:
        return "\n".join([said("gov_nothing_imported").text(lang), *(p.text(lang) for p in self.problems)])


def _shown(value: str) -> str:
    return shown(value, 200)  # ids and paths from the file, echoed on one line
