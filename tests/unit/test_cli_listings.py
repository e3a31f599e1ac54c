"""The command line at 80 columns and for scripts: every listing fits the width with ids, run ids, check ids and
clause numbers whole; json and csv parse; unknown ids and usage errors exit 3 in one error style; `diff`; the CSV
export Excel reads."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from auditor.cli.app import app, run
from auditor.cli.known import SHOWN, known_list
from auditor.store import open_store
from auditor.vocabulary import LocalizedText, Status
from tests.unit.test_reports_support import AGENCY, T0, agency_result, automated_checks, content, host_result, store_run

WIDTH = 80
OTHER = AGENCY.model_copy(update={"id": "vtv"})
LONG_REASON = "Giá trị quan sát được " + "rất dài " * 60 + "KẾT THÚC"
HOST = "web-01.baosoctrang.gov.vn"
WAIVER = ["waive", "add", "--justification", "Hệ thống cũ chưa thay được", "--requested-by", "Nguyễn Văn A"]
WAIVER += ["--compensating-control", "Giám sát nhật ký hằng ngày", "--approved-by", "Trần Thị B"]
ATTESTATIONS = """attestations:
  - {{agency: {agency}, item: mgmt_policy_document, answer: met, justification: "Quyết định 12/QĐ",
     attested_by: "Nguyễn Văn A", attested_at: 2026-10-30, valid_until: 2027-10-30, documents: [docs/quy-che.pdf]}}
