"""Build the agency remediation report from the store (and the content for titles, rationale and fixes)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from auditor.content.catalogue import Catalogue
from auditor.content.checks import Probe
from auditor.content.loader import Content
from auditor.content.select import source_lines
from auditor.content.sources import SOURCE_PREFIX
from auditor.errors import NotFoundError
from auditor.evaluation.expected_words import expected_in_words
from auditor.foreign import foreign
from auditor.governance.resolve import Resolved
from auditor.inventory import Contact
from auditor.reports.causes import PORT_CAUSE_PREFIX, group_by_cause
from auditor.reports.diff import diff_view
from auditor.reports.external import external_sections, imported_results, section_words
from auditor.reports.inert import inert_bytes, inert_str
from auditor.reports.locale import Strings, strings
from auditor.reports.models import (
    FAILING,
    SEVERITY_ORDER,
    AffectedHost,
    AgencyReport,
    DiffView,
    EvidenceView,
    FindingView,
    HostView,
    Lang,
    ManualItemView,
    ScopeView,
)
from auditor.reports.plan import fix_plan
from auditor.reports.rollup import (
    assess,
    bar_chart,
    clause_key,
    effective_status,
    group_state_chart,
    refs_of,
    resolved_keys,
)
from auditor.reports.timing import ReportSettings, report_settings
from auditor.said import Said
from auditor.store import FindingRow, RunHostRow, RunSummary, Store
from auditor.textsafe import inert_text

STDOUT_LIMIT = 600  # bytes of each evidence stdout shown in the appendix (the store keeps it whole)
STDERR_LIMIT = 400
COMMAND_LIMIT = 120  # the command's first lines name it; the store and the evidence bundle keep it whole
OBSERVED_LIMIT = 160  # bytes of a finding's observed value in its table; the appendix holds the evidence
DEFAULT_FRAMEWORK = "TCVN 11930:2017"
_STATUS_RANK = {"error": 0, "fail": 1}
_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“(]?[^\W\d_a-zà-ỹ])")


def pick_catalogue(content: Content, framework: str | None) -> Catalogue:
    if not content.catalogues:
        raise NotFoundError(foreign("report_no_catalogue"))
    wanted = framework or (DEFAULT_FRAMEWORK if DEFAULT_FRAMEWORK in content.catalogues else None)
    if wanted is None:
        return next(iter(content.catalogues.values()))
    if wanted not in content.catalogues:
        raise NotFoundError(
            foreign("report_catalogue_unknown", framework=repr(wanted), known=", ".join(content.catalogues))
        )
    return content.catalogues[wanted]


def remediation_steps(text: str) -> tuple[str, ...]:
    """A remediation text as numbered steps: its lines when it has several, else its sentences."""
    lines = [_LIST_MARK.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > 1:
        return tuple(lines)
    return tuple(part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip())


def target_label(host_name: str, strings_: Strings) -> str:
    return strings_.get("agency_target") if host_name.startswith("agency:") else host_name


class CheckTexts:
    """Titles and remediation from the content in one language; a check unknown to it (older run, own content) shows
    its id. The portal's pages show the same texts."""

    def __init__(self, content: Content, lang: Lang) -> None:
        self.content = content
        self.lang = lang
        self.strings = strings(lang)

    def title(self, check_id: str) -> str:
        check = self.content.checks.get(check_id)
        return check.title.get(self.lang) if check else check_id

    def titles(self) -> dict[str, str]:
        """Every check's title, by id."""
        return {check_id: check.title.get(self.lang) for check_id, check in self.content.checks.items()}

    def rationale(self, check_id: str) -> str:
        check = self.content.checks.get(check_id)
        return check.rationale.get(self.lang) if check else ""

    def steps(self, check_id: str) -> tuple[str, ...]:
        check = self.content.checks.get(check_id)
        return remediation_steps(check.remediation.vi if self.lang == "vi" else check.remediation.en) if check else ()

    def playbook(self, check_id: str) -> str:
        check = self.content.checks.get(check_id)
        return (check.remediation.playbook or "") if check else ""

    def evidence_required(self, check_id: str) -> str:
        check = self.content.checks.get(check_id)
        return check.evidence_required.get(self.lang) if check and check.evidence_required else ""


