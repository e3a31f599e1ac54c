"""The standing of every agency, shared by the dashboard and the agency pages: the runs that covered it, and its
verdict from its latest finished run with attestations and waivers applied as of now (the report roll-ups'
``assess``, so the pages say what the reports say)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property, partial

from auditor.governance.records import Attestation, Waiver
from auditor.governance.resolve import FindingKey, Resolved, resolve
from auditor.portal.context import Portal
from auditor.portal.runcache import finished, run_cache
from auditor.portal.web import Lang
from auditor.reports.agency import pick_catalogue
from auditor.reports.external import ImportedResults, imported_results
from auditor.reports.locale import strings
from auditor.reports.models import FAILING, SEVERITY_ORDER, AgencyAssessment
from auditor.reports.rollup import assess, effective_status
from auditor.reports.summary import pass_rate
from auditor.store import FindingRow, RunHostRow, RunSummary, Store
from auditor.vocabulary import LocalizedText, Status

MAX_RUNS = 10_000  # every run: the history is small (one run a month is 12 a year)
TREND_RUNS = 24  # bars of the trend charts
_RESOLVABLE = frozenset({Status.manual, Status.failed})  # only these change with attestations and waivers


@dataclass(frozen=True)
class AgencyRun:
    """One run that covered an agency, with the agency's targets in it (their raw finding counts)."""

    run: RunSummary
    hosts: tuple[RunHostRow, ...]

    @cached_property
    def counts(self) -> dict[str, int]:
        total = {status.value: 0 for status in Status}
        for host in self.hosts:
            for status, n in host.finding_counts.items():
                total[status] = total.get(status, 0) + n
        return total

    @property
    def pass_rate(self) -> int | None:
        """Automated results passing, raw (as the summary report's trend counts them), in percent."""
        return pass_rate(self.counts)


@dataclass(frozen=True)
class ImportedRun:
    """One import in effect for the agency (the latest of its host and tool): what the agency page lists."""

    run: RunSummary
    source: str  # external:<tool>
    host_name: str
    counts: dict[str, int]  # results per status, as the tool judged them
    mapped: int  # results mapped to clauses (the others count in no verdict)
    failing: tuple[FindingRow, ...]  # mapped results failing or in error after waivers, the most severe first

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def imported_runs(store: Store, imported: ImportedResults) -> tuple[ImportedRun, ...]:
    by_run: dict[str, list[FindingRow]] = {}
    for row in imported.rows:
        by_run.setdefault(row.run_id, []).append(row)
    statuses = {r.finding_id: r.status.value for r in imported.judged}
    runs = []
    for run_id, rows in by_run.items():
        failing = [f for f in rows if f.requirements and statuses.get(f.id, f.status.value) in FAILING]
        failing.sort(key=lambda f: (SEVERITY_ORDER.index(f.severity.value), f.check_id))
        runs.append(
            ImportedRun(
                run=store.get_run(run_id),
                source=rows[0].source or "",
                host_name=rows[0].host_name,
                counts=dict(Counter(f.status.value for f in rows)),
                mapped=sum(1 for f in rows if f.requirements),
                failing=tuple(failing),
            )
        )
    return tuple(sorted(runs, key=lambda r: (r.host_name, r.source)))


@dataclass(frozen=True)
class Judged:
    """An agency's latest finished run judged as of now: the verdict, and the findings its pages list."""

    assessment: AgencyAssessment
    failing: tuple[FindingRow, ...]  # fail or error after attestations (waived failures too: still failing)
    awaiting: tuple[FindingRow, ...]  # manual items without a valid attestation
    resolved: Mapping[int, Resolved]  # of those findings (the rest resolve to themselves)
    imports: tuple[ImportedRun, ...] = ()  # other tools' results in effect (auditor import), counted in the verdict


