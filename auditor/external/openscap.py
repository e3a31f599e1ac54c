"""OpenSCAP results: an ARF report collection (``oscap xccdf eval --results-arf``) or plain XCCDF results
(``--results``: a Benchmark holding a TestResult, or a TestResult alone)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from xml.etree.ElementTree import Element

from auditor.errors import ImportFileError
from auditor.external.models import DETAIL_MAX, RESULT_ID_MAX, ToolReport, ToolResult
from auditor.external.xmlsafe import local_name, parse_xml
from auditor.said import said
from auditor.vocabulary import Severity, Status

ROOTS = ("asset-report-collection", "Benchmark", "TestResult")
# XCCDF 1.2 §6.6.4.2 result values; "notselected" is no result: the profile did not ask for the rule.
RESULT_STATUS: dict[str, Status | None] = {
    "pass": Status.passed,
    "fixed": Status.passed,
    "fail": Status.failed,
    "error": Status.error,
    "unknown": Status.error,
    "notapplicable": Status.not_applicable,
    "informational": Status.not_applicable,
    "notchecked": Status.manual,
    "notselected": None,
}
_SEVERITIES = {s.value: s for s in Severity}


def _child(element: Element, name: str) -> Element | None:
    return next((c for c in element if local_name(c) == name), None)


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _rule_titles(root: Element) -> dict[str, str]:
    """Rule id → its title, from the benchmark an ARF or XCCDF file embeds (empty when it embeds none)."""
    return {
        rule.get("id", ""): _text(_child(rule, "title"))[:DETAIL_MAX]
        for rule in root.iter()
        if local_name(rule) == "Rule" and rule.get("id")
    }


def parse_openscap(path: Path, data: bytes) -> ToolReport:
    """The last TestResult of the file (one ``oscap xccdf eval`` writes one); ImportFileError names the file."""
    root = parse_xml(path, data)
    if local_name(root) not in ROOTS:
        raise ImportFileError(
            said("err_import_xml_root", path=path, root=local_name(root), tool="OpenSCAP", roots=", ".join(ROOTS))
        )
    test_results = (
        [root] if local_name(root) == "TestResult" else [e for e in root.iter() if local_name(e) == "TestResult"]
    )
    if not test_results:
        raise ImportFileError(
            said(
                "err_import_xml_no_results",
                path=path,
                element="XCCDF TestResult",
                options="--results or --results-arf",
            )
        )
    test = test_results[-1]
    titles = _rule_titles(root)
    results: dict[str, ToolResult] = {}
    skipped = 0
    for index, rule_result in enumerate(e for e in test if local_name(e) == "rule-result"):
        rule_id = rule_result.get("idref", "")
        raw = _text(_child(rule_result, "result"))
        where = f"{path}: rule-result #{index + 1}"
        if not rule_id or len(rule_id) > RESULT_ID_MAX:
            raise ImportFileError(said("err_import_xml_idref", where=where, attribute="idref", limit=RESULT_ID_MAX))
        if raw not in RESULT_STATUS:
            raise ImportFileError(said("err_import_xml_result", where=where, rule=rule_id, found=raw[:40]))
        status = RESULT_STATUS[raw]
        if status is None:
            skipped += 1
            continue
        results[rule_id] = ToolResult(  # a rule listed twice: the later result stands, as in oscap's own report
            id=rule_id,
            status=status,
            raw=raw,
            severity=_SEVERITIES.get(rule_result.get("severity", "")),
            title=titles.get(rule_id, ""),
            detail=raw,
        )
    profile = _child(test, "profile")
    benchmark = _child(test, "benchmark")
    described = " · ".join(
        part
        for part in (
            benchmark.get("id", "") or benchmark.get("href", "") if benchmark is not None else "",
            profile.get("idref", "") if profile is not None else "",
        )
        if part
    )
    return ToolReport(
        tool="openscap",
        target=_text(_child(test, "target"))[:255],
        benchmark=described[:DETAIL_MAX],
        started_at=_moment(test.get("start-time")),
        finished_at=_moment(test.get("end-time")),
        results=tuple(results.values()),
        skipped=skipped,
    )
