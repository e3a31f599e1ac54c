"""View models of the reports: everything a template shows, computed in Python, already in one language."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from auditor.governance.resolve import ClauseState, VerdictOutcome

Lang = Literal["vi", "en"]
SEVERITY_ORDER: tuple[str, ...] = ("critical", "high", "medium", "low")
FAILING: frozenset[str] = frozenset({"fail", "error"})


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TrimmedText(_View):
    """Target output made inert (control characters escaped, invalid UTF-8 shown as \\xNN) and cut."""

    text: str
    total_bytes: int
    omitted_bytes: int


class ClauseView(_View):
    id: str
    group_id: str
    heading: str
    state: ClauseState
    findings: int
    failed: int
    errors: int
    waived: int
    pending: int
    sources: tuple[str, ...] = ()  # what evidences it: "auditor" and/or "external:<tool>" (imported results)


class GroupView(_View):
    id: str
    heading: str
    clauses_total: int
    clauses_demonstrated: int
    clauses_failed: int
    clauses_met: int = 0  # met, met with waivers or not applicable (= clauses_demonstrated)
    clauses_not_met: int = 0  # failed, or a check could not be observed
    clauses_awaiting: int = 0  # manual items awaiting evidence
    clauses_not_evaluated: int = 0  # nothing in the run answers them
    score_pct: int  # demonstrated clauses / clauses, 0..100
    state: ClauseState  # the worst clause state of the group
    heat: int  # 0 (worst) .. 4 (best): the colour bucket of the heat-map


class Bar(_View):
    """One bar of an inline SVG chart; geometry computed here, the template only draws."""

    label: str
    value: int
    bar_y: int
    text_y: int
    width: int
    value_x: int
    css: str


class Chart(_View):
    width: int
    height: int
    label_width: int
    track_width: int
    bars: tuple[Bar, ...]


class Segment(_View):
    state: str  # met, not_met, awaiting_evidence, not_evaluated
    value: int
    x: int
    width: int


class StackedBar(_View):
    label: str
    y: int
    text_y: int
    segments: tuple[Segment, ...]


class StackedChart(_View):
    """Clauses of each requirement group by state, one bar per group; geometry computed here."""

    width: int
    height: int
    label_width: int
    track_width: int
    states: tuple[str, ...]
    bars: tuple[StackedBar, ...]


class HostView(_View):
    """One target of the agency (server, website, network service, the agency's documents) with its results,
    counted from the same findings as the roll-up so that the rows add up to its totals."""

    name: str
    address: str
    kind: str = "host"
    status: str
    error: str
    os: str
    counts: dict[str, int]


class AffectedHost(_View):
    """One row of a finding: the targets where one check saw the same thing (same status, value and reason)."""

    host_names: tuple[str, ...]
    status: str
    note: str  # waiver or attestation note, "" when none
    observed: TrimmedText
    expected: str
    reason: str
    evidence_refs: tuple[str, ...]  # anchors of the evidence in the appendix, one per target that has one


class FindingView(_View):
    """One cause to fix: a failing check, or one port reachable from outside seen by several network checks."""

    cause: str = ""  # the roll-up's cause key: the check id, or "port:<label>"
    check_id: str  # the check; for a port, the checks that observed it, comma-separated
    title: str
    severity: str
    status: str  # the worst status over the affected hosts
    clauses: tuple[str, ...]  # "TCVN 11930:2017 7.2.2.1"
    rationale: str
    steps: tuple[str, ...]
    playbook: str
    hosts: tuple[AffectedHost, ...]


class ManualItemView(_View):
    check_id: str
    title: str
    severity: str
    evidence_required: str
    clauses: tuple[str, ...]
    targets: tuple[str, ...]


class EvidenceView(_View):
    ref: str
    host_name: str
    probe_id: str
    check_ids: tuple[str, ...]
    collected_at: datetime
    outcome: str
    exit_code: int | None
    duration_s: float
    sha256: str
    verified: bool
    truncated_on_target: bool
    command: TrimmedText
    stdout: TrimmedText
    stdout_excerpt: bool = False  # a shared source: only the lines the checks above read
    stdout_bytes: int = 0  # of the whole stored stdout
    stderr: TrimmedText


class DiffEntry(_View):
    host_name: str
    check_id: str
    title: str
    severity: str
    before: str  # "" when the pair was not audited before
    after: str  # "" when the pair is not audited now


class DiffView(_View):
    previous_run_id: str
    previous_started_at: datetime
    new: tuple[DiffEntry, ...]
    fixed: tuple[DiffEntry, ...]
    regressed: tuple[DiffEntry, ...]
    still_failing: tuple[DiffEntry, ...]
    not_rechecked: tuple[DiffEntry, ...]


class ScopeView(_View):
    hosts: tuple[tuple[str, str], ...]  # (name, address)
    websites: tuple[str, ...]  # website targets of the run
    services: tuple[str, ...]  # network service targets of the run (tcp://address:port)
    networks: tuple[str, ...]  # from run options["scope"][agency]["networks"] when the run recorded them


class AgencyAssessment(_View):
    """The roll-up of one agency in one run, shared by the agency report and the department summary."""

    agency_id: str
    name_vi: str
    name_en: str
    run_id: str
    started_at: datetime
    verdict: VerdictOutcome
    verdict_reasons: tuple[str, ...]
    groups: tuple[GroupView, ...]
    clauses: tuple[ClauseView, ...]
    status_counts: dict[str, int]
    severity_failing: dict[str, int]  # failing findings (fail + error) per severity
    failing_checks: tuple[str, ...]  # check ids that fail or error on at least one target
    waived: int  # failures accepted through active waivers (still counted as failing results)
    hosts_total: int
    hosts_error: int
    manual_pending: int
    clauses_demonstrated: int
    clauses_total: int
    # What each figure of the reports counts (results are (check, target) pairs after attestations and waivers):
    results_failed: int = 0  # failing results no waiver covers
    results_error: int = 0  # results that could not be observed ("could not check")
    results_failed_by_scope: dict[str, int] = {}  # results_failed split by check scope: host (SSH), network
    causes: tuple[str, ...] = ()  # causes to fix: failing checks, exposure checks merged into one per port
    targets_total: int = 0  # every target of the agency: servers, websites, network services, its documents
    sources: tuple[str, ...] = ()  # what evidences its clauses: "auditor" and/or "external:<tool>" (auditor import)


class FixAction(_View):
    """One action of the fix-first plan: fixing one cause everywhere."""

    cause: str
    title: str
    severity: str
    score: int  # severity weight × (clauses unlocked + 1) × hosts affected
    clauses_unlocked: tuple[str, ...]  # clauses that become met once this cause passes everywhere
    hosts: tuple[str, ...]
    steps: tuple[str, ...]
    playbook: str
    due: datetime  # audit date + the profile's deadline for the severity
    owner: str  # the agency's contact (inventory, or as the run recorded it), "" when none


class FixPlan(_View):
    actions: tuple[FixAction, ...]
    already_good_groups: tuple[str, ...]  # requirement groups every clause of which is met
    already_good_clauses: int  # clauses met (all groups)


class ExternalResultView(_View):
    """A mapped failure or error another tool reported (auditor import)."""

    check_id: str
    status: str
    severity: str
    clauses: tuple[str, ...]
    observed: str
    reason: str


class ExternalSectionView(_View):
    """One import of one tool for one host, as the agency report lists it."""

    source: str  # external:<tool>
    run_id: str
    host_name: str
    summary: str
    failing_total: int
    results: tuple[ExternalResultView, ...]


class AgencyReport(_View):
    kind: Literal["agency"] = "agency"
    lang: Lang
    generated_at: datetime
    as_of: datetime  # attestations and waivers are judged at this moment
    tool_version: str
    checklist_version: str
    run_status: str
    finished_at: datetime | None
    framework: str
    framework_title: str
    framework_provisional: bool
    timezone: str = "Asia/Ho_Chi_Minh"  # times are stored in UTC and shown in this zone
    assessment: AgencyAssessment
    plan: FixPlan | None = None
    scope: ScopeView
    group_chart: StackedChart
    severity_chart: Chart
    hosts: tuple[HostView, ...]
    findings: tuple[FindingView, ...]
    manual_items: tuple[ManualItemView, ...]
    evidence: tuple[EvidenceView, ...]
    diff: DiffView | None
    external: tuple[ExternalSectionView, ...] = ()  # results of other tools in effect (auditor import)
    external_words: dict[str, str] = {}  # the block's headings in the report's language


class TrendPoint(_View):
    run_id: str
    started_at: datetime
    agencies_total: int
    agencies_meeting: int
    pass_rate_pct: int  # passed / (passed + failed + errors) findings
    x: int
    bar_width: int
    label_x: int  # centre of the slot, for the labels
    height: int  # bar height in the SVG, from pass_rate_pct
    y: int
    value_y: int


class RecurringFailure(_View):
    check_id: str
    title: str
    severity: str
    agencies: tuple[str, ...]
    hosts: int


class SummaryReport(_View):
    kind: Literal["summary"] = "summary"
    lang: Lang
    generated_at: datetime
    tool_version: str
    framework: str
    framework_title: str
    framework_provisional: bool
    run_ids: tuple[str, ...]
    groups: tuple[tuple[str, str], ...]  # (id, heading) columns of the heat-map
    agencies: tuple[AgencyAssessment, ...]  # the latest assessment of each agency among the runs
    meeting: tuple[str, ...]  # agency ids that meet level 3 in their latest run
    trend: tuple[TrendPoint, ...]
    trend_width: int
    trend_height: int
    recurring: tuple[RecurringFailure, ...]
    report_year: int
    reporting_deadline: datetime  # the next yearly reporting date after generated_at (profile input)
    timezone: str = "Asia/Ho_Chi_Minh"
    source_words: dict[str, str] = {}  # imported sources the agencies' verdicts rest on (external:<tool>), in words