def build_agency_report(
    store: Store,
    content: Content,
    run_ref: str,
    agency_id: str,
    lang: Lang = "vi",
    framework: str | None = None,
    now: datetime | None = None,
    as_of: datetime | None = None,
    contact: Contact | None = None,
    settings: ReportSettings | None = None,
) -> AgencyReport:
    """``as_of``: the moment attestations and waivers are judged at (default: now); ``contact``: the agency's
    contact (from the inventory, or the name and title the run recorded: ``reports.owner``), named as the owner
    of the fix-first plan; ``settings``: time zone and fix deadlines (default: the profile's inputs)."""
    moment = now or datetime.now(UTC)
    settings = settings or report_settings(content.profile)
    run = store.get_run(run_ref)
    hosts = store.list_run_hosts(run.id)
    own_hosts = [h for h in hosts if h.agency_id == agency_id]
    if not own_hosts:
        known: str | Said = ", ".join(sorted({h.agency_id for h in hosts})) or foreign("own_none")
        raise NotFoundError(foreign("report_agency_not_in_run", run=run.id, agency=repr(agency_id), known=known))
    findings = store.list_findings(run.id, agency_id=agency_id)
    catalogue = pick_catalogue(content, framework)
    t = strings(lang)
    texts = CheckTexts(content, lang)
    resolved = store.resolved_findings(findings, as_of or moment)
    in_effect = imported_results(store, agency_id, as_of or moment, exclude_run=run.id)  # auditor import
    imported, imported_keys = list(in_effect.rows), list(in_effect.judged)
    assessment = assess(
        run, agency_id, own_hosts, findings, resolved, catalogue, lang, t, content, external=imported_keys
    )
    failing = [f for f in findings if effective_status(f, resolved) in FAILING]
    causes = group_by_cause(failing, content)  # the same grouping as assessment.causes
    finding_views = _finding_views(causes, resolved, catalogue, content, texts)
    plan = fix_plan(
        assessment,
        causes,
        [*resolved_keys(findings, resolved), *imported_keys],
        catalogue,
        {v.cause: (v.title, v.steps, v.playbook) for v in finding_views},
        settings,
        _owner(contact),
    )
    severity_css = {"critical": "sev-critical", "high": "sev-high", "medium": "sev-medium", "low": "sev-low"}
    worst = max(assessment.severity_failing.values(), default=0)
    return AgencyReport(
        lang=lang,
        generated_at=moment,
        as_of=as_of or moment,
        tool_version=run.tool_version,
        checklist_version=run.checklist_version,
        run_status=run.status.value,
        finished_at=run.finished_at,
        framework=catalogue.framework,
        framework_title=catalogue.title.get(lang),
        framework_provisional=catalogue.provisional,
        timezone=settings.timezone,
        assessment=assessment,
        plan=plan,
        scope=_scope(run, agency_id, own_hosts),
        group_chart=group_state_chart(assessment.groups),
        severity_chart=bar_chart(
            [(t.get(f"severity_{s}"), n, severity_css[s]) for s, n in assessment.severity_failing.items()],
            max(worst, 1),
        ),
        hosts=tuple(_host_view(h, findings, resolved, t) for h in own_hosts),
        findings=finding_views,
        manual_items=_manual_items(
            [f for f in findings if effective_status(f, resolved) == "manual"], catalogue.framework, content, texts, t
        ),
        evidence=_evidence(store, failing, content),
        diff=_diff(store, run, agency_id, texts),
        external=external_sections(store, imported, catalogue.framework, lang, settings.timezone),
        external_words=section_words(lang),
    )


def _scope(run: RunSummary, agency_id: str, hosts: Sequence[RunHostRow]) -> ScopeView:
    """Hosts, websites and services are the run's targets; networks only when the run recorded them in
    ``options["scope"][agency]["networks"]``."""
    recorded = run.options.get("scope", {})
    own = recorded.get(agency_id, {}) if isinstance(recorded, dict) else {}
    networks = own.get("networks", ()) if isinstance(own, dict) else ()
    return ScopeView(
        hosts=tuple((h.host_name, h.address) for h in hosts if h.kind == "host"),
        websites=tuple(inert_text(h.host_name) for h in hosts if h.kind == "website"),
        services=tuple(inert_text(h.host_name) for h in hosts if h.kind == "service"),
        networks=tuple(inert_text(str(n)) for n in networks if isinstance(networks, list | tuple)),
    )


