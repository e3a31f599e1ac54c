"""The yearly report as a Vietnamese administrative document (Decree 30/2020/NĐ-CP): the Department's report to
the provincial People's Committee on every agency, or one agency's report to the Department.

The numbers come from the summary roll-up (`build_summary_report`) over the latest finished run of each agency in
the year, judged as of the report date. The result is one document model that the DOCX writer
(official_docx.py) and the HTML/PDF template (reports/official/) both lay out, so both say the same thing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from functools import cache
from importlib.resources import files
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from auditor.content.loader import Content
from auditor.errors import NotFoundError
from auditor.foreign import foreign
from auditor.governance.resolve import ClauseState, VerdictOutcome
from auditor.reports.external import imported_results, imported_sources, source_words
from auditor.reports.models import SEVERITY_ORDER, AgencyAssessment, ClauseView, SummaryReport
from auditor.reports.official_settings import Issuer, OfficialSettings
from auditor.reports.rollup import effective_status, failing_by_check
from auditor.reports.summary import build_summary_report
from auditor.said import Said
from auditor.store import FindingRow, Store
from auditor.vocabulary import Status

MAX_RUNS = 100_000  # every run of the store is looked at; a year holds a few dozen at most
TABLE_ISSUES = 2  # open issues named per agency in the yearly table (the most severe)
TOP_ISSUES = 3  # and in its paragraph
AGENCY_ISSUES = 10  # open issues listed in an agency's own report
TOP_RECURRING = 5
BLANK_NUMBER = "\u00a0" * 8  # the registry writes the number by hand (kept by both DOCX and HTML)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Paragraph(_View):
    kind: Literal["paragraph"] = "paragraph"
    text: str
    style: Literal["body", "heading", "subheading", "item", "caption", "unit"] = "body"


class Table(_View):
    kind: Literal["table"] = "table"
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths_mm: tuple[int, ...]  # of the columns; they add up to the text width of an A4 page (165 mm)
    centred: tuple[int, ...]  # indexes of the columns centred (numbers, dates)


Block = Annotated[Paragraph | Table, Field(discriminator="kind")]


class OfficialDocument(_View):
    kind: Literal["yearly", "agency"]
    issued_on: date
    year: int
    parent_body: str
    issuer: str
    number_line: str
    motto_nation: str
    motto_words: str
    place_date: str
    document_type: str
    subject: str
    blocks: tuple[Block, ...]
    recipients_heading: str
    recipients: tuple[str, ...]
    signer_authority: str
    signer_title: str
    signature_placeholder: str
    signer_name: str


class ClauseTally(_View):
    met: int
    failed: int
    awaiting: int
    not_evaluated: int

    @property
    def total(self) -> int:
        return self.met + self.failed + self.awaiting + self.not_evaluated


@cache
def text() -> dict[str, str]:
    source = (files("auditor.locale") / "official.yml").read_text(encoding="utf-8")
    table: dict[str, str] = yaml.safe_load(source)["text"]
    return table


def _t(key: str, **values: object) -> str:
    return text()[key].format(**values)


def tally(clauses: Sequence[ClauseView]) -> ClauseTally:
    """Clauses met (not applicable and waived count as met, as the verdict counts them), failed, awaiting
    evidence, and not evaluated (nothing evidences them, or a check could not observe them)."""
    return ClauseTally(
        met=sum(1 for c in clauses if c.state.demonstrated),
        failed=sum(1 for c in clauses if c.state is ClauseState.failed),
        awaiting=sum(1 for c in clauses if c.state is ClauseState.awaiting_evidence),
        not_evaluated=sum(1 for c in clauses if c.state in (ClauseState.error, ClauseState.not_evaluated)),
    )


def place_date(place: str, day: date) -> str:
    """Decree 30: a day below 10 and the months January and February take a leading zero."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return _t("place_date", place=place, day=f"{day.day:02d}", month=month, year=day.year)


def _number_line(issuer: Issuer) -> str:
    return _t("number", number=issuer.number or BLANK_NUMBER, symbol=issuer.symbol)


