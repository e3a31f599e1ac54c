"""Importing other tools' results: parsers on recorded real outputs, hostile files, mappings, the store, verdicts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auditor.cli.app import run as cli
from auditor.content.loader import Content, builtin_content_dir, load_content
from auditor.errors import ContentError, ImportFileError
from auditor.external.mapping import load_mapping, mapping_path
from auditor.external.models import Tool
from auditor.external.record import build_import, read_report
from auditor.governance.resolve import ClauseState, judge_agency
from auditor.inventory import Agency
from auditor.reports.agency import build_agency_report
from auditor.reports.rollup import resolved_keys
from auditor.store import Store, open_store
from auditor.vocabulary import Severity, Status

DATA = Path(__file__).resolve().parents[1] / "data" / "external"
ARF = DATA / "openscap-arf-labh2.xml"  # oscap xccdf eval --results-arf on the lab's weak host, trimmed
XCCDF = DATA / "openscap-xccdf-labh2.xml"  # the same evaluation's --results, its TestResult alone
LYNIS = DATA / "lynis-report-labh5.dat"  # lynis audit system on the lab's weak host, whole
RULE = "xccdf_org.ssgproject.content_rule_"
AGENCY = Agency.model_validate({"id": "lab", "name": {"vi": "Phòng thí nghiệm", "en": "Lab"}})


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'x.db'}")


def _import(store: Store, content: Content, tool: Tool, path: Path, host: str, now: datetime | None = None) -> str:
    mapping = load_mapping(mapping_path(builtin_content_dir(), tool), tool, content.catalogues)
    report, data = read_report(path, tool)
    imported = build_import(report, mapping, "lab", host, path.name, data)
    return store.save_external_import(
        imported, address=host, tool_version="t", checklist_version=content.version, agency=AGENCY, now=now
    )


# -- parsers on real outputs ----------------------------------------------------------------------------------


def test_arf_results_are_read_with_their_outcomes() -> None:
    report, _ = read_report(ARF, "openscap")
    by_id = {r.id: r for r in report.results}
    assert report.target == "labh2"
    assert "anssi_np_nt28_high" in report.benchmark
    assert report.skipped == 3  # notselected rules are counted, not results
    assert len(report.results) == 20
    counts = {s: sum(1 for r in report.results if r.status is s) for s in Status}
    assert (counts[Status.failed], counts[Status.passed], counts[Status.not_applicable]) == (11, 4, 5)
    assert by_id[RULE + "sshd_disable_root_login"].status is Status.failed  # the weak posture permits root
    assert by_id[RULE + "package_telnetd_removed"].status is Status.passed
    assert by_id[RULE + "no_empty_passwords_etc_shadow"].severity is Severity.high


def test_plain_xccdf_results_read_like_the_arf() -> None:
    arf, _ = read_report(ARF, "openscap")
    plain, _ = read_report(XCCDF, "openscap")
    assert [(r.id, r.status) for r in plain.results] == [(r.id, r.status) for r in arf.results]


def test_lynis_report_tests_warnings_and_suggestions() -> None:
    report, _ = read_report(LYNIS, "lynis")
    by_id = {r.id: r for r in report.results}
    assert report.target == "labh5"
    assert report.benchmark == "Lynis 3.0.8"
    assert len(report.results) == 251 and report.skipped > 0
    assert by_id["AUTH-9283"].status is Status.failed and by_id["AUTH-9283"].severity is Severity.high  # warning
    ssh = by_id["SSH-7408"]  # eleven suggestions, one result
    assert ssh.status is Status.failed and ssh.severity is Severity.low and ssh.raw == "suggestion"
    assert "PermitRootLogin" in ssh.detail and "X11Forwarding" in ssh.detail
    assert by_id["LYNIS"].status is Status.failed  # the release check has no number
    assert by_id["HRDN-7231"].status is Status.passed  # executed, nothing raised


# -- hostile and malformed files ------------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<TestResult xmlns="http://checklists.nist.gov/xccdf/1.2">&lol3;</TestResult>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<TestResult xmlns="http://checklists.nist.gov/xccdf/1.2"><target>&xxe;</target></TestResult>"""


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("laughs.xml", BILLION_LAUGHS, "DTD or entities"),
        ("xxe.xml", EXTERNAL_ENTITY, "DTD or entities"),
        ("html.xml", "<html><body>not results</body></html>", "root element <html>"),
        ("empty-arf.xml", '<a:asset-report-collection xmlns:a="urn:x"/>', "no XCCDF TestResult"),
        ("text.xml", "oscap: error", "not well-formed"),
        (
            "bad-result.xml",
            '<TestResult><rule-result idref="r1"><result>maybe</result></rule-result></TestResult>',
            "unknown result 'maybe'",
        ),
    ],
)
def test_hostile_or_malformed_xml_is_refused(tmp_path: Path, name: str, body: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ImportFileError) as caught:
        read_report(path, "openscap")
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_truncated_real_arf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.xml"
    data = ARF.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImportFileError, match=r"cut\.xml: not well-formed XML at line \d+"):
        read_report(path, "openscap")


