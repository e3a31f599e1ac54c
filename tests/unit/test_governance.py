"""Attestations and waivers: every rule, with the clock injected."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from auditor.content.catalogue import Catalogue, Clause, Group
from auditor.errors import ConfigError
from auditor.evaluation.findings import HostResult, HostStatus
from auditor.governance.records import Answer, Attestation, Waiver, WaiverRequest, end_of_day, prepare_import
from auditor.governance.resolve import ClauseState, FindingKey, VerdictOutcome, judge_agency, resolve
from auditor.inventory import Agency
from auditor.store import Store
from auditor.store.db import open_store
from auditor.vocabulary import LocalizedText, Status

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
TEXT = LocalizedText(vi="x", en="x")


def attestation(
    id_: int,
    answer: Answer = Answer.met,
    recorded: datetime = T0,
    until: date = date(2027, 1, 31),
    check_id: str = "mgmt_policy_document",
    agency: str = "a",
) -> Attestation:
    return Attestation(
        id=id_,
        agency_id=agency,
        check_id=check_id,
        answer=answer,
        justification="see document",
        attested_by="Nguyễn Văn A",
        attested_at=recorded - timedelta(days=1),
        valid_until=end_of_day(until),
        recorded_at=recorded,
        source="f.yml",
    )


def waiver(
    id_: int,
    expires: date = date(2027, 1, 31),
    pattern: str = "web*",
    revoked: datetime | None = None,
    agency: str = "a",
    check_id: str = "sshd_port_not_default",
) -> Waiver:
    return Waiver(
        id=id_,
        agency_id=agency,
        host_pattern=pattern,
        check_id=check_id,
        justification="j" * 10,
        compensating_control="c" * 10,
        requested_by="An",
        approved_by="Bình",
        expires_at=end_of_day(expires),
        recorded_at=T0,
        revoked_at=revoked,
    )


def key(status: Status, check_id: str = "mgmt_policy_document", target: str = "agency:a", id_: int = 1) -> FindingKey:
    return FindingKey(finding_id=id_, agency_id="a", target=target, check_id=check_id, status=status)


# -- attestations ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (Answer.met, Status.passed),
        (Answer.partly_met, Status.failed),
        (Answer.not_met, Status.failed),
        (Answer.not_applicable, Status.not_applicable),
    ],
)
def test_manual_finding_takes_the_attested_answer(answer: Answer, status: Status) -> None:
    [resolved] = resolve([key(Status.manual)], [attestation(1, answer)], [], T0 + timedelta(days=1))
    assert (resolved.status, resolved.raw_status, resolved.attestation_id) == (status, Status.manual, 1)


def test_expired_attestation_turns_back_to_manual_with_the_date() -> None:
    moment = end_of_day(date(2027, 2, 1))
    [resolved] = resolve([key(Status.manual)], [attestation(1)], [], moment)
    assert resolved.status is Status.manual and resolved.attestation_id is None
    assert resolved.note is not None and "2027-01-31" in resolved.note.en and "expired" in resolved.note.en


def test_expiry_turns_over_at_the_end_of_the_last_day() -> None:
    last_day = end_of_day(date(2027, 1, 31))
    assert resolve([key(Status.manual)], [attestation(1)], [], last_day)[0].status is Status.passed
    after = last_day + timedelta(seconds=1)
    assert resolve([key(Status.manual)], [attestation(1)], [], after)[0].status is Status.manual


def test_latest_valid_attestation_wins_and_later_records_are_not_seen_earlier() -> None:
    older = attestation(1, Answer.not_met)
    newer = attestation(2, Answer.met, recorded=T0 + timedelta(days=10))
    assert resolve([key(Status.manual)], [older, newer], [], T0 + timedelta(days=20))[0].status is Status.passed
    # as of a moment before the newer answer was recorded, the report says what it said then
    assert resolve([key(Status.manual)], [older, newer], [], T0 + timedelta(days=5))[0].status is Status.failed


def test_attestations_of_other_agencies_or_items_do_not_apply() -> None:
    others = [attestation(1, agency="b"), attestation(2, check_id="mgmt_other")]
    assert resolve([key(Status.manual)], others, [], T0 + timedelta(days=1))[0].status is Status.manual


# -- waivers -----------------------------------------------------------------------------------------------------


def test_waived_failure_keeps_its_raw_status() -> None:
    [resolved] = resolve([key(Status.failed, "sshd_port_not_default", "web1")], [], [waiver(7)], T0)
    assert resolved.status is Status.failed and resolved.waived and resolved.waiver_id == 7
    assert resolved.note is not None and "#7" in resolved.note.en


@pytest.mark.parametrize(
    ("finding", "item", "moment"),
    [
        (key(Status.failed, "sshd_port_not_default", "db1"), waiver(1), T0),  # host pattern does not match
        (
            key(Status.failed, "sshd_port_not_default", "web1"),
            waiver(1, expires=date(2026, 11, 5)),
            end_of_day(date(2026, 11, 6)),
        ),  # expired
        (
            key(Status.failed, "sshd_port_not_default", "web1"),
            waiver(1, revoked=T0 + timedelta(hours=1)),
            T0 + timedelta(hours=2),
        ),  # revoked
        (key(Status.error, "sshd_port_not_default", "web1"), waiver(1), T0),  # errors are never waived
        (key(Status.failed, "sshd_port_not_default", "web1"), waiver(1, agency="b"), T0),  # another agency
    ],
)
def test_waiver_does_not_apply(finding: FindingKey, item: Waiver, moment: datetime) -> None:
    assert not resolve([finding], [], [item], moment)[0].waived


def test_revoked_waiver_still_applies_before_its_revocation() -> None:
    item = waiver(1, revoked=T0 + timedelta(days=3))
    assert resolve([key(Status.failed, "sshd_port_not_default", "web1")], [], [item], T0 + timedelta(days=1))[0].waived


def test_same_person_cannot_request_and_approve() -> None:
    with pytest.raises(ValueError, match="different person"):
        WaiverRequest(
            agency_id="a",
            check_id="x_y",
            justification="j" * 10,
            compensating_control="c" * 10,
            requested_by="Trần Bình",
            approved_by="trần  bình",
            expires_on=date(2027, 1, 1),
        )


# -- verdict -----------------------------------------------------------------------------------------------------

CATALOGUE = Catalogue(
    framework="T",
    title=TEXT,
    source="s",
    groups=(Group(id="g", heading=TEXT),),
    clauses=(
        Clause(
            id="1.1", group="g", heading=TEXT, confidence="confirmed", summary=TEXT, checks=("sshd_port_not_default",)
        ),
        Clause(
            id="1.2", group="g", heading=TEXT, confidence="confirmed", summary=TEXT, manual=("mgmt_policy_document",)
        ),
    ),
)


def test_verdict_needs_attested_manual_items_and_states_waivers() -> None:
    findings = [key(Status.failed, "sshd_port_not_default", "web1", 1), key(Status.manual, id_=2)]
    before = judge_agency("a", CATALOGUE, resolve(findings, [], [], T0))
    assert not before.meets_level3 and before.outcome is VerdictOutcome.not_met
    assert [c.state for c in before.clauses] == [ClauseState.failed, ClauseState.awaiting_evidence]
    after = judge_agency("a", CATALOGUE, resolve(findings, [attestation(1)], [waiver(1)], T0 + timedelta(days=1)))
    assert after.meets_level3 and after.waived == 1
    # the same waived failure evidencing two clauses is still one waiver in the verdict
    twice = CATALOGUE.model_copy(
        update={"clauses": (*CATALOGUE.clauses, CATALOGUE.clauses[0].model_copy(update={"id": "1.3"}))}
    )
    assert (
        judge_agency("a", twice, resolve(findings, [attestation(1)], [waiver(1)], T0 + timedelta(days=1))).waived == 1
    )
    assert [c.state for c in after.clauses] == [ClauseState.met_with_waivers, ClauseState.met]
    expired = judge_agency(
        "a",
        CATALOGUE,
        resolve(findings, [attestation(1)], [waiver(1, expires=date(2027, 6, 1))], end_of_day(date(2027, 3, 1))),
    )
    assert not expired.meets_level3 and expired.clauses[1].state is ClauseState.awaiting_evidence


# -- import and store --------------------------------------------------------------------------------------------

AGENCY = Agency(id="a", name=LocalizedText(vi="Báo Sóc Trăng", en="Soc Trang Newspaper"))


@pytest.fixture
def governance(tmp_path: Path) -> Store:
    store = open_store(f"sqlite:///{tmp_path / 'g.db'}")
    run_id = store.start_run("t", "c", "0" * 64, {})
    store.save_host_result(
        run_id,
        AGENCY,
        HostResult(
            agency_id="a",
            host_name="agency:a",
            kind="agency",
            address="",
            status=HostStatus.ok,
            started_at=T0,
            finished_at=T0,
        ),
    )
    return store


def _import_file(tmp_path: Path, body: str) -> Path:
    (tmp_path / "docs").mkdir(exist_ok=True)
    (tmp_path / "docs" / "quy-che.pdf").write_bytes(b"%PDF-1.4 quy che an toan thong tin")
    path = tmp_path / "attest.yml"
    path.write_text(body, encoding="utf-8")
    return path


GOOD = """attestations:
  - {agency: a, item: mgmt_policy_document, answer: met, justification: "Quyết định 12/QĐ", attested_by: "Nguyễn Văn A",
     attested_at: 2026-10-30, valid_until: 2027-10-30, documents: [docs/quy-che.pdf]}
