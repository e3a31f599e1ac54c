"""Lynis results: ``report.dat`` (``key=value`` lines; ``warning[]=`` and ``suggestion[]=`` entries
``TEST-ID|text|details|solution``; ``tests_executed=`` and ``tests_skipped=`` lists separated by ``|``).

A test Lynis ran is a result: failed when it raised a warning (severity high) or a suggestion (severity low),
passed otherwise. Without ``tests_executed`` only the tests that raised something are results.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from auditor.errors import ImportFileError
from auditor.external.models import DETAIL_MAX, ToolReport, ToolResult
from auditor.said import said
from auditor.vocabulary import Severity, Status

TEST_ID = re.compile(
    r"^[A-Z][A-Z0-9]{1,15}(-[0-9]{3,6})?$"
)  # SSH-7408, AUTH-9286, CUST-0010, LYNIS (the release check)
_MARKERS = ("lynis_version", "report_version_major")  # every report.dat starts with these
_TOOL = "Lynis"  # names of the tool and its file, as they are written in either language
_FILE = "report.dat"
_NO_DETAIL = {"", "-"}


def _moment(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def _note(kind: str, fields: list[str]) -> str:
    """``warning: text (details)`` from an entry's fields after the test id."""
    text = fields[0].strip() if fields else ""
    details = fields[1].strip() if len(fields) > 1 and fields[1].strip() not in _NO_DETAIL else ""
    return f"{kind}: {text}" + (f" ({details})" if details else "")


def _test_ids(path: Path, number: int, value: str) -> list[str]:
    ids = [part.strip() for part in value.split("|") if part.strip()]
    bad = [i for i in ids if not TEST_ID.match(i)]
    if bad:
        raise ImportFileError(said("err_import_lynis_bad_id", path=path, number=number, tool=_TOOL, found=bad[0][:40]))
    return ids


def parse_lynis(path: Path, data: bytes) -> ToolReport:
    """ImportFileError names the file and the line when the file is not a Lynis report or an entry is malformed."""
    if b"\0" in data:
        raise ImportFileError(said("err_import_lynis_binary", path=path, tool=_TOOL, name=_FILE))
    text = data.decode("utf-8", errors="replace")
    values: dict[str, str] = {}
    notes: dict[str, list[tuple[str, str]]] = {}  # test id → (kind, note) in file order
    executed: list[str] = []
    skipped: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ImportFileError(
                said("err_import_lynis_line", path=path, number=number, form="key=value", found=line[:40])
            )
        if key in ("warning[]", "suggestion[]"):
            test_id, *fields = value.split("|")
            if not TEST_ID.match(test_id):
                raise ImportFileError(
                    said(
                        "err_import_lynis_entry_id",
                        path=path,
                        number=number,
                        entry=key,
                        tool=_TOOL,
                        found=test_id[:40],
                    )
                )
            notes.setdefault(test_id, []).append((key[:-2], _note(key[:-2], fields)))
        elif key == "tests_executed":
            executed += _test_ids(path, number, value)
        elif key == "tests_skipped":
            skipped += _test_ids(path, number, value)
        elif not key.endswith("[]"):
            values[key] = value
    if not any(marker in values for marker in _MARKERS):
        raise ImportFileError(
            said("err_import_lynis_not_report", path=path, tool=_TOOL, name=_FILE, markers=" or ".join(_MARKERS))
        )
    results = []
    for test_id in dict.fromkeys([*executed, *notes]):
        raised = notes.get(test_id, [])
        kinds = {kind for kind, _note_text in raised}
        severity = Severity.high if "warning" in kinds else Severity.low if kinds else None
        results.append(
            ToolResult(
                id=test_id,
                status=Status.failed if raised else Status.passed,
                raw="warning" if "warning" in kinds else "suggestion" if kinds else "executed",
                severity=severity,
                detail="; ".join(note for _kind, note in raised)[:DETAIL_MAX],
            )
        )
    return ToolReport(
        tool="lynis",
        target=values.get("hostname", "")[:255],
        benchmark=f"Lynis {values['lynis_version']}"[:DETAIL_MAX] if values.get("lynis_version") else "Lynis",
        started_at=_moment(values.get("report_datetime_start", "")),
        finished_at=_moment(values.get("report_datetime_end", "")),
        results=tuple(results),
        skipped=len(set(skipped) - set(executed)),
    )
