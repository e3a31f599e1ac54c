"""The command line speaks the user's language: Vietnamese by default, English on request (`--lang`, AUDITOR_LANG or
the profile), with the reports' names for states; times in the agency's local time, labelled with their offset;
machine output (JSON, CSV) unchanged whatever the language."""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import string
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import auditor.cli.profile
from auditor.cli.app import app, run
from auditor.cli.clock import profile_clock
from auditor.cli.common import as_of_moment
from auditor.reports.locale import catalogue
from auditor.store import open_store
from tests.unit.test_cli_listings import AGENCY, WIDTH, Demo, assert_fits, demo, invoke, tokens
from tests.unit.test_cli_output import trust_setup
from tests.unit.test_reports_support import T0, content

__all__ = ["demo", "trust_setup"]  # fixtures shared with the listing and output tests

# Words a Vietnamese screen must not show: the machine state names and the English of titles, headers and sentences.
# Only whole words of plain ASCII letters count (ids such as check_ids or host names are not words).
ENGLISH = {
    "awaiting_evidence", "not_evaluated", "not_applicable", "met_with_waivers", "still_failing", "not_rechecked",
    "completed_with_errors", "met", "pass", "passed", "fail", "failed", "error", "errors", "waived", "manual",
    "automated", "missing", "network", "completed", "running", "interrupted", "regressed", "fixed", "new", "meets",
    "does", "not", "level", "clause", "clauses", "state", "status", "reason", "check", "checks", "heading", "run",
    "runs", "findings", "started", "servers", "verified", "by", "of", "and", "the", "with", "before", "after",
    "severity", "critical", "high", "medium", "low", "target", "agency", "host", "hosts", "recorded", "enrolled",
    "key", "changed", "expires", "active", "expired", "valid", "until", "attestations", "waivers", "observed",
    "expected", "configured", "yes", "no", "change", "pending", "provisional", "title", "answer",
}  # fmt: skip
WORD = re.compile(r"(?<![\w.\-/:])[A-Za-z]+(?![\w.\-/:])")  # ASCII words, not parts of ids, paths or names
VIETNAMESE_STATES = [f"status_{state}" for state in ("fail", "met", "awaiting_evidence", "not_evaluated", "error")]

OTHER_COMMANDS = [["attest", "list"], ["waive", "list"], ["checklist", "list"], ["users", "list"], ["schedule", "list"]]


@pytest.fixture(autouse=True)
def _default_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDITOR_LANG", raising=False)  # the default (Vietnamese) unless a test asks otherwise


def english_words(output: str) -> set[str]:
    return {word.lower() for word in WORD.findall(output)} & ENGLISH


def screens(demo: Demo) -> dict[str, list[str]]:
    """Each command whose screen is checked, with its arguments (the language is added by the test)."""
    return {
        "verdict": ["verdict", "latest", "--agency", AGENCY.id],
        "runs": ["runs"],
        "findings": ["findings", "latest"],
        "findings --wide": ["findings", "latest", "--wide", "--check", demo.checks[1]],
        "diff": ["diff", demo.first, demo.second],
        "coverage": ["checklist", "coverage"],
        **{" ".join(command): command for command in OTHER_COMMANDS},
    }


SCREENS = ["verdict", "runs", "findings", "findings --wide", "diff", "coverage", "attest list", "waive list"]
SCREENS += ["checklist list", "users list", "schedule list"]


