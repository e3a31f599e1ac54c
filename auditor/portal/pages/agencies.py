"""The agencies: the list with each one's latest verdict, one agency's page (verdict, what to fix, documents
awaited and sent, the history of its audits, reports) and the drill-down of one run: targets, then findings."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import partial

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from auditor.content.loader import Content
from auditor.errors import NotFoundError
from auditor.governance.records import MEDIA_TYPES
from auditor.portal.access import Access, Scope, principal, route
from auditor.portal.context import portal_of
from auditor.portal.fixes import Affected, fix_list
from auditor.portal.runcache import finished, run_cache
from auditor.portal.standings import AgencyRun, Standing, agency_standing, all_standings, spark
from auditor.portal.uploads import agency_items, upload_limit
from auditor.portal.web import Lang, lang_of, render
from auditor.reports.agency import resolved_note
from auditor.reports.external import source_words
from auditor.reports.models import SEVERITY_ORDER
from auditor.reports.rollup import refs_of
from auditor.store import FindingRow, RunHostRow, RunSummary, Store
from auditor.store.runs import IMPORT_KIND
from auditor.store.views import SubmissionRow

router = APIRouter()
CHANGES = ("new", "regressed", "still_failing", "fixed", "not_rechecked")
_STATUS_ORDER = ("fail", "error", "manual", "pass", "not_applicable")


@route(router, "/agencies", access=Access.read_all)
def agencies(request: Request) -> Response:
    portal, lang = portal_of(request), lang_of(request)
    standings = all_standings(portal, lang)
    return render(
        request, "agencies.html.j2", {"standings": standings, "sparks": {s.agency_id: spark(s.runs) for s in standings}}
    )


@dataclass(frozen=True)
class HistoryRow:
    item: AgencyRun
    previous: AgencyRun | None
    changes: dict[str, int]  # diff_runs against the previous run that covered the agency, per kind of change


def changes_between(store: Store, run_id: str, previous_id: str, agency_id: str) -> dict[str, int]:
    """How many (target, check) pairs ``diff_runs`` finds new, regressed, still failing, fixed or not re-checked."""
    counted = Counter(str(entry.change) for entry in store.diff_runs(run_id, previous_id, agency_id).entries)
    return {change: counted.get(change, 0) for change in CHANGES}


def history(store: Store, standing: Standing) -> list[HistoryRow]:
    """Every run that covered the agency, newest first, with the change since the one before it."""
    cache = run_cache(store)
    rows = []
    for index, item in enumerate(standing.runs):
        previous = standing.runs[index + 1] if index + 1 < len(standing.runs) else None
        changes: dict[str, int] = {}
        if previous is not None:
            changes = cache.get(
                ("changes", item.run.id, previous.run.id, standing.agency_id),
                finished(item.run) and finished(previous.run),
                partial(changes_between, store, item.run.id, previous.run.id, standing.agency_id),
                weight=lambda _changes: 1,
            )
        rows.append(HistoryRow(item=item, previous=previous, changes=changes))
    return rows


@dataclass(frozen=True)
class AwaitedItem:
    """A manual item of the latest run without a valid attestation."""

    finding: FindingRow
    title: str
    evidence_required: str
    clauses: tuple[str, ...]
    note: str  # e.g. the evidence expired on …
    pending: tuple[SubmissionRow, ...]  # documents sent for it, not yet decided


def awaited_items(
    standing: Standing, content: Content, submissions: list[SubmissionRow], lang: Lang
) -> list[AwaitedItem]:
    items = []
    for finding in standing.awaiting:
        check = content.checks.get(finding.check_id)
        required = check.evidence_required.get(lang) if check and check.evidence_required else ""
        items.append(
            AwaitedItem(
                finding=finding,
                title=check.title.get(lang) if check else finding.check_id,
                evidence_required=required,
                clauses=tuple(f"{r.framework} {r.clause}" for r in refs_of(finding, content)),
                note=resolved_note(standing.outcome(finding), lang),
                pending=tuple(s for s in submissions if s.check_id == finding.check_id and s.decision is None),
            )
        )
    return sorted(items, key=lambda i: (SEVERITY_ORDER.index(i.finding.severity.value), i.finding.check_id))


@route(router, "/agencies/{agency_id}", access=Access.agency_read, scope=Scope.agency)
def agency_page(request: Request, agency_id: str, notice: str = "", error: str = "") -> Response:
    portal, lang = portal_of(request), lang_of(request)
    standing = agency_standing(portal, agency_id, lang)
    if standing is None:
        raise HTTPException(status_code=404)
    who = principal(request)
    # its contact and time zone: the inventory's, else as its latest run recorded them
    owner = portal.agency_owner(agency_id, standing.latest.run.id if standing.latest else None)
    settings = owner.settings
    submissions = portal.store.list_submissions(agency_id)
    titles = {check_id: title for check_id, title in agency_items(portal.content, lang)}
    imports = standing.judged.imports if standing.judged else ()  # other tools' results the verdict counts
    context = {
        "standing": standing,
        "assessment": standing.assessment,
        "fixes": fix_list(standing, portal.content, lang),
        "awaited": awaited_items(standing, portal.content, submissions, lang),
        "submissions": submissions,
        "item_titles": titles,
        "history": history(portal.store, standing),
        "can_upload": who.role in ("officer", "agency") and agency_id in portal.store.known_agencies(),
        "upload_limit_mb": max(1, upload_limit(portal) // (1024 * 1024)),
        "accept": ",".join(MEDIA_TYPES),
        "now": portal.now(),
        "owner": owner.contact,
        "timezone": settings.timezone,
        "zone": settings.zone,  # every time on the page in the agency's local time
        "imports": imports,
        "source_words": {i.source: source_words(i.source, lang) for i in imports},
        "notice": notice,
        "error": error,
    }
    return render(request, "agency.html.j2", context)


@dataclass(frozen=True)
class TargetFindings:
    host: RunHostRow
    findings: tuple[Affected, ...]


@route(router, "/agencies/{agency_id}/runs/{run_id}", access=Access.agency_read, scope=Scope.agency)
def run_page(request: Request, agency_id: str, run_id: str, host: str = "") -> Response:
    """The run's targets of this agency; with ``host``, every finding of that target (else those to act on)."""
    portal, lang = portal_of(request), lang_of(request)
    try:
        run = portal.store.get_run(run_id)
    except NotFoundError:
        raise HTTPException(status_code=404) from None
    hosts = portal.store.list_run_hosts(run.id, agency_id=agency_id) if run.id == run_id else []
    if not hosts or (host and host not in {h.host_name for h in hosts}):
        raise HTTPException(status_code=404)  # the run did not cover this agency (or that target)
    findings = portal.store.list_findings(run.id, agency_id=agency_id, host_name=host or None)
    resolved = portal.store.resolved_findings(findings, portal.now())
    shown: dict[str, list[Affected]] = {}
    for finding in findings:
        outcome = resolved.get(finding.id)
        status = outcome.status.value if outcome else finding.status.value
        if host or status in ("fail", "error", "manual"):
            waived = outcome is not None and outcome.waived
            shown.setdefault(finding.host_name, []).append(
                Affected(finding, status, resolved_note(outcome, lang), waived)
            )
    groups = [
        TargetFindings(
            host=h,
            findings=tuple(
                sorted(
                    shown.get(h.host_name, []),
                    key=lambda a: (
                        _STATUS_ORDER.index(a.status) if a.status in _STATUS_ORDER else 9,
                        SEVERITY_ORDER.index(a.finding.severity.value),
                        a.finding.check_id,
                    ),
                )
            ),
        )
        for h in sorted(hosts, key=lambda h: (h.kind == "agency", h.host_name))  # servers first, documents last
        if not host or h.host_name == host
    ]
    titles = {check_id: check.title.get(lang) for check_id, check in portal.content.checks.items()}
    sources = {f.source for f in findings if f.source} | ({str(run.options["source"])} if _imported(run) else set())
    context = {
        "zone": portal.agency_owner(agency_id, run.id).settings.zone,  # the agency's local time
        "source": source_words(str(run.options["source"]), lang) if _imported(run) else "",
        "source_words": {source: source_words(source, lang) for source in sources},
        "run": run,
        "agency_id": agency_id,
        "agency_name": hosts[0].agency_name.get(lang),
        "hosts": hosts,
        "host": host,
        "groups": groups,
        "titles": titles,
    }
    return render(request, "agency_run.html.j2", context)


def _imported(run: RunSummary) -> bool:
    """The run is an import of another tool's results (auditor import), not an audit."""
    return run.options.get("kind") == IMPORT_KIND and bool(run.options.get("source"))