@dataclass(frozen=True)
class Standing:
    agency_id: str
    name: LocalizedText
    in_inventory: bool
    runs: tuple[AgencyRun, ...]  # newest first: every run that covered the agency
    latest: AgencyRun | None = None  # the newest finished run
    judged: Judged | None = None

    @property
    def assessment(self) -> AgencyAssessment | None:
        return self.judged.assessment if self.judged else None

    @property
    def failing(self) -> tuple[FindingRow, ...]:
        return self.judged.failing if self.judged else ()

    @property
    def awaiting(self) -> tuple[FindingRow, ...]:
        return self.judged.awaiting if self.judged else ()

    def outcome(self, finding: FindingRow) -> Resolved | None:
        return self.judged.resolved.get(finding.id) if self.judged else None

    def status(self, finding: FindingRow) -> str:
        outcome = self.outcome(finding)
        return outcome.status.value if outcome else finding.status.value

    def waived(self, finding: FindingRow) -> bool:
        outcome = self.outcome(finding)
        return outcome is not None and outcome.waived


def _per_agency(store: Store, run: RunSummary) -> tuple[AgencyRun, ...]:
    per_agency: dict[str, list[RunHostRow]] = {}
    for host in store.list_run_hosts(run.id):
        per_agency.setdefault(host.agency_id, []).append(host)
    return tuple(AgencyRun(run, tuple(hosts)) for hosts in per_agency.values())


def runs_by_agency(store: Store, runs: Sequence[RunSummary] | None = None) -> dict[str, list[AgencyRun]]:
    """Every run (newest first: ``runs``, else the store's) per agency it covered."""
    cache = run_cache(store)
    found: dict[str, list[AgencyRun]] = {}
    for run in store.list_runs(MAX_RUNS) if runs is None else runs:
        covered = cache.get(("agencies", run.id), finished(run), partial(_per_agency, store, run), weight=_hosts_weight)
        for item in covered:
            found.setdefault(item.hosts[0].agency_id, []).append(item)
    return found


def _hosts_weight(covered: tuple[AgencyRun, ...]) -> int:
    return sum(len(item.hosts) for item in covered)


def resolve_findings(
    findings: Sequence[FindingRow], attestations: Sequence[Attestation], waivers: Sequence[Waiver], as_of: datetime
) -> dict[int, Resolved]:
    """As ``Store.resolved_findings``, for the findings attestations and waivers can change (the rest resolve to
    themselves, which every reader of the answer assumes for a finding it does not hold)."""
    keys = [
        FindingKey(finding_id=f.id, agency_id=f.agency_id, target=f.host_name, check_id=f.check_id, status=f.status)
        for f in findings
        if f.status in _RESOLVABLE
    ]
    return {r.finding_id: r for r in resolve(keys, attestations, waivers, as_of)}


GovernanceState = tuple[frozenset[int], frozenset[int], frozenset[int]]


def governance_state(attestations: Sequence[Attestation], waivers: Sequence[Waiver], now: datetime) -> GovernanceState:
    """Everything ``resolve`` reads of the agency's governance at ``now``: the attestations recorded, those valid,
    the waivers active (each is append-only: its id names its content)."""
    recorded = [a for a in attestations if a.recorded_at <= now]
    return (
        frozenset(a.id for a in recorded),
        frozenset(a.id for a in recorded if a.attested_at <= now <= a.valid_until),
        frozenset(w.id for w in waivers if w.active(now)),
    )


def judge(
    portal: Portal,
    latest: AgencyRun,
    agency_id: str,
    lang: Lang,
    governance: tuple[Sequence[Attestation], Sequence[Waiver]],
    now: datetime,
    imported: ImportedResults | None = None,
) -> Judged:
    imported = imported or ImportedResults()
    findings = portal.store.list_findings(latest.run.id, agency_id=agency_id)
    resolved = resolve_findings(findings, *governance, now)
    catalogue = pick_catalogue(portal.content, None)
    assessment = assess(
        latest.run,
        agency_id,
        latest.hosts,
        findings,
        resolved,
        catalogue,
        lang,
        strings(lang),
        portal.content,
        external=imported.judged,
    )
    statuses = {f.id: effective_status(f, resolved) for f in findings}
    failing = tuple(f for f in findings if statuses[f.id] in FAILING)
    awaiting = tuple(f for f in findings if statuses[f.id] == "manual")
    kept = {f.id: resolved[f.id] for f in (*failing, *awaiting) if f.id in resolved}
    return Judged(
        assessment=assessment,
        failing=failing,
        awaiting=awaiting,
        resolved=kept,
        imports=imported_runs(portal.store, imported),
    )