def _owner(contact: Contact | None) -> str:
    if contact is None:
        return ""
    parts = (contact.name, contact.title, contact.email, contact.phone)
    return inert_text(" · ".join(part for part in parts if part))


def _host_view(
    host: RunHostRow, findings: Sequence[FindingRow], resolved: Mapping[int, Resolved], t: Strings
) -> HostView:
    """A target's results counted from the findings (statuses as resolved), so the rows add up to the roll-up."""
    facts = host.facts
    os_name = (facts.os_pretty or f"{facts.os_id} {facts.os_version}".strip()) if facts else ""
    error = f"{host.error_reason}: {host.error_detail or ''}".strip(": ") if host.error_reason else ""
    counts = Counter(effective_status(f, resolved) for f in findings if f.host_name == host.host_name)
    return HostView(
        name=target_label(host.host_name, t),
        address=host.address,
        kind=host.kind,
        status=host.status.value,
        error=inert_text(error),
        os=inert_text(os_name) or ("—" if host.kind != "host" else t.get("unknown")),
        counts={status: counts.get(status, 0) for status in ("pass", "fail", "error", "not_applicable", "manual")},
    )


def _finding_views(
    causes: Mapping[str, Sequence[FindingRow]],
    resolved: Mapping[int, Resolved],
    catalogue: Catalogue,
    content: Content,
    texts: CheckTexts,
) -> tuple[FindingView, ...]:
    """One view per cause, the most severe first, then by the first clause of the catalogue, then by key."""
    views = []
    for cause, rows in causes.items():
        ordered = sorted(rows, key=lambda r: (r.host_name, r.check_id))
        severity = min((r.severity.value for r in rows), key=SEVERITY_ORDER.index)
        check_ids = tuple(
            dict.fromkeys(r.check_id for r in sorted(rows, key=lambda r: SEVERITY_ORDER.index(r.severity.value)))
        )
        primary = check_ids[0]  # the most severe check speaks for a port seen by several
        refs = tuple(dict.fromkeys(ref for r in rows for ref in refs_of(r, content)))
        first_clause = min((clause_key(r.clause) for r in refs if r.framework == catalogue.framework), default=(999,))
        is_port = cause.startswith(PORT_CAUSE_PREFIX)
        title = (
            texts.strings.format("cause_port", port=cause.removeprefix(PORT_CAUSE_PREFIX), n=len(check_ids))
            if is_port
            else texts.title(cause)
        )
        view = FindingView(
            cause=cause,
            check_id=", ".join(check_ids),
            title=title,
            severity=severity,
            status=min((effective_status(r, resolved) for r in rows), key=_STATUS_RANK.__getitem__),
            clauses=tuple(f"{r.framework} {r.clause}" for r in refs),
            rationale=texts.rationale(primary),
            steps=texts.steps(primary),
            playbook=next((texts.playbook(c) for c in check_ids if texts.playbook(c)), ""),
            hosts=_affected_rows(ordered, resolved, texts, is_port),
        )
        views.append(((SEVERITY_ORDER.index(severity), first_clause, cause), view))
    return tuple(view for _key, view in sorted(views, key=lambda pair: pair[0]))


def _affected_rows(
    rows: Sequence[FindingRow], resolved: Mapping[int, Resolved], texts: CheckTexts, is_port: bool
) -> tuple[AffectedHost, ...]:
    """Targets where one check saw the same thing share a row, so a fix needed on every server reads once."""
    merged: dict[tuple[str, ...], list[FindingRow]] = {}
    for r in rows:
        status, note = effective_status(r, resolved), resolved_note(resolved.get(r.id), texts.lang)
        words = expected_in_words(r, texts.content)  # never the notation: that is for machines
        expected = words.get(texts.lang) if words else ""
        reason = r.reason_vi if texts.lang == "vi" else r.reason_en
        merged.setdefault((r.check_id, status, note, r.observed, expected, reason), []).append(r)
    return tuple(
        AffectedHost(
            host_names=tuple(target_label(r.host_name, texts.strings) for r in same),
            status=status,
            note=note,
            observed=inert_str(observed, OBSERVED_LIMIT),
            expected=inert_text(expected),
            reason=(f"{texts.title(check_id)}: " if is_port else "") + inert_text(reason),
            evidence_refs=tuple(f"ev-{r.evidence_id}" for r in same if r.evidence_id is not None),
        )
        for (check_id, status, note, observed, expected, reason), same in merged.items()
    )