"""


def test_import_stores_documents_by_hash(governance: Store, tmp_path: Path) -> None:
    path = _import_file(tmp_path, GOOD + GOOD.split("\n", 1)[1])  # the same document twice
    prepared = prepare_import(path, {"mgmt_policy_document"}, governance.known_agencies(), T0)
    ids = governance.record_attestations(prepared, path.name, T0)
    stored = governance.list_attestations("a")
    assert [a.id for a in stored] == ids and len(ids) == 2
    digest = stored[0].documents[0].sha256
    assert stored[1].documents[0].sha256 == digest
    content, media_type = governance.get_document(digest)
    assert content.startswith(b"%PDF") and media_type == "application/pdf"
    assert hashlib.sha256(content).hexdigest() == digest


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("item: mgmt_policy_document", "item: mgmt_nope"), "not a manual evidence item"),
        (("docs/quy-che.pdf", "docs/missing.pdf"), "not found"),
        (("valid_until: 2027-10-30", "valid_until: 2026-10-31"), "already expired"),
        (("agency: a,", "agency: other,"), "unknown agency"),
        (("answer: met", "answer: maybe"), "answer"),
    ],
)
def test_bad_import_is_refused_whole(governance: Store, tmp_path: Path, change: tuple[str, str], message: str) -> None:
    good_row = GOOD.split("\n", 1)[1]
    path = _import_file(tmp_path, GOOD + good_row.replace(*change))
    with pytest.raises(ConfigError, match=message):
        prepare_import(path, {"mgmt_policy_document"}, governance.known_agencies(), T0)
    assert governance.list_attestations() == []  # nothing half-written


def test_csv_import(governance: Store, tmp_path: Path) -> None:
    _import_file(tmp_path, "")
    path = tmp_path / "attest.csv"
    path.write_text(
        "agency,item,answer,justification,attested_by,attested_at,valid_until,documents\n"
        "a,mgmt_policy_document,met,Quyết định 12,Nguyễn Văn A,2026-10-30,2027-10-30,docs/quy-che.pdf\n",
        encoding="utf-8",
    )
    prepared = prepare_import(path, {"mgmt_policy_document"}, governance.known_agencies(), T0)
    assert prepared[0].entry.attested_by == "Nguyễn Văn A" and prepared[0].documents[0].file_name == "quy-che.pdf"


CSV_HEADER = "agency,item,answer,justification,attested_by,attested_at,valid_until,documents\n"
CSV_ROW = "a,mgmt_policy_document,met,Quyết định 12,Nguyễn Văn A,2026-10-30,2027-10-30,docs/quy-che.pdf\n"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (CSV_ROW + CSV_ROW.replace("Quyết định 12", "x" * 200_000), "attest.csv: line 3: invalid CSV: field larger"),
        (
            CSV_ROW.replace("docs/quy-che.pdf", "docs/quy-che.pdf,extra"),
            "attest.csv: line 2: more values than the header",
        ),
        (
            CSV_ROW + "a,mgmt_policy_document\n",
            r"attest.csv: 5 problem\(s\)\n  - line 3: attestations\[1\] \(item=mgmt_policy_document\) → answer",
        ),
        (CSV_ROW.replace("met,", "maybe,"), r"line 2: attestations\[0\] \(item=mgmt_policy_document\) → answer"),
    ],
)
def test_csv_problems_name_the_line(tmp_path: Path, rows: str, message: str) -> None:
    _import_file(tmp_path, "")
    path = tmp_path / "attest.csv"
    path.write_text(CSV_HEADER + rows, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        prepare_import(path, {"mgmt_policy_document"}, {"a"}, T0)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ('"docs/quy\\0che.pdf"', "not a usable file name"),  # a NUL byte: the OS refuses the name itself
        ("docs", "unsupported type"),
        ("docs/folder.pdf", "cannot read (Is a directory)"),
    ],
)
def test_documents_that_cannot_be_read_are_named(tmp_path: Path, document: str, problem: str) -> None:
    path = _import_file(tmp_path, GOOD.replace("docs/quy-che.pdf", document))
    (tmp_path / "docs" / "folder.pdf").mkdir()
    with pytest.raises(ConfigError) as caught:
        prepare_import(path, {"mgmt_policy_document"}, {"a"}, T0)
    message = str(caught.value)
    assert f"{path}: line 2: attestations[0] (item=mgmt_policy_document, agency=a): document " in message
    assert problem in message and "\x00" not in message


def test_waiver_store_rules(governance: Store) -> None:
    request = WaiverRequest(
        agency_id="a",
        check_id="sshd_port_not_default",
        justification="j" * 10,
        compensating_control="c" * 10,
        requested_by="An",
        approved_by="Bình",
        expires_on=date(2026, 12, 31),
    )
    waiver_id = governance.add_waiver(request, T0)
    with pytest.raises(ConfigError, match="in the past"):
        governance.add_waiver(request.model_copy(update={"expires_on": date(2026, 10, 1)}), T0)
    with pytest.raises(ConfigError, match="unknown agency"):
        governance.add_waiver(request.model_copy(update={"agency_id": "zz"}), T0)
    governance.revoke_waiver(waiver_id, "Cường", "control failed", T0 + timedelta(days=2))
    with pytest.raises(ConfigError, match="already revoked"):
        governance.revoke_waiver(waiver_id, "Cường", "again", T0 + timedelta(days=3))
    # history: as of before the revocation the waiver was active; the row itself is unchanged
    [before] = governance.list_waivers("a", T0 + timedelta(days=1))
    [after] = governance.list_waivers("a", T0 + timedelta(days=3))
    assert before.revoked_at is None and before.active(T0 + timedelta(days=1))
    assert after.revoked_at is not None and not after.active(T0 + timedelta(days=3))
