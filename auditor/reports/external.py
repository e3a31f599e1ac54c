"""The agency report's block "Kết quả từ công cụ khác": imported results (``auditor import``) per host and tool,
with the mapped failures and errors listed; the clause verdict itself already counts them (rollup.assess)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from auditor.governance.resolve import OWN_SOURCE, Resolved
from auditor.messages import phrase
from auditor.reports.inert import inert_str
from auditor.reports.models import SEVERITY_ORDER, ExternalResultView, ExternalSectionView, Lang
from auditor.reports.rollup import resolved_keys
from auditor.reports.timing import local
from auditor.store import FindingRow, Store
from auditor.textsafe import inert_text

IMPORTED_PREFIX = "external:"

LISTED_LIMIT = 40  # failing results listed per import; the count says how many there are
OBSERVED_LIMIT = 240


@dataclass(frozen=True)
class ImportedResults:
    """An agency's imported results in effect at a moment: the rows, and each as the verdict judges it."""

    rows: tuple[FindingRow, ...] = ()
    judged: tuple[Resolved, ...] = ()  # what ``assess(..., external=...)`` and ``judge_agency`` take

    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(sorted({row.run_id for row in self.rows}))


def imported_results(store: Store, agency_id: str, as_of: datetime, exclude_run: str | None = None) -> ImportedResults:
    """The latest import per host and tool recorded by ``as_of`` (``auditor import``), attestations and waivers
    applied as of then. Every roll-up of an agency (agency report, summary, yearly report, portal) takes its
    imported results from here, so they all judge the same thing. ``exclude_run``: the run the caller judges."""
    rows = store.external_findings(agency_id, as_of, exclude_run=exclude_run)
    if not rows:
        return ImportedResults()
    return ImportedResults(tuple(rows), tuple(resolved_keys(rows, store.resolved_findings(rows, as_of))))


def source_words(source: str | None, lang: Lang) -> str:
    """Where a result comes from, in words: the auditor's own checks, or e.g. "OpenSCAP (nhập từ công cụ khác)"."""
    if source is None or source == OWN_SOURCE:
        return phrase("external", "source.auditor").get(lang)
    tool = source.removeprefix(IMPORTED_PREFIX)
    if tool in ("openscap", "lynis"):
        return phrase("external", f"source.{tool}").get(lang)
    return phrase("external", "source.other", tool=inert_text(tool)).get(lang)


def imported_sources(sources: Sequence[str]) -> tuple[str, ...]:
    """The imported ones among the sources a verdict names (``external:<tool>``)."""
    return tuple(s for s in sources if s.startswith(IMPORTED_PREFIX))


def external_sections(
    store: Store, rows: Sequence[FindingRow], framework: str, lang: Lang, timezone: str
) -> tuple[ExternalSectionView, ...]:
    """One section per import (run) among ``rows``, times shown in ``timezone`` as DD/MM/YYYY HH:MM."""
    by_run: dict[str, list[FindingRow]] = {}
    for row in rows:
        by_run.setdefault(row.run_id, []).append(row)
    sections = []
    for run_id, found in sorted(by_run.items()):
        run = store.get_run(run_id)
        options = run.options
        mapped = [f for f in found if f.requirements]
        failing = [f for f in mapped if f.status.value in ("fail", "error")]
        failing.sort(key=lambda f: (SEVERITY_ORDER.index(f.severity.value), f.status.value, f.check_id))
        summary = phrase(
            "external",
            "report.summary",
            tool=str(options.get("tool", found[0].source)),
            host=found[0].host_name,
            when=local(run.started_at, ZoneInfo(timezone)).strftime("%d/%m/%Y %H:%M"),
            file=inert_text(str(options.get("file", ""))),
            results=len(found),
            mapped=len(mapped),
            unmapped=len(found) - len(mapped),
        )
        sections.append(
            ExternalSectionView(
                source=found[0].source or "",
                run_id=run_id,
                host_name=found[0].host_name,
                summary=summary.get(lang),
                failing_total=len(failing),
                results=tuple(
                    ExternalResultView(
                        check_id=inert_text(f.check_id),
                        status=f.status.value,
                        severity=f.severity.value,
                        clauses=tuple(r.clause for r in f.requirements if r.framework == framework),
                        observed=inert_str(f.observed, OBSERVED_LIMIT).text,
                        reason=inert_text(f.reason_vi if lang == "vi" else f.reason_en),
                    )
                    for f in failing[:LISTED_LIMIT]
                ),
            )
        )
    return tuple(sections)


def section_words(lang: Lang) -> dict[str, str]:
    """The block's headings in the report's language."""
    keys = ("heading", "intro", "col_result", "col_observed", "none")
    return {key: phrase("external", f"report.{key}").get(lang) for key in keys}