"""


@dataclass(frozen=True)
class Demo:
    db: str
    first: str  # the earlier run
    second: str  # the later run
    checks: list[str]


def _statuses(checks: list[str], failing: set[int]) -> dict[str, Status]:
    return {check: Status.failed if i in failing else Status.passed for i, check in enumerate(checks)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """Two runs of one agency a week apart (and one target of another agency), a waiver, an attestation, an account
    and a schedule; read only by the tests."""
    tmp_path = tmp_path_factory.mktemp("listings")
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    checks = automated_checks(30)
    with open_store(db) as store:
        agencies = {AGENCY.id: AGENCY, OTHER.id: OTHER}
        first = store_run(
            store,
            [
                host_result(HOST, _statuses(checks, {0, 1, 2})),
                host_result("x-01", _statuses(checks[:5], set()), agency=OTHER),
            ],
            agencies,
            T0,
        )
        later = host_result(HOST, _statuses(checks, {1, 2, 3}), started=T0 + timedelta(days=7))
        first_finding = later.findings[1].model_copy(update={"reason": LocalizedText(vi=LONG_REASON, en=LONG_REASON)})
        later = later.model_copy(update={"findings": (later.findings[0], first_finding, *later.findings[2:])})
        second = store_run(
            store, [later, agency_result(started=T0 + timedelta(days=7))], agencies, T0 + timedelta(days=7)
        )
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "quy-che.pdf").write_bytes(b"%PDF-1.4 test\n")
    (tmp_path / "attest.yml").write_text(ATTESTATIONS.format(agency=AGENCY.id), encoding="utf-8")
    setup = [
        ["attest", "import", str(tmp_path / "attest.yml")],
        [*WAIVER, "--agency", AGENCY.id, "--check", checks[1], "--hosts", HOST, "--expires", "2099-12-31"],
        ["users", "add", "officer1", "--role", "officer", "--name", "Lê Văn Cán Bộ", "--password-env", "DEMO_PASSWORD"],
        ["schedule", "add", "--cron", "0 2 * * 1", "--agency", AGENCY.id],
    ]
    for args in setup:
        done = CliRunner().invoke(app, [*args, "--db", db], env={"DEMO_PASSWORD": "một mật khẩu đủ dài 2026!"})
        assert done.exit_code == 0, done.output
    return Demo(db, first, second, checks)


@pytest.fixture(autouse=True)
def _default_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDITOR_LANG", raising=False)  # the default (Vietnamese) unless a test asks otherwise


def invoke(demo: Demo, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--db", demo.db], env={"COLUMNS": str(WIDTH)})
    return result.exit_code, result.output


def assert_fits(output: str) -> list[str]:
    lines = output.splitlines()
    too_long = [line for line in lines if cell_len(line) > WIDTH]
    assert not too_long, "\n".join(too_long)
    assert "…" not in "".join(line for line in lines if re.search(r"r-\d{8}", line))  # run ids never cut
    return lines


def tokens(lines: list[str]) -> set[str]:
    return {word for line in lines for word in line.split()}


# -- 80 columns --------------------------------------------------------------------------------------------------


def test_runs_at_80_columns_show_whole_run_ids(demo: Demo) -> None:
    code, output = invoke(demo, "runs")
    assert code == 0, output
    assert {demo.first, demo.second} <= tokens(assert_fits(output))


def test_findings_default_is_one_line_per_finding_with_ids_whole(demo: Demo) -> None:
    code, output = invoke(demo, "findings", demo.second[:12], "--agency", AGENCY.id)
    assert code == 0, output
    lines = assert_fits(output)
    with open_store(demo.db) as store:
        rows = store.list_findings(demo.second, agency_id=AGENCY.id)
    headings = {line.strip(): index for index, line in enumerate(lines) if line.strip() in {r.host_name for r in rows}}
    assert set(headings) == {HOST, f"agency:{AGENCY.id}"}  # each target once, on a line of its own
    for row in rows:
        (index,) = [i for i, line in enumerate(lines) if line.split()[:1] == [str(row.id)]]  # exactly one line each
        assert row.check_id in lines[index].split()
        assert max(i for i in headings.values() if i < index) == headings[row.host_name]  # under its target
    assert len(lines) <= len(rows) + 4 * len(headings) + 2  # title, per target: blank, heading, header, rule


def test_findings_wide_is_the_detailed_table(demo: Demo) -> None:
    code, output = invoke(demo, "findings", "latest", "--wide", "--check", demo.checks[1])
    assert code == 0, output
    lines = assert_fits(output)
    assert "thực tế → yêu cầu" in output and "rất dài" in output
    assert HOST in tokens(lines) and demo.checks[1] in tokens(lines)


def test_verdict_at_80_columns_keeps_every_clause_number_whole(demo: Demo) -> None:
    code, output = invoke(demo, "verdict", "latest", "--agency", AGENCY.id, "--lang", "en")
    assert code == 1, output  # failures: level 3 not met
    words = tokens(assert_fits(output))
    clauses = [clause.id for clause in content().catalogues["TCVN 11930:2017"].clauses]
    assert "7.1.5.10" in clauses and set(clauses) <= words
    assert "does NOT meet level 3" in output


@pytest.mark.parametrize(
    "command",
    [["attest", "list"], ["waive", "list"], ["users", "list"], ["schedule", "list"], ["checklist", "list"]],
    ids=" ".join,
)
def test_other_listings_fit_80_columns(demo: Demo, command: list[str]) -> None:
    database = ["--db", demo.db] if command[0] != "checklist" else []  # checklist reads content, not the store
    result = CliRunner().invoke(app, [*command, *database], env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0, result.output
    words = tokens(assert_fits(result.output))
    shown = {
        "waive": {AGENCY.id, HOST},
        "users": {"officer1"},
        "schedule": {AGENCY.id},
        "checklist": set(content().checks),
    }
    assert shown.get(command[0], set()) <= words  # ids whole


# -- json and csv ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "key"),
    [
        (["runs"], "id"),
        (["findings", "latest"], "check_id"),
        (["verdict", "latest", "--agency", AGENCY.id], "clause"),
        (["attest", "list"], "documents"),
        (["waive", "list"], "check_id"),
        (["users", "list"], "username"),
        (["schedule", "list"], "cron"),
        (["diff", "{first}", "{second}"], "change"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else str(value),
)
def test_listings_as_json_and_csv_parse_with_the_same_fields(demo: Demo, command: list[str], key: str | None) -> None:
    args = [part.format(first=demo.first, second=demo.second) for part in command]
    code, text = invoke(demo, *args, "--format", "json")
    assert code in (0, 1), text
    assert "\x1b" not in text
    records = json.loads(text)
    assert isinstance(records, list)
    code, table = invoke(demo, *args, "--format", "csv")
    assert code in (0, 1), table
    rows = list(csv.DictReader(io.StringIO(table)))
    assert len(rows) == len(records)
    if key is not None:
        assert records and all(key in record for record in records)
        assert [row[key] for row in rows] == [str(record[key]) for record in records]


def test_findings_json_carries_the_full_reason_and_resolution(demo: Demo) -> None:
    code, text = invoke(demo, "findings", "latest", "--check", demo.checks[1], "--format", "json")
    assert code == 0, text
    (record,) = json.loads(text)
    assert record["reason"] == LONG_REASON and record["status"] == "fail" and record["resolved_status"] == "fail"


# -- unknown ids and usage errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["findings", "latest", "--agency", "nosuch"], AGENCY.id),
        (["verdict", "latest", "--agency", "nosuch"], AGENCY.id),
        (["findings", "latest", "--host", "nosuch"], HOST),
        (["findings", "latest", "--check", "nosuch"], "mã khác"),
        (["findings", "r-1999"], "r-2026"),
        (["export", "latest", "--agency", "nosuch"], AGENCY.id),
        (["diff", "{first}", "latest", "--agency", "nosuch"], AGENCY.id),
        (["attest", "list", "--agency", "nosuch"], AGENCY.id),
        (["evidence", "999999"], "không có kết quả 999999"),
        (["verdict", "latest", "--agency", AGENCY.id, "--lang", "fr"], "fr"),
        (["findings", "latest", "--format", "xml"], "xml"),
        (["findings", "latest", "--bogus"], "--bogus"),
        (["findings"], "thiếu đối số"),
        (["nosuch-command"], "nosuch-command"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_unknown_ids_and_usage_errors_exit_3_with_one_error_line(
    demo: Demo, capsys: pytest.CaptureFixture[str], args: list[str], named: str
) -> None:
    args = [part.format(first=demo.first) for part in args]
    code = run([*args, "--db", demo.db])
    captured = capsys.readouterr()
    assert code == 3, captured.out + captured.err
    assert captured.err.startswith("lỗi: ") and named in " ".join(captured.err.split())
    assert "Traceback" not in captured.err and captured.out == ""


def test_a_mistyped_agency_gives_no_verdict(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["verdict", "latest", "--agency", "nosuch", "--db", demo.db]) == 3
    assert "cấp độ 3" not in capsys.readouterr().out


def test_known_ids_are_listed_up_to_a_limit() -> None:
    many = [f"agency{i:03d}" for i in range(50)]
    shown = known_list(many)
    assert shown.count("agency") == SHOWN and shown.endswith(f"và {50 - SHOWN} mã khác")
    assert known_list([]) == "không có"


# -- diff ----------------------------------------------------------------------------------------------------------


def test_diff_names_new_fixed_regressed_and_still_failing(demo: Demo) -> None:
    code, text = invoke(demo, "diff", demo.first[:12], "latest", "--agency", AGENCY.id, "--format", "json")
    assert code == 1, text  # a regression in the later run
    changes = {(r["check_id"], r["change"]) for r in json.loads(text) if r["host_name"] == HOST}
    assert {(demo.checks[0], "fixed"), (demo.checks[3], "regressed")} <= changes
    assert {(demo.checks[1], "still_failing"), (demo.checks[2], "still_failing")} <= changes
    code, output = invoke(demo, "diff", demo.first, demo.second)
    words = tokens(assert_fits(output))
    assert code == 1 and {demo.checks[0], demo.checks[3], HOST} <= words
    flat = " ".join(output.split())
    assert "1 tái phát / xấu đi" in flat and "1 đã khắc phục" in flat
    code, _ = invoke(demo, "diff", demo.second, demo.second)
    assert code == 0  # nothing new or regressed against itself


# -- CSV export ----------------------------------------------------------------------------------------------------


def test_csv_export_starts_with_a_bom_for_excel_and_keeps_full_reasons(demo: Demo, tmp_path: Path) -> None:
    target = tmp_path / "run.csv"
    code, _ = invoke(demo, "export", "latest", "--format", "csv", "-o", str(target))
    assert code == 0
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfrun_id,")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert any(row["reason_vi"] == LONG_REASON for row in rows)
    code, plain = invoke(demo, "export", "latest", "--format", "csv", "--no-bom")
    assert code == 0 and plain.startswith("run_id,")


# -- progress --------------------------------------------------------------------------------------------------------


def test_the_network_phase_has_its_own_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from auditor.cli import audit
    from auditor.evaluation.findings import HostStatus
    from auditor.service.events import NetworkTargetFinished, RunStarted

    screen = Console(file=io.StringIO(), force_terminal=True, width=WIDTH)
    monkeypatch.setattr(audit, "err_console", screen)
    view = audit._ProgressView()
    assert view.progress is not None
    view.show(RunStarted(run_id="r-1", servers=2, agencies=1, checks=10, network_agencies=1))
    assert view.network_task is not None
    for port in (22, 443):
        view.show(
            NetworkTargetFinished(
                run_id="r-1",
                agency_id=AGENCY.id,
                target=f"tcp://10.0.0.1:{port}",
                target_kind="service",
                status=HostStatus.ok,
                error_reason=None,
                counts={},
            )
        )
    (task,) = [t for t in view.progress.tasks if t.id == view.network_task]
    assert task.completed == 2 and AGENCY.id in task.description


def test_no_progress_bar_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from auditor.cli import audit
    from auditor.service.events import RunStarted

    monkeypatch.setattr(audit, "err_console", Console(file=io.StringIO(), force_terminal=False))
    view = audit._ProgressView()
    view.show(RunStarted(run_id="r-1", servers=2, agencies=1, checks=10, network_agencies=1))
    assert view.progress is None and view.network_task is None


def test_an_aborted_prompt_ends_with_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import auditor.cli.app as cli_app

    def aborted(*_args: object, **_kwargs: object) -> int:
        raise cli_app.typer.Abort()

    monkeypatch.setattr(cli_app, "app", aborted)
    assert run(["runs"]) == 130
    assert capsys.readouterr().err.startswith("lỗi: đã hủy")