def standing_of(
    portal: Portal,
    agency_id: str,
    runs: Sequence[AgencyRun],
    names: Mapping[str, LocalizedText],
    lang: Lang,
) -> Standing:
    """The agency's verdict from its newest finished run, attestations and waivers as of now. A finished run does
    not change and ``resolve`` depends on nothing but the governance state, so a judgement is reused for as long as
    that state holds (a new attestation, an expiry or a revocation makes a new one)."""
    latest = next((r for r in runs if finished(r.run)), None)
    name = names.get(agency_id) or (runs[0].hosts[0].agency_name if runs else LocalizedText(vi=agency_id, en=agency_id))
    standing = Standing(
        agency_id=agency_id, name=name, in_inventory=agency_id in names, runs=tuple(runs), latest=latest
    )
    if latest is None:
        return standing
    store, now = portal.store, portal.now()
    attestations, waivers = store.list_attestations(agency_id, now), store.list_waivers(agency_id, now)
    imported = imported_results(store, agency_id, now, exclude_run=latest.run.id)  # as the reports take them
    state = governance_state(attestations, waivers, now)
    judged = run_cache(store).get(  # a new import in effect makes a new judgement, as a new attestation does
        ("judged", latest.run.id, agency_id, lang, state, imported.run_ids),
        True,
        partial(judge, portal, latest, agency_id, lang, (attestations, waivers), now, imported),
        weight=_judged_weight,
    )
    return replace(standing, judged=judged)


def _judged_weight(judged: Judged) -> int:
    return len(judged.failing) + len(judged.awaiting) + len(judged.assessment.clauses)


def all_standings(portal: Portal, lang: Lang, every_run: Sequence[RunSummary] | None = None) -> list[Standing]:
    """Every agency the store audited or the inventory lists, by id."""
    runs = runs_by_agency(portal.store, every_run)
    names = portal.agency_names()
    return [
        standing_of(portal, agency_id, runs.get(agency_id, []), names, lang) for agency_id in sorted({*runs, *names})
    ]


def agency_standing(portal: Portal, agency_id: str, lang: Lang) -> Standing | None:
    """One agency's standing; None when neither the store nor the inventory knows it."""
    runs = runs_by_agency(portal.store)
    names = portal.agency_names()
    if agency_id not in runs and agency_id not in names:
        return None
    return standing_of(portal, agency_id, runs.get(agency_id, []), names, lang)


@dataclass(frozen=True)
class SparkBar:
    x: int
    y: int
    height: int
    label: str


@dataclass(frozen=True)
class Spark:
    """A small inline bar chart of an agency's pass rate over its runs (oldest on the left)."""

    width: int
    height: int
    bars: tuple[SparkBar, ...]


def spark(runs: Sequence[AgencyRun], height: int = 28, bar: int = 5) -> Spark:
    shown = [r for r in reversed(runs[:TREND_RUNS]) if r.pass_rate is not None]
    bars = []
    for index, item in enumerate(shown):
        rate = item.pass_rate or 0
        tall = max(1, rate * height // 100)
        bars.append(
            SparkBar(
                x=index * (bar + 1), y=height - tall, height=tall, label=f"{item.run.started_at:%Y-%m-%d}: {rate}%"
            )
        )
    return Spark(width=max(bar, len(bars) * (bar + 1)), height=height, bars=tuple(bars))