def resolved_note(outcome: Resolved | None, lang: Lang) -> str:
    """What an attestation or waiver says of a finding (e.g. the evidence expired on …), made inert; "" when none."""
    if outcome is None or outcome.note is None:
        return ""
    return inert_text(outcome.note.get(lang))


def _manual_items(
    pending: Sequence[FindingRow], framework: str, content: Content, texts: CheckTexts, t: Strings
) -> tuple[ManualItemView, ...]:
    """Items awaiting evidence with the clauses of the report's framework (the cover names it)."""
    by_check: dict[str, list[FindingRow]] = {}
    for finding in pending:  # already narrowed to items still awaiting evidence
        by_check.setdefault(finding.check_id, []).append(finding)
    items = [
        ManualItemView(
            check_id=check_id,
            title=texts.title(check_id),
            severity=rows[0].severity.value,
            evidence_required=texts.evidence_required(check_id),
            clauses=tuple(r.clause for r in refs_of(rows[0], content) if r.framework == framework),
            targets=tuple(target_label(r.host_name, t) for r in rows),
        )
        for check_id, rows in by_check.items()
    ]
    return tuple(sorted(items, key=lambda i: (SEVERITY_ORDER.index(i.severity), i.check_id)))


def _evidence(store: Store, failing: Sequence[FindingRow], content: Content) -> tuple[EvidenceView, ...]:
    checks_of: dict[int, list[str]] = {}
    for finding in failing:
        if finding.evidence_id is not None:
            checks_of.setdefault(finding.evidence_id, []).append(finding.check_id)
    views = []
    for row in store.evidence(checks_of, verify=True).values():
        check_ids = tuple(sorted(set(checks_of[row.id])))
        stdout, excerpt = inert_bytes(row.stdout, STDOUT_LIMIT), False
        if row.probe_id.startswith(SOURCE_PREFIX):  # a shared source: show the lines these checks read
            lines = _read_lines(content, check_ids, row.stdout_text)
            if lines is not None:
                stdout, excerpt = inert_bytes("\n".join(lines).encode(), STDOUT_LIMIT), True
        views.append(
            EvidenceView(
                ref=f"ev-{row.id}",
                host_name=row.host_name,
                probe_id=row.probe_id,
                check_ids=check_ids,
                collected_at=row.collected_at,
                outcome=row.outcome.value,
                exit_code=row.exit_code,
                duration_s=row.duration_s,
                sha256=row.sha256,
                verified=bool(row.verified),
                truncated_on_target=row.truncated,
                command=inert_str(row.command, COMMAND_LIMIT),
                stdout=stdout,
                stdout_excerpt=excerpt,
                stdout_bytes=len(row.stdout),
                stderr=inert_bytes(row.stderr, STDERR_LIMIT),
            )
        )
    return tuple(sorted(views, key=lambda v: (v.host_name, v.probe_id)))


def _read_lines(content: Content, check_ids: Sequence[str], text: str) -> list[str] | None:
    """The source's lines the checks were judged on, in source order (None: a check is unknown here)."""
    wanted: set[str] = set()
    for check_id in check_ids:
        check = content.checks.get(check_id)
        if check is None or not isinstance(check.probe, Probe):
            return None
        wanted.update(source_lines(check.probe.select, text))
    return [line for line in text.splitlines() if line in wanted]


def _diff(store: Store, run: RunSummary, agency_id: str, texts: CheckTexts) -> DiffView | None:
    previous_id = store.previous_run(run.id, agency_id)
    if previous_id is None:
        return None
    return diff_view(store.diff_runs(run.id, previous_id, agency_id), texts.title)