def test_oversize_file_is_refused_before_parsing() -> None:
    with pytest.raises(ImportFileError, match="larger than the limit of 1000 bytes"):
        read_report(ARF, "openscap", max_size=1000)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("just some text\n", "line 1: expected key=value"),
        ("hostname=x\n", "not a Lynis report.dat"),
        ("lynis_version=3.0.8\nwarning[]=<script>|x|-|-|\n", "line 2: warning[] entry without a Lynis test id"),
        ("lynis_version=3.0.8\ntests_executed=SSH-7408|rm -rf|\n", "line 2: not a Lynis test id"),
    ],
)
def test_malformed_lynis_report_is_refused(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "report.dat"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ImportFileError) as caught:
        read_report(path, "lynis")
    assert str(path) in str(caught.value) and message in str(caught.value)


# -- mappings -------------------------------------------------------------------------------------------------


def test_shipped_mappings_load_and_name_real_clauses(content: Content) -> None:
    for tool in ("openscap", "lynis"):
        mapping = load_mapping(mapping_path(builtin_content_dir(), tool), tool, content.catalogues)
        assert mapping.results
        assert all(item.title.vi and item.title.en for item in mapping.results.values())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('clause: "7.2.2.2"', 'clause: "7.9.9"'),
            "results → SSH-7408 → requirements[0] → clause: TCVN 11930:2017 has no clause '7.9.9'",
        ),
        (("tool: lynis", "tool: openscap"), "maps 'openscap' results, not 'lynis'"),
        (("    title:", "    colour: red\n    title:"), "colour"),
        (('framework: "TCVN 14423:2026"', 'framework: "ISO 27001"'), "unknown framework 'ISO 27001'"),
    ],
)
def test_bad_mapping_names_file_item_and_field(
    tmp_path: Path, content: Content, change: tuple[str, str], message: str
) -> None:
    text = mapping_path(builtin_content_dir(), "lynis").read_text(encoding="utf-8")
    start = text.index("  SSH-7408:")
    entry = text[start : text.index("\n  ", text.index("requirements", start) + 80) + 1]
    path = tmp_path / "lynis.yml"
    path.write_text(
        text.replace("tool: lynis", change[1])
        if change[0] == "tool: lynis"
        else text.replace(entry, entry.replace(*change, 1)),
        encoding="utf-8",
    )
    with pytest.raises(ContentError) as caught:
        load_mapping(path, "lynis", content.catalogues)
    assert str(path) in str(caught.value) and message in str(caught.value)
    assert "  - line " in str(caught.value)  # the problem's line in the file
    vietnamese = caught.value.text("vi")  # the same problems, said in Vietnamese
    assert "bảng ánh xạ: 1 vấn đề" in vietnamese and "  - dòng " in vietnamese
    assert all(words not in vietnamese for words in ("has no clause", "results, not", "unknown framework"))


# -- the store, the verdict and the report --------------------------------------------------------------------


def test_import_is_one_run_with_sourced_findings_and_the_file_as_evidence(store: Store, content: Content) -> None:
    run_id = _import(store, content, "openscap", ARF, "labh2")
    run = store.get_run(run_id)
    assert run.options["kind"] == "external" and run.options["source"] == "external:openscap"
    assert (run.options["mapped"], run.options["unmapped"], run.options["skipped"]) == (19, 1, 3)
    findings = store.list_findings(run_id)
    assert len(findings) == 20 and {f.source for f in findings} == {"external:openscap"}
    unmapped = [f for f in findings if not f.requirements]
    assert [f.check_id for f in unmapped] == [RULE + "service_cron_enabled"]  # kept, marked, not dropped
    assert "Not mapped" in unmapped[0].reason_en
    root = next(f for f in findings if f.check_id == RULE + "sshd_disable_root_login")
    assert root.status is Status.failed and root.reason_vi.startswith("SSH không cho đăng nhập trực tiếp bằng root")
    evidence = store.evidence({root.evidence_id: [root.check_id]}, verify=True)  # type: ignore[dict-item]
    (row,) = evidence.values()
    assert row.stdout == ARF.read_bytes() and row.verified


def test_latest_import_per_host_and_tool_is_in_effect(store: Store, content: Content) -> None:
    now = datetime.now(UTC)
    first = _import(store, content, "openscap", ARF, "labh2", now - timedelta(days=2))
    second = _import(store, content, "openscap", XCCDF, "labh2", now - timedelta(days=1))
    lynis = _import(store, content, "lynis", LYNIS, "labh5", now - timedelta(hours=1))
    assert {f.run_id for f in store.external_findings("lab", now)} == {second, lynis}
    assert {f.run_id for f in store.external_findings("lab", now - timedelta(hours=30))} == {first}
    assert {f.run_id for f in store.external_findings("lab", now, exclude_run=lynis)} == {second}
    assert store.external_findings("other", now) == []
    # Imports are no audits: never "latest", never an agency's latest run, not in the listings.
    assert store.latest_run_id() is None and store.list_runs() == [] and store.latest_runs_by_agency() == {}
    assert store.resolve_run_id(lynis[:12]) == lynis


