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


class GroupView(_View):
    id: str
    heading: str
    clauses_total: int
    clauses_demonstrated: int
    clauses_failed: int
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


class HostView(_View):
    name: str
    address: str
    status: str
    error: str
    os: str
    counts: dict[str, int]


class AffectedHost(_View):
    host_name: str
    status: str
    note: str  # waiver or attestation note, "" when none
    observed: TrimmedText
    expected: str
    reason: str
    evidence_ref: str  # anchor of the evidence in the appendix, "" when none


class FindingView(_View):
    check_id: str
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
    assessment: AgencyAssessment
    scope: ScopeView
    group_chart: Chart
    severity_chart: Chart
    hosts: tuple[HostView, ...]
    findings: tuple[FindingView, ...]
    manual_items: tuple[ManualItemView, ...]
    evidence: tuple[EvidenceView, ...]
    diff: DiffView | None


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