def _invoke(demo: Demo, args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    database = [] if args[0] == "checklist" else ["--db", demo.db]
    result = CliRunner().invoke(app, [*args, *database], env={"COLUMNS": str(WIDTH), **(env or {})})
    return result.exit_code, result.output


# -- Vietnamese by default, English on request ---------------------------------------------------------------------


@pytest.mark.parametrize("screen", SCREENS)
def test_vietnamese_screens_fit_80_columns_without_english(demo: Demo, screen: str) -> None:
    args = screens(demo)[screen]
    code, default = _invoke(demo, args)
    code_vi, output = _invoke(demo, [*args, "--lang", "vi"])
    assert code in (0, 1) and code_vi == code, output
    assert default == output  # Vietnamese is the default
    assert_fits(output)
    assert not english_words(output), (english_words(output), output)


@pytest.mark.parametrize("screen", SCREENS)
def test_english_screens_are_english(demo: Demo, screen: str) -> None:
    code, output = _invoke(demo, [*screens(demo)[screen], "--lang", "en"])
    assert code in (0, 1), output
    assert_fits(output)
    assert len(english_words(output)) >= 3, output  # headers, states, titles
    report = catalogue("report")
    shown = [report[key].vi for key in VIETNAMESE_STATES if re.search(rf"\b{report[key].vi}\b", output)]
    assert not shown, shown


def test_verdict_states_and_sentence_use_the_reports_words(demo: Demo) -> None:
    report = catalogue("report")
    code, output = invoke(demo, "verdict", "latest", "--agency", AGENCY.id, "--lang", "vi")
    assert code == 1
    flat = " ".join(output.split())
    assert f"{AGENCY.id} CHƯA đáp ứng cấp độ 3" in flat
    assert report["status_met"].vi in flat and report["status_awaiting_evidence"].vi in flat
    code, output = invoke(demo, "verdict", "latest", "--agency", AGENCY.id, "--lang", "en")
    flat = " ".join(output.split())
    assert f"{AGENCY.id} does NOT meet level 3" in flat and report["status_awaiting_evidence"].en in flat


def test_findings_and_runs_show_statuses_in_words(demo: Demo) -> None:
    report = catalogue("report")
    _, findings = invoke(demo, "findings", "latest", "--lang", "vi")
    status_column = {line[6:22].strip() for line in findings.splitlines() if re.match(r"\d+ ", line)}
    assert {report["status_fail"].vi, report["status_pass"].vi, report["waived"].vi} <= status_column
    _, runs = invoke(demo, "runs", "--lang", "vi")
    assert report["run_status_completed"].vi in runs


def test_machine_output_keeps_machine_names_whatever_the_language(demo: Demo) -> None:
    for command, key in (
        (["verdict", "latest", "--agency", AGENCY.id], "state"),
        (["findings", "latest"], "status"),
        (["runs"], "status"),
        (["diff", demo.first, demo.second], "change"),
    ):
        _, vi = _invoke(demo, [*command, "--lang", "vi", "--format", "json"])
        _, en = _invoke(demo, [*command, "--lang", "en", "--format", "json"])
        values = {str(record[key]) for record in json.loads(vi)}
        assert values == {str(record[key]) for record in json.loads(en)}
        assert values <= {
            *("met", "met_with_waivers", "awaiting_evidence", "not_evaluated", "failed", "error", "not_applicable"),
            *("pass", "fail", "manual", "fixed", "regressed", "still_failing", "new", "not_rechecked"),
            *("running", "completed", "completed_with_errors", "interrupted"),
        }, values


def test_hosts_trust_speaks_vietnamese(trust_setup: tuple[Path, Path, object]) -> None:
    inventory, known, _ = trust_setup
    result = CliRunner().invoke(
        app, ["hosts", "trust", "-i", str(inventory), "--known-hosts", str(known), "--yes"], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert "2 máy chủ chưa được ghi nhận khóa" in flat and "moved (10.0.0.1:22): khóa đã thay đổi" in flat
    assert "--replace --host moved" in flat
    assert not english_words(flat.split("không ghi nhận: ")[0])  # before the library's own message


# -- where the default comes from ----------------------------------------------------------------------------------


def test_auditor_lang_switches_the_default(demo: Demo) -> None:
    code, output = _invoke(demo, ["verdict", "latest", "--agency", AGENCY.id], {"AUDITOR_LANG": "en"})
    assert code == 1 and "does NOT meet level 3" in " ".join(output.split())
    code, output = _invoke(demo, ["verdict", "latest", "--agency", AGENCY.id, "--lang", "vi"], {"AUDITOR_LANG": "en"})
    assert code == 1 and "CHƯA đáp ứng cấp độ 3" in " ".join(output.split())  # the option wins


@pytest.mark.parametrize("args", [["runs"], ["verdict", "latest", "--agency", AGENCY.id], ["checklist", "list"]])
def test_an_unknown_auditor_lang_is_a_usage_error(
    demo: Demo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    monkeypatch.setenv("AUDITOR_LANG", "fr")
    database = [] if args[0] == "checklist" else ["--db", demo.db]
    assert run([*args, *database]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("lỗi: AUDITOR_LANG='fr'") and "vi" in captured.err and "en" in captured.err


def test_the_profile_sets_the_default_after_the_environment(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auditor.cli.profile, "profile_value", lambda name: "en" if name == "language" else None)
    code, output = _invoke(demo, ["runs"])
    assert code == 0 and output.startswith("Runs (times +07")
    code, output = _invoke(demo, ["runs"], {"AUDITOR_LANG": "vi"})
    assert code == 0 and output.startswith("Các lượt đánh giá (giờ +07")
    monkeypatch.setattr(auditor.cli.profile, "profile_value", lambda name: "de" if name == "language" else None)
    assert run(["runs", "--db", demo.db]) == 3


# -- local time ------------------------------------------------------------------------------------------------------


def test_times_are_shown_in_local_time_labelled_and_stored_in_utc(demo: Demo) -> None:
    assert datetime(2026, 10, 1, 8, 0, tzinfo=UTC) == T0
    code, output = invoke(demo, "runs", "--lang", "vi")
    assert code == 0
    lines = [line for line in output.splitlines() if demo.first in line]
    assert lines and "2026-10-01 15:00" in lines[0] and "08:00" not in output  # 08:00 UTC is 15:00 at +07
    assert "+07" in output.splitlines()[0] and "UTC" not in output
    code, text = invoke(demo, "runs", "--format", "json")
    started = {record["id"]: record["started_at"] for record in json.loads(text)}
    assert started[demo.first] == "2026-10-01T08:00:00+00:00"  # machine output keeps the stored UTC time


def test_evidence_collection_time_is_local(demo: Demo) -> None:
    with open_store(demo.db) as store:
        finding = store.list_findings(demo.first)[0]
        collected = store.get_evidence(finding.id).collected_at
    code, output = invoke(demo, "evidence", str(finding.id), "--lang", "vi")
    assert code == 0, output
    local = collected.replace(tzinfo=collected.tzinfo or UTC).astimezone(profile_clock().zone)
    assert f"thu thập lúc: {local.isoformat(sep=' ', timespec='seconds')} (+07)" in output


def test_as_of_is_the_end_of_the_local_day() -> None:
    assert profile_clock().offset() == "+07"
    assert as_of_moment("2026-11-30") == datetime(2026, 11, 30, 16, 59, 59, tzinfo=UTC)
    assert profile_clock().end_of_day(date(2026, 1, 1)) == datetime(2026, 1, 1, 16, 59, 59, tzinfo=UTC)


# -- checklist coverage ------------------------------------------------------------------------------------------------


def test_coverage_fits_80_columns_with_every_clause_whole() -> None:
    result = CliRunner().invoke(app, ["checklist", "coverage", "--lang", "vi"], env={"COLUMNS": str(WIDTH)})
    assert result.exit_code in (0, 1), result.output
    words = tokens(assert_fits(result.output))
    for framework, catalogue_ in content().catalogues.items():
        assert {clause.id for clause in catalogue_.clauses} <= words, framework
    assert "tự động" in result.output and "hồ sơ" in result.output


def test_coverage_as_json_and_csv() -> None:
    runner = CliRunner()
    as_json = runner.invoke(app, ["checklist", "coverage", "--format", "json", "--framework", "TCVN 11930:2017"])
    records = json.loads(as_json.output)
    clauses = content().catalogues["TCVN 11930:2017"].clauses
    assert [record["clause"] for record in records] == [clause.id for clause in clauses]
    assert {record["framework"] for record in records} == {"TCVN 11930:2017"}
    assert all(set(record["verified_by"].split(", ")) <= {"automated", "network", "manual", "missing"} for record in
               records)  # fmt: skip
    by_clause = {record["clause"]: record for record in records}
    for clause in clauses:
        assert by_clause[clause.id]["checks"] == len(clause.checks)
        assert by_clause[clause.id]["manual"] == len(clause.manual)
    as_csv = runner.invoke(app, ["checklist", "coverage", "--format", "csv", "--framework", "TCVN 11930:2017"])
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert [row["clause"] for row in rows] == [record["clause"] for record in records]
    assert as_json.exit_code == as_csv.exit_code


# -- the catalogue ---------------------------------------------------------------------------------------------------


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_cli_string_has_both_languages_with_the_same_placeholders() -> None:
    raw = yaml.safe_load((Path(auditor.cli.profile.__file__).parents[1] / "locale" / "cli.yml").read_text("utf-8"))
    strings = catalogue("cli")
    assert set(raw) == set(strings)
    for key, entry in strings.items():
        assert _placeholders(entry.vi) == _placeholders(entry.en), key


def test_every_key_the_cli_asks_for_exists() -> None:
    """Keys written literally in the command modules (``words("key", …)``) or built from a prefix and a
    vocabulary are all in the catalogue."""
    known = set(catalogue("cli"))
    asked: set[str] = set()
    for path in Path(auditor.cli.profile.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
                continue
            called = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if (called in ("words", "told") or isinstance(node.func, ast.Call)) and isinstance(node.args[0].value, str):
                asked.add(node.args[0].value)  # words("key"), self.words("key"), Words(lang)("key")
    assert len(asked) > 50 and asked <= known, sorted(asked - known)
    from auditor.content.catalogue import Verification
    from auditor.governance.records import Answer

    assert {f"verification_{kind.value}" for kind in Verification} <= known
    assert {f"answer_{answer.value}" for answer in Answer} <= known


# -- administration: accounts, schedules, the portal, keys, inventories, remediation -------------------------------


def _admin(args: list[str], lang: str | None = None, env: dict[str, str] | None = None) -> tuple[int, str]:
    chosen = [] if lang is None else ["--lang", lang]
    result = CliRunner().invoke(app, [*args, *chosen], env={"COLUMNS": str(WIDTH), **(env or {})})
    return result.exit_code, result.output


def _both(args: list[str], env: dict[str, str] | None = None) -> tuple[tuple[int, str], tuple[int, str]]:
    """The default (Vietnamese: fits 80 columns, no English word) and the same command with --lang en."""
    default = _admin(args, env=env)
    assert_fits(default[1])
    assert not english_words(default[1]), (english_words(default[1]), default[1])
    return default, _admin(args, "en", env)


def test_accounts_speak_vietnamese_by_default(tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'a.db'}"]
    env = {"ACCOUNT_PASSWORD": "một mật khẩu đủ dài 2026!"}
    add = ["users", "add", "canbo1", "--role", "officer", "--name", "Lê Văn A", "--password-env", "ACCOUNT_PASSWORD"]
    assert _admin([*add, *db], env=env) == (0, "đã tạo tài khoản canbo1 (cán bộ đánh giá)\n")
    (code, vi), (code_en, en) = _both(["users", "add", "X", "--role", "officer", "--name", "X", *db])
    assert (code, code_en) == (3, 3) and vi.startswith("lỗi: tên đăng nhập 'X': 2–64 ký tự") and "username" in en
    (code, vi), (code_en, en) = _both(["users", "add", "co-quan", "--role", "agency", "--name", "X", *db])
    assert (code, code_en) == (3, 3)
    assert vi == "lỗi: tài khoản của cơ quan cần --agency MÃ\n" and en == "error: an agency account needs --agency ID\n"
    (code, vi), (_, en) = _both(["users", "disable", "canbo1", *db])
    assert code == 0 and vi == "tài khoản canbo1: đã vô hiệu hóa\n"
    (_, vi), (_, en) = _both(["users", "list", *db])
    assert "đã vô hiệu" in vi and "cán bộ đánh giá" in vi and "canbo1" in tokens(vi.splitlines())
    assert "disabled" in en and "officer" in en
    _, as_json = _admin(["users", "list", *db, "--format", "json"])
    assert [(r["role"], r["state"]) for r in json.loads(as_json)] == [("officer", "disabled")]  # machine names


def test_schedules_speak_vietnamese_by_default(tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 's.db'}"]
    (code, vi), (_, en) = _both(["schedule", "add", "--cron", "0 2 * * 1", *db])
    assert code == 0 and vi.startswith("đã thêm lịch 1: mọi cơ quan, lần chạy tới ")
    assert en.startswith("schedule 2 added: every agency, next ")
    (code, vi), (_, en) = _both(["schedule", "pause", "1", *db])
    assert (code, vi, en) == (0, "đã tạm dừng lịch 1\n", "schedule 1 paused\n")
    (_, vi), _en = _both(["schedule", "list", *db])
    assert "tạm dừng" in vi and "hoạt động" in vi and "Asia/Ho_Chi_Minh" in vi and "+07" in vi
    _, as_json = _admin(["schedule", "list", *db, "--format", "json"])
    assert [r["state"] for r in json.loads(as_json)] == ["paused", "active"]


def test_the_portal_refuses_in_vietnamese(tmp_path: Path) -> None:
    args = ["serve", "-i", str(tmp_path / "inventory.yml"), "--allow-root", "--host", "192.0.2.1"]
    (code, vi), (code_en, en) = _both(args)
    assert (code, code_en) == (3, 3)
    assert " ".join(vi.split()).startswith("lỗi: HTTP không mã hóa chỉ được phép trên địa chỉ loopback")
    assert "plain HTTP only on a loopback address" in " ".join(en.split())


def test_signing_keys_speak_vietnamese_by_default(tmp_path: Path) -> None:
    key = ["--key", str(tmp_path / "signing.pem"), "--format", "raw"]
    (code, vi), (code_en, en) = _both(["keys", "show", *key])
    assert (code, code_en) == (3, 3) and "lỗi: không có khóa ký tại" in vi and "error: no signing key at" in en
    code, vi = _admin(["keys", "init", *key])
    assert code == 0 and "đã tạo" in vi and "dấu vân tay" in vi and not english_words(vi)
    code, en = _admin(["keys", "show", *key], "en")
    assert code == 0 and "fingerprint (SHA-256 of the raw public key)" in en and "public key:" in en


def test_an_inventory_check_speaks_vietnamese_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INVENTORY_PASSWORD_UNSET", raising=False)
    path = tmp_path / "inventory.yml"
    path.write_text(
        'agencies:\n  - id: demo\n    name: {vi: "Thử", en: "Demo"}\n    hosts:\n'
        "      - {name: web1, address: 10.0.0.1, password_env: INVENTORY_PASSWORD_UNSET}\n"
        "      - {name: web2, address: 10.0.0.1, use_agent: true}\n",
        encoding="utf-8",
    )
    (code, vi), (_, en) = _both(["inventory", "check", str(path), "--no-resolve"])
    flat, flat_en = " ".join(vi.split()), " ".join(en.split())
    assert code == 0
    assert "cảnh báo tệp inventory.yml, dòng 5, cơ quan demo, máy chủ web1, trường password_env:" in flat
    assert "dòng 6, cơ quan demo, máy chủ web2, trường address: 10.0.0.1 cổng 22 cũng là máy chủ web1" in flat
    assert "0 lỗi, 2 cảnh báo trong 1 cơ quan, 2 máy chủ; dùng được" in flat
    assert "warning file inventory.yml, line 5, agency demo, host web1, field password_env:" in flat_en
    assert "0 errors, 2 warnings in 1 agency, 2 hosts; usable" in flat_en


def test_a_remediation_play_is_told_in_the_chosen_language(capsys: pytest.CaptureFixture[str]) -> None:
    from auditor.cli.remediate import print_play
    from auditor.cli.words import Lang, Words
    from auditor.remediate.runner import PlayResult, UnitOutcome
    from auditor.remediate.selection import Fix, HostTarget, Selection

    host = HostTarget(
        agency_id="demo", host_name="web1", address="10.0.0.1", port=22, user="audit", key_file=None,
        use_agent=True, sudo=True, fixes=(Fix(check_id="sshd_x11_forwarding_disabled", unit="sshd"),), refused=(),
        inputs={},
    )  # fmt: skip
    selection = Selection(source_run="r-1", hosts=(host,), params={})
    units = (UnitOutcome(host_name="web1", unit="sshd", status="changed"),)
    play = PlayResult(mode="check", ident="p", rc=0, runner_status="ok", duration_s=1.0, units=units, host_errors={})
    print_play(play, selection, Words(Lang.vi))
    vi = capsys.readouterr().out
    assert "Chạy thử (--check --diff): chưa thay đổi gì" in vi and "sẽ thay đổi" in vi
    assert "chạy thử: sẽ thay đổi 1, đã đúng sẵn 0, THẤT BẠI 0, không chạy 0 (1.0 giây)" in vi
    assert not english_words(vi), vi
    print_play(play, selection, Words(Lang.en))
    assert "check: would change 1, already right 0, FAILED 0, not run 0 (1.0 s)" in capsys.readouterr().out


# -- errors of the library said in the chosen language: inventories, schedules, runs, the database ---------------


def test_a_bad_inventory_is_refused_in_vietnamese_by_default(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yml"
    path.write_text(
        'agencies:\n  - id: demo\n    name: {vi: "Thử", en: "Demo"}\n    hosts:\n'
        "      - {name: web1, address: 10.0.0.1, use_agent: true, roles: [webserver]}\n"
        "      - {name: web2, address: 10.0.0.2, key_file: ./missing.key}\n"
        "      - {name: web3, address: 10.0.0.3, port: 70000, use_agent: true}\n",
        encoding="utf-8",
    )
    audit = ["audit", "-i", str(path), "--db", f"sqlite:///{tmp_path / 'a.db'}"]
    (code, vi), (code_en, en) = _both(audit)
    flat, flat_en = " ".join(vi.split()), " ".join(en.split())
    assert (code, code_en) == (3, 3)
    assert "tệp inventory.yml, dòng 7, cơ quan demo, máy chủ web3, trường port: phải nhỏ hơn hoặc bằng 65535" in flat
    assert "line 7: agencies[0] (id=demo) → hosts[2] (name=web3) → port: Input should be less than" in flat_en
    path.write_text(path.read_text("utf-8").replace("port: 70000", "port: 2222"), encoding="utf-8")
    (code, vi), (_, en) = _both(audit)
    flat, flat_en = " ".join(vi.split()), " ".join(en.split())
    assert code == 3 and flat.startswith(f"lỗi: {path}: 2 lỗi")
    assert "dòng 5, cơ quan demo, máy chủ web1, trường roles mục 1: vai trò 'webserver' không có;" in flat
    assert f"dòng 6, cơ quan demo, máy chủ web2, trường key_file: tệp khóa {tmp_path}/missing.key không tồn tại" in flat
    assert "unknown role 'webserver'; the known roles are:" in flat_en
    assert f"key_file: key file {tmp_path}/missing.key does not exist" in flat_en
    check = ["inventory", "check", str(path), "--no-resolve"]  # the key's full path is one word: not cut
    (code, vi), (_, en) = _admin(check), _admin(check, "en")
    assert code == 3 and not english_words(vi), vi
    assert "trường roles mục 1: vai trò 'webserver' không có;" in " ".join(vi.split())
    assert "field roles item 1: unknown role 'webserver'" in " ".join(en.split())


def test_a_bad_schedule_is_refused_in_vietnamese_by_default(tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 's.db'}"]
    (code, vi), (_, en) = _both(["schedule", "add", "--cron", "0 2 * *", *db])
    assert code == 3 and " ".join(vi.split()) == (
        "lỗi: cron '0 2 * *': có 4 trường, cần năm (phút giờ ngày-trong-tháng tháng thứ-trong-tuần), ví dụ '0 2 * * 1'"
    )
    assert " ".join(en.split()) == (
        "error: cron '0 2 * *': 4 fields, expected five (minute hour day-of-month month day-of-week), e.g. '0 2 * * 1'"
    )
    (code, vi), (_, en) = _both(["schedule", "add", "--cron", "0 2 * * 1", "--timezone", "Mars/Base", *db])
    assert code == 3 and vi.startswith("lỗi: múi giờ 'Mars/Base' không có") and "unknown timezone 'Mars/Base'" in en
    (code, vi), (_, en) = _both(["schedule", "add", "--cron", "0 2 * * 1", "--agency", "nope", *db])
    assert (code, vi) == (3, "lỗi: cơ quan 'nope' không có (hiện có: không có)\n")
    assert en == "error: unknown agency 'nope' (known: none)\n"
    (code, vi), (_, en) = _both(["schedule", "pause", "9", *db])
    assert (code, vi, en) == (3, "lỗi: không có lịch 9\n", "error: no schedule 9\n")


def test_an_unknown_run_is_refused_in_vietnamese_by_default(tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'r.db'}"]
    (code, vi), (_, en) = _both(["findings", "latest", *db])
    assert (code, vi) == (3, "lỗi: chưa có lượt đánh giá nào; các lượt gần đây: không có\n")
    assert en == "error: there are no runs yet; recent runs: none\n"
    (code, vi), (_, en) = _both(["findings", "r-zz", *db])
    assert (code, vi) == (3, "lỗi: không có lượt nào có mã bắt đầu bằng 'r-zz'; các lượt gần đây: không có\n")
    assert en == "error: no run matches 'r-zz'; recent runs: none\n"


def test_a_bad_database_url_is_refused_in_vietnamese_by_default() -> None:
    (code, vi), (code_en, en) = _both(["runs", "--db", "nonsense"])
    assert (code, vi) == (2, "lỗi: địa chỉ cơ sở dữ liệu không hợp lệ: nonsense\n")
    assert (code_en, en) == (2, "error: not a valid database URL: nonsense\n")
    (code, vi), (_, en) = _both(["runs", "--db", "mysql://u@h/d"])
    assert vi == "lỗi: không hỗ trợ cơ sở dữ liệu 'mysql' (hãy dùng sqlite:/// hoặc postgresql://)\n"
    assert en == "error: unsupported database 'mysql' (use sqlite:/// or postgresql://)\n"


def test_pydantic_errors_keep_their_english_and_have_vietnamese() -> None:
    """Each sentence of a pydantic error type reads in English exactly as pydantic's own message (else the error
    falls back to that message): a change in pydantic's wording is caught here."""
    from pydantic import BaseModel, ConfigDict, Field, ValidationError

    from auditor.schema_said import error_said

    class Sample(BaseModel):
        model_config = ConfigDict(extra="forbid")
        name: str = Field(min_length=2, max_length=3, pattern=r"^[a-z]+$")
        port: int = Field(ge=1, le=10)
        flag: bool
        items: tuple[int, ...] = Field(min_length=1)
        table: dict[str, int]
        ratio: float

    cases = [
        {"name": 1, "port": "x", "flag": "maybe", "items": (), "table": [], "ratio": "x", "other": 1},
        {"name": "ABCD", "port": 0, "flag": 2.5, "items": "x", "table": {}, "ratio": []},
        {"name": "a", "port": 11, "items": (1.5,)},
    ]
    seen = set()
    for data in cases:
        with pytest.raises(ValidationError) as caught:
            Sample.model_validate(data)
        for error in caught.value.errors(include_url=False):
            sentence = error_said(error)
            assert sentence.key != "err_schema_other", error
            assert sentence.text("en") == error["msg"]
            assert not english_words(sentence.text("vi")), sentence.text("vi")
            seen.add(sentence.key)
    assert len(seen) >= 14, seen


def test_refusals_and_stops_of_a_remediation_are_said_in_either_language() -> None:
    from auditor.remediate.flow import RemediationReport
    from auditor.remediate.selection import Refusal, Selection
    from auditor.said import said

    refusal = Refusal.of("sshd_x11_forwarding_disabled", said("err_refuse_no_root"))
    assert refusal.reason == "remediation needs root: set sudo: true for this host"
    assert refusal.text("vi") == "khắc phục cần quyền root: đặt sudo: true cho máy chủ này"
    report = RemediationReport(
        remediation_id="m-1", data_dir=Path("x"), selection=Selection(source_run="r-1", hosts=(), params={})
    )
    report.stop(said("err_canary_still_fails", host="web1", checks="sshd_x11_forwarding_disabled"))
    assert report.stopped == "canary web1 still fails its re-verification: sshd_x11_forwarding_disabled"
    assert report.stopped_text("vi") == "máy thử trước web1 vẫn chưa đạt khi kiểm tra lại: sshd_x11_forwarding_disabled"
    assert report.outcome()["stopped"] == report.stopped