def test_verdict_counts_mapped_results_and_names_their_source(store: Store, content: Content) -> None:
    _import(store, content, "openscap", ARF, "labh2")
    _import(store, content, "lynis", LYNIS, "labh5")
    rows = store.external_findings("lab", datetime.now(UTC))
    catalogue = content.catalogues["TCVN 11930:2017"]
    verdict = judge_agency("lab", catalogue, resolved_keys(rows, store.resolved_findings(rows, datetime.now(UTC))))
    clauses = {c.clause: c for c in verdict.clauses}
    assert clauses["7.2.2.2"].state is ClauseState.failed
    assert clauses["7.2.2.2"].sources == ("external:lynis", "external:openscap")
    assert clauses["7.2.2.5"].sources == ("external:lynis",)
    assert clauses["7.1.1.1"].state is ClauseState.not_evaluated and clauses["7.1.1.1"].sources == ()
    mapped = sum(1 for r in rows if r.requirements)
    assert clauses["7.2.2.1"].findings + clauses["7.2.2.2"].findings <= mapped  # unmapped results judge nothing


def test_unmapped_failure_alone_does_not_fail_the_verdict(store: Store, content: Content, tmp_path: Path) -> None:
    path = tmp_path / "report.dat"
    path.write_text("lynis_version=3.0.8\nsuggestion[]=BANN-7126|Add a legal banner|-|-|\n", encoding="utf-8")
    _import(store, content, "lynis", path, "labh5")
    rows = store.external_findings("lab", datetime.now(UTC))
    assert [(r.check_id, r.status, r.requirements) for r in rows] == [("BANN-7126", Status.failed, ())]
    verdict = judge_agency("lab", content.catalogues["TCVN 11930:2017"], resolved_keys(rows, {}))
    assert verdict.outcome.value == "not_demonstrated"  # nothing judged failed: the clause gaps speak


def test_agency_report_has_the_other_tools_block(store: Store, content: Content) -> None:
    _import(store, content, "openscap", ARF, "labh2")
    lynis = _import(store, content, "lynis", LYNIS, "labh5")
    report = build_agency_report(store, content, lynis, "lab", lang="vi")
    (section,) = report.external  # the report's own run (lynis) is its findings; the other import is the block
    assert section.source == "external:openscap" and section.host_name == "labh2"
    assert "OpenSCAP" in section.summary and "19 đã ánh xạ, 1 chưa ánh xạ" in section.summary
    assert RULE + "sshd_disable_root_login" in {r.check_id for r in section.results}
    assert report.external_words["heading"] == "Kết quả từ công cụ khác"
    state = {c.id: c.state for c in report.assessment.clauses}
    assert state["7.2.2.2"] is ClauseState.failed


# -- the command ----------------------------------------------------------------------------------------------


def _inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.yml"
    path.write_text(
        "agencies:\n  - id: lab\n    name: {vi: Lab, en: Lab}\n"
        "    hosts:\n      - {name: labh2, address: 10.200.2.2, use_agent: true}\n",
        encoding="utf-8",
    )
    return path


def test_cli_import_then_verdict_names_the_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    args = ["import", str(ARF), "--tool", "openscap", "--agency", "lab", "--host", "labh2"]
    assert cli([*args, "-i", str(_inventory(tmp_path)), "--db", db, "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["source"], summary["results"], summary["unmapped"]) == ("external:openscap", 20, 1)
    # An import is no audit: "latest" and the listings skip it, its id reaches it.
    assert cli(["verdict", "latest", "--agency", "lab", "--db", db, "--format", "json"]) == 3
    capsys.readouterr()
    assert cli(["runs", "--db", db, "--format", "json"]) == 0 and json.loads(capsys.readouterr().out) == []
    assert cli(["verdict", summary["run_id"], "--agency", "lab", "--db", db, "--format", "json"]) == 1  # not met
    clauses = {c["clause"]: c for c in json.loads(capsys.readouterr().out)}
    assert clauses["7.2.2.2"]["sources"] == "external:openscap"


def test_cli_refuses_a_hostile_file_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    path = tmp_path / "xxe.xml"
    path.write_text(EXTERNAL_ENTITY, encoding="utf-8")
    args = ["import", str(path), "--tool", "openscap", "--agency", "lab", "--host", "labh2"]
    assert cli([*args, "-i", str(_inventory(tmp_path)), "--db", db]) == 3
    assert "xxe.xml" in capsys.readouterr().err
    assert open_store(db).list_runs() == []


def test_import_reads_back_alike_on_postgresql(pg_url: str, content: Content) -> None:
    store = open_store(pg_url)
    run_id = _import(store, content, "lynis", LYNIS, "labh5")
    findings = store.list_findings(run_id)
    assert len(findings) == 251 and {f.source for f in findings} == {"external:lynis"}
    ssh = next(f for f in findings if f.check_id == "SSH-7408")
    assert "PermitRootLogin" in ssh.observed and ssh.reason_vi.startswith("Cấu hình máy chủ SSH được tăng cứng")
    assert {f.run_id for f in store.external_findings("lab", datetime.now(UTC))} == {run_id}