def _joined(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + _t("list_and") + names[-1]


def _day(moment: datetime, settings: OfficialSettings) -> str:
    return moment.astimezone(settings.zone).strftime("%d/%m/%Y")


def report_moment(issued_on: date, settings: OfficialSettings) -> datetime:
    """The end of the report date in the agencies' time zone: what the report counts as of."""
    return datetime.combine(issued_on + timedelta(days=1), time(), tzinfo=settings.zone) - timedelta(microseconds=1)


def yearly_run_ids(store: Store, year: int, until: datetime, settings: OfficialSettings) -> list[str]:
    """The latest finished run of each agency started in ``year`` (local time) and by ``until``."""
    start = datetime(year, 1, 1, tzinfo=settings.zone)
    end = min(datetime(year + 1, 1, 1, tzinfo=settings.zone), until)
    latest: dict[str, tuple[datetime, str]] = {}
    for run in store.list_runs(limit=MAX_RUNS):
        if run.finished_at is None or not start <= run.started_at <= end:
            continue
        for agency_id in {h.agency_id for h in store.list_run_hosts(run.id)}:
            if agency_id not in latest or (run.started_at, run.id) > latest[agency_id]:
                latest[agency_id] = (run.started_at, run.id)
    return sorted({run_id for _started, run_id in latest.values()})


def _summary(
    store: Store, content: Content, year: int, moment: datetime, settings: OfficialSettings, framework: str | None
) -> SummaryReport | None:
    run_ids = yearly_run_ids(store, year, moment, settings)
    if not run_ids:
        return None
    return build_summary_report(store, content, run_ids, "vi", framework, now=moment, as_of=moment)


def _open_issues(
    store: Store, content: Content, assessment: AgencyAssessment, framework: str, moment: datetime
) -> list[tuple[str, str, int]]:
    """The agency's failed checks (not those that could not be observed: the report states unreachable servers
    apart), the most severe first: (title, severity, servers affected)."""
    findings = store.list_findings(assessment.run_id, agency_id=assessment.agency_id)
    resolved = store.resolved_findings(findings, moment)
    failing = [f for f in findings if effective_status(f, resolved) == Status.failed.value]
    issues = []
    for item in failing_by_check(failing, framework, content):
        check = content.checks.get(item.check_id)
        title = check.title.vi if check is not None else item.check_id
        issues.append((title, item.severity, len({f.host_name for f in item.findings})))
    issues += _imported_issues(store, assessment, framework, moment)
    return sorted(issues, key=lambda issue: SEVERITY_ORDER.index(issue[1]))  # stable: the auditor's own first


def _imported_issues(
    store: Store, assessment: AgencyAssessment, framework: str, moment: datetime
) -> list[tuple[str, str, int]]:
    """Imported results (auditor import) that fail a clause of ``framework``, one issue per tool naming it: the
    tools' own rule ids mean nothing to the report's readers, and the agency report lists them."""
    imported = imported_results(store, assessment.agency_id, moment, exclude_run=assessment.run_id)
    failed = {r.finding_id for r in imported.judged if r.status is Status.failed}
    by_source: dict[str, list[FindingRow]] = {}
    for row in imported.rows:
        if row.id in failed and any(r.framework == framework for r in row.requirements):
            by_source.setdefault(row.source or "", []).append(row)
    return [
        (
            _t("imported_issue", n=len(rows), source=source_words(source, "vi")),
            min((r.severity.value for r in rows), key=SEVERITY_ORDER.index),
            len({r.host_name for r in rows}),
        )
        for source, rows in sorted(by_source.items())
    ]


def _imported_note(assessment: AgencyAssessment) -> list[str]:
    """The sentence naming the other tools whose imported results the verdict counts, when there are any."""
    sources = imported_sources(assessment.sources)
    return [_t("agency_imported", sources="; ".join(source_words(s, "vi") for s in sources))] if sources else []


def _table_issues(issues: Sequence[tuple[str, str, int]]) -> str:
    """The most severe open issues, and how many more there are, for a table cell."""
    shown = "; ".join(title for title, _severity, _hosts in issues[:TABLE_ISSUES])
    more = len(issues) - TABLE_ISSUES
    return shown + (f"; {_t('issues_more_short', n=more)}" if more > 0 else "")


def _item_label(index: int) -> str:
    """a), b), c)… in the Vietnamese alphabet's order (đ after d), as administrative documents number the points
    of a section; numbers past the last letter."""
    letters = _t("point_letters").split()
    return letters[index - 1] if index <= len(letters) else str(index)


def _verdict(outcome: VerdictOutcome) -> str:
    return _t(f"verdict_{outcome.value}")


def _document(
    kind: Literal["yearly", "agency"],
    issuer: Issuer,
    issuer_name: str,
    settings: OfficialSettings,
    issued_on: date,
    year: int,
    subject: str,
    blocks: Sequence[Block],
) -> OfficialDocument:
    return OfficialDocument(
        kind=kind,
        issued_on=issued_on,
        year=year,
        parent_body=issuer.parent_body,
        issuer=issuer_name.upper(),
        number_line=_number_line(issuer),
        motto_nation=_t("motto_nation"),
        motto_words=_t("motto_words"),
        place_date=place_date(settings.place, issued_on),
        document_type=_t("document_type"),
        subject=subject,
        blocks=tuple(blocks),
        recipients_heading=_t("recipients_heading"),
        recipients=issuer.recipients,
        signer_authority=issuer.signer_authority,
        signer_title=issuer.signer_title,
        signature_placeholder=_t("signature_placeholder"),
        signer_name=issuer.signer_name,
    )


def _legal_bases(settings: OfficialSettings) -> list[Paragraph]:
    bases = [*settings.legal_bases, f"{settings.plan_reference}."]
    return [Paragraph(text=_t("legal_heading"), style="heading")] + [
        Paragraph(text=f"- {basis}", style="item") for basis in bases
    ]


def build_yearly_report(
    store: Store,
    content: Content,
    settings: OfficialSettings,
    issued_on: date,
    year: int | None = None,
    framework: str | None = None,
) -> OfficialDocument:
    """The Department's yearly report to the provincial People's Committee on every agency audited in ``year``."""
    year = year or issued_on.year
    moment = report_moment(issued_on, settings)
    summary = _summary(store, content, year, moment, settings, framework)
    blocks: list[Block] = [Paragraph(text=_t("yearly_opening", plan=settings.plan_reference, year=year))]
    blocks += _legal_bases(settings)
    blocks.append(Paragraph(text=_t("results_heading"), style="heading"))
    if summary is None or not summary.agencies:
        blocks.append(Paragraph(text=_t("yearly_no_audit", year=year)))
        agencies: tuple[AgencyAssessment, ...] = ()
    else:
        agencies = summary.agencies
        blocks += _yearly_results(store, content, summary, moment, settings)
    blocks += _yearly_proposals(agencies)
    blocks.append(Paragraph(text=_t("yearly_closing", year=year) + _t("end_mark")))
    department = settings.department
    subject = _t("yearly_subject", province=settings.province, year=year)
    return _document("yearly", department, department.name, settings, issued_on, year, subject, blocks)


def _yearly_results(
    store: Store, content: Content, summary: SummaryReport, moment: datetime, settings: OfficialSettings
) -> list[Block]:
    agencies = summary.agencies
    first = agencies[0]
    counts = {outcome: sum(1 for a in agencies if a.verdict is outcome) for outcome in VerdictOutcome}
    blocks: list[Block] = [
        Paragraph(text=_t("scope_heading"), style="subheading"),
        Paragraph(
            text=_t(
                "yearly_scope",
                agencies=len(agencies),
                hosts=sum(a.hosts_total for a in agencies),
                framework=summary.framework,
                clauses=first.clauses_total,
            )
        ),
        Paragraph(text=_t("overview_heading"), style="subheading"),
        Paragraph(
            text=_t(
                "yearly_overview",
                meets=counts[VerdictOutcome.meets],
                total=len(agencies),
                not_met=counts[VerdictOutcome.not_met],
                not_demonstrated=counts[VerdictOutcome.not_demonstrated],
            )
        ),
    ]
    rows: list[tuple[str, ...]] = []
    states: list[Paragraph] = [Paragraph(text=_t("agencies_heading"), style="subheading")]
    for index, agency in enumerate(agencies, start=1):
        clauses = tally(agency.clauses)
        issues = _open_issues(store, content, agency, summary.framework, moment)
        audited = _day(agency.started_at, settings)
        top = [title for title, _severity, _hosts in issues[:TOP_ISSUES]]
        rows.append(
            (
                str(index),
                agency.name_vi,
                _verdict(agency.verdict),
                str(clauses.met),
                str(clauses.failed),
                str(clauses.awaiting),
                str(clauses.not_evaluated),
                _table_issues(issues),
                audited,
            )
        )
        sentence = _t(
            "agency_state",
            name=agency.name_vi,
            date=audited,
            hosts=agency.hosts_total,
            verdict=_verdict(agency.verdict),
            met=clauses.met,
            total=clauses.total,
            failed=clauses.failed,
            awaiting=clauses.awaiting,
            not_evaluated=clauses.not_evaluated,
        )
        notes = [_t("agency_state_issues", issues="; ".join(top)) if top else _t("agency_state_no_issues")]
        if agency.hosts_error:
            notes.append(_t("agency_unreachable", n=agency.hosts_error))
        if agency.waived:
            notes.append(_t("agency_waived", n=agency.waived))
        notes += _imported_note(agency)
        states.append(Paragraph(text=f"{_item_label(index)}) {sentence} {' '.join(notes)}"))
    blocks.append(Paragraph(text=_t("table_caption"), style="caption"))
    blocks.append(Paragraph(text=_t("table_unit"), style="unit"))
    blocks.append(
        Table(
            header=tuple(
                _t(key)
                for key in (
                    "col_no",
                    "col_agency",
                    "col_verdict",
                    "col_met",
                    "col_failed",
                    "col_awaiting",
                    "col_not_evaluated",
                    "col_issues",
                    "col_audit_date",
                )
            ),
            rows=tuple(rows),
            widths_mm=(12, 25, 18, 15, 15, 15, 15, 28, 22),
            centred=(0, 3, 4, 5, 6, 8),
        )
    )
    blocks += states
    blocks.append(Paragraph(text=_t("recurring_heading"), style="subheading"))
    recurring = [r for r in summary.recurring if len(r.agencies) > 1][:TOP_RECURRING]
    if recurring:
        blocks += [
            Paragraph(
                text="- " + _t("recurring_item", title=r.title, agencies=len(r.agencies), hosts=r.hosts), style="item"
            )
            for r in recurring
        ]
    else:
        blocks.append(Paragraph(text=_t("recurring_none")))
    return blocks


def _yearly_proposals(agencies: Sequence[AgencyAssessment]) -> list[Paragraph]:
    blocks = [Paragraph(text=_t("proposals_heading"), style="heading")]
    failing = [a.name_vi for a in agencies if a.verdict is VerdictOutcome.not_met]
    awaiting = [a.name_vi for a in agencies if a.manual_pending]
    if failing:
        blocks.append(Paragraph(text=f"1. {_t('yearly_proposal_fix', agencies=_joined(failing))}"))
    if awaiting:
        blocks.append(Paragraph(text=f"{len(blocks)}. {_t('yearly_proposal_evidence', agencies=_joined(awaiting))}"))
    if agencies and not failing and not awaiting:
        blocks.append(Paragraph(text=f"1. {_t('yearly_proposal_all_meet')}"))
    blocks.append(Paragraph(text=f"{len(blocks)}. {_t('yearly_proposal_standing')}"))
    return blocks


def build_agency_yearly_report(
    store: Store,
    content: Content,
    settings: OfficialSettings,
    agency_id: str,
    issued_on: date,
    year: int | None = None,
    framework: str | None = None,
) -> OfficialDocument:
    """One agency's yearly report to the Department: its verdict, its clauses per requirement group, its open
    issues. The issuing body is the agency (its name as the store last knew it, unless the settings name it)."""
    year = year or issued_on.year
    moment = report_moment(issued_on, settings)
    summary = _summary(store, content, year, moment, settings, framework)
    assessment = next((a for a in summary.agencies if a.agency_id == agency_id), None) if summary else None
    issuer, name_override = settings.agency_issuer(agency_id)
    if assessment is None:
        known = sorted(a.agency_id for a in summary.agencies) if summary else []
        if name_override is None:
            listed: str | Said = ", ".join(known) if known else foreign("own_none")
            raise NotFoundError(foreign("report_no_finished_run", agency=repr(agency_id), year=year, listed=listed))
    name = name_override or (assessment.name_vi if assessment else agency_id)
    blocks: list[Block] = [Paragraph(text=_t("agency_opening", plan=settings.plan_reference, name=name, year=year))]
    blocks += _legal_bases(settings)
    blocks.append(Paragraph(text=_t("results_heading"), style="heading"))
    failing_issues: list[tuple[str, str, int]] = []
    if assessment is None or summary is None:
        blocks.append(Paragraph(text=_t("agency_no_audit", year=year)))
    else:
        failing_issues = _open_issues(store, content, assessment, summary.framework, moment)
        blocks += _agency_results(assessment, summary, failing_issues, settings)
    blocks += _agency_proposals(assessment, failing_issues)
    blocks.append(Paragraph(text=_t("agency_closing", year=year, name=name) + _t("end_mark")))
    subject = _t("agency_subject", year=year)
    return _document("agency", issuer, name, settings, issued_on, year, subject, blocks)


def _agency_results(
    assessment: AgencyAssessment,
    summary: SummaryReport,
    issues: Sequence[tuple[str, str, int]],
    settings: OfficialSettings,
) -> list[Block]:
    clauses = tally(assessment.clauses)
    blocks: list[Block] = [
        Paragraph(text=_t("scope_heading"), style="subheading"),
        Paragraph(
            text=_t(
                "agency_scope",
                date=_day(assessment.started_at, settings),
                hosts=assessment.hosts_total,
                framework=summary.framework,
                clauses=clauses.total,
            )
        ),
        Paragraph(text=_t("overview_heading"), style="subheading"),
        Paragraph(
            text=_t(
                "agency_overview",
                verdict=_verdict(assessment.verdict),
                met=clauses.met,
                total=clauses.total,
                failed=clauses.failed,
                awaiting=clauses.awaiting,
                not_evaluated=clauses.not_evaluated,
            )
        ),
        *(Paragraph(text=note) for note in _imported_note(assessment)),
        Paragraph(text=_t("agency_table_caption"), style="caption"),
        Paragraph(text=_t("table_unit"), style="unit"),
    ]
    rows = []
    for index, group in enumerate(assessment.groups, start=1):
        own = tally([c for c in assessment.clauses if c.group_id == group.id])
        rows.append(
            (
                str(index),
                f"{group.id} {group.heading}",
                str(own.total),
                str(own.met),
                str(own.failed),
                str(own.awaiting),
                str(own.not_evaluated),
            )
        )
    header_keys = ("col_no", "col_group", "col_clauses", "col_met", "col_failed", "col_awaiting", "col_not_evaluated")
    blocks.append(
        Table(
            header=tuple(_t(key) for key in header_keys),
            rows=tuple(rows),
            widths_mm=(12, 63, 18, 18, 18, 18, 18),
            centred=(0, 2, 3, 4, 5, 6),
        )
    )
    blocks.append(Paragraph(text=_t("issues_heading"), style="subheading"))
    if not issues:
        blocks.append(Paragraph(text=_t("agency_state_no_issues")))
    for title, severity, hosts in issues[:AGENCY_ISSUES]:
        item = _t("issue_item", title=title, severity=_t(f"severity_{severity}"), hosts=hosts)
        blocks.append(Paragraph(text=f"- {item}", style="item"))
    if len(issues) > AGENCY_ISSUES:
        blocks.append(Paragraph(text=_t("issues_more", n=len(issues) - AGENCY_ISSUES)))
    return blocks


def _agency_proposals(assessment: AgencyAssessment | None, issues: Sequence[tuple[str, str, int]]) -> list[Paragraph]:
    blocks = [Paragraph(text=_t("proposals_heading"), style="heading")]
    if issues:
        blocks.append(Paragraph(text=f"1. {_t('agency_proposal_fix')}"))
    if assessment is not None and assessment.manual_pending:
        blocks.append(Paragraph(text=f"{len(blocks)}. {_t('agency_proposal_evidence')}"))
    blocks.append(Paragraph(text=f"{len(blocks)}. {_t('agency_proposal_support')}"))
    return blocks
