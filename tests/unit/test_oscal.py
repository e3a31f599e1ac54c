"""OSCAL exports: a stored run as assessment results and both requirement catalogues as catalogs, each validated
against NIST's OSCAL JSON schemas shipped in reports/schema/oscal/."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import regex
from jsonschema import Draft7Validator, FormatChecker, validators
from typer.testing import CliRunner

from auditor.cli.checklist import checklist_app
from auditor.cli.results import app as results_app
from auditor.content.catalogue import Catalogue
from auditor.evaluation.findings import Finding, HostResult, HostStatus
from auditor.governance.records import WaiverRequest
from auditor.oscal import assessment_results as ar_module
from auditor.oscal.assessment_results import assessment_results, markdown_text
from auditor.oscal.catalog import catalog_document, catalogue_for_standard
from auditor.oscal.ids import PROJECT_NS, clause_prop_name, control_id
from auditor.oscal.models import OSCAL_VERSION
from auditor.reports.exports import run_export
from auditor.store import Store, open_store
from auditor.vocabulary import LocalizedText, Status
from tests.unit.test_reports_support import AGENCY, T0, agency_result, automated_checks, content, host_result
from tests.unit.test_reports_support import store_run as save_run

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "reports" / "schema" / "oscal"
AS_OF = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)
OTHER = AGENCY.model_copy(update={"id": "other", "name": LocalizedText(vi="Đài Phát thanh", en="Radio")})
DEPARTMENT = "Sở Thông tin và Truyền thông"
MARKDOWN_ATTACK = "[bấm vào](http://evil.example) <img src=x> \x1b[2J **đậm**"


def _unicode_pattern(
    validator: Any, pattern: str, instance: Any, schema: dict[str, Any]
) -> Any:  # jsonschema's keyword signature
    """NIST's TokenDatatype uses \\p{L} and \\p{N}, which Python's re cannot compile: match with `regex`."""
    if validator.is_type(instance, "string") and not regex.search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


OscalValidator = validators.extend(Draft7Validator, {"pattern": _unicode_pattern})


def _format_checker() -> FormatChecker:
    """The draft-07 formats jsonschema can check here, with 'regex' (the schemas' own patterns) compiled by `regex`.
    Formats whose optional checker is not installed (uri, date-time) pass unchecked; NIST's schemas give date-times
    and URIs a pattern as well, and those are checked."""
    checker = FormatChecker(Draft7Validator.FORMAT_CHECKER.checkers)
    checker.checks("regex", raises=regex.error)(regex.compile)
    return checker


@cache
def oscal_validator(model: str) -> Any:
    schema = json.loads((SCHEMA_DIR / f"oscal_{model}_schema.json").read_text(encoding="utf-8"))
    OscalValidator.check_schema(schema, format_checker=_format_checker())
    return OscalValidator(schema, format_checker=_format_checker())


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The errors under an anyOf that says only 'not valid under any of the given schemas'."""
    return [leaf for child in error.context for leaf in _leaves(child)] if error.context else [error]


def assert_valid(model: str, document: dict[str, Any]) -> None:
    problems = [leaf for error in oscal_validator(model).iter_errors(document) for leaf in _leaves(error)]
    assert not problems, "\n".join(f"{list(p.absolute_path)}: {p.message[:300]}" for p in problems[:10])


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'audit.db'}")


def network_check() -> str:
    return next(c.id for c in content().checks.values() if c.scope == "network")


def service_result(agency: Any = AGENCY) -> HostResult:
    check_id = network_check()
    finding = Finding(
        check_id=check_id,
        status=Status.passed,
        severity=content().checks[check_id].severity,
        observed="closed",
        expected="closed",
        reason=LocalizedText(vi="Cổng đóng", en="Port closed"),
        requirements=content().requirements_of(check_id),
    )
    return HostResult(
        agency_id=agency.id,
        host_name="tcp://10.200.1.2:3306",
        kind="service",
        address="10.200.1.2",
        status=HostStatus.ok,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=5),
        findings=(finding,),
    )


def make_run(store: Store) -> str:
    checks = automated_checks(4)
    statuses = dict(zip(checks, (Status.failed, Status.passed, Status.error, Status.not_applicable), strict=True))
    web = host_result("web-01", statuses)
    hostile = web.findings[0].model_copy(update={"reason": LocalizedText(vi=MARKDOWN_ATTACK, en=MARKDOWN_ATTACK)})
    web = web.model_copy(update={"findings": (hostile, *web.findings[1:])})
    return save_run(
        store,
        [
            web,
            agency_result(),
            service_result(),
            host_result("x-01", dict.fromkeys(checks, Status.passed), agency=OTHER, address="10.0.0.9"),
        ],
        {AGENCY.id: AGENCY, "other": OTHER},
        T0,
    )


def export(store: Store, run: str, agency: str | None = None) -> dict[str, Any]:
    document = assessment_results(store, run, content(), department=DEPARTMENT, as_of=AS_OF, agency_id=agency)
    parsed: dict[str, Any] = json.loads(document.to_json())
    return parsed


def own_prop(item: dict[str, Any], name: str) -> list[str]:
    return [p["value"] for p in item.get("props", []) if p["name"] == name and p.get("ns") == PROJECT_NS]


def result_of(document: dict[str, Any], agency_id: str) -> dict[str, Any]:
    return next(r for r in document["assessment-results"]["results"] if own_prop(r, "agency-id") == [agency_id])


# -- the validator itself --------------------------------------------------------------------------------------------


def test_the_shipped_schemas_are_nists_oscal_release_the_documents_declare() -> None:
    for model, short in (("assessment-results", "ar"), ("catalog", "catalog")):
        schema = json.loads((SCHEMA_DIR / f"oscal_{model}_schema.json").read_text(encoding="utf-8"))
        assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
        assert schema["$id"] == f"http://csrc.nist.gov/ns/oscal/{OSCAL_VERSION}/oscal-{short}-schema.json"
    assert OSCAL_VERSION in (SCHEMA_DIR / "README.md").read_text(encoding="utf-8")


def test_the_validator_enforces_unicode_token_patterns_and_oscal_vocabularies() -> None:
    catalogue = content().catalogues["TCVN 11930:2017"]
    good = json.loads(catalog_document(catalogue, "v1", AS_OF).to_json())
    assert_valid("catalog", good)
    bad_id = json.loads(json.dumps(good))
    bad_id["catalog"]["groups"][0]["controls"][0]["id"] = "7.1.1.1"  # a token must start with a letter
    with pytest.raises(AssertionError, match="does not match"):
        assert_valid("catalog", bad_id)
    vietnamese_token = json.loads(json.dumps(good))
    vietnamese_token["catalog"]["groups"][0]["controls"][0]["id"] = "điều-7.1.1.1"  # \p{L} takes any letter
    assert_valid("catalog", vietnamese_token)
    empty = json.loads(json.dumps(good))
    empty["catalog"]["groups"][0]["controls"][0]["props"] = []  # OSCAL arrays are never empty
    with pytest.raises(AssertionError):
        assert_valid("catalog", empty)


# -- catalogs --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("standard", ["tcvn11930", "tcvn14423"])
def test_each_catalogue_exports_as_a_valid_oscal_catalog_with_every_clause_a_control(standard: str) -> None:
    catalogue: Catalogue = catalogue_for_standard(content(), standard)
    document = json.loads(catalog_document(catalogue, content().version, AS_OF).to_json())
    assert_valid("catalog", document)
    catalog = document["catalog"]
    assert catalog["metadata"]["oscal-version"] == OSCAL_VERSION
    assert catalog["metadata"]["title"] == catalogue.title.vi
    assert own_prop(catalog["metadata"], "provisional") == [str(catalogue.provisional).lower()]
    assert [g["title"] for g in catalog["groups"]] == [g.heading.vi for g in catalogue.groups]
    controls = {c["id"]: c for g in catalog["groups"] for c in g["controls"]}
    assert set(controls) == {control_id(catalogue.framework, c.id) for c in catalogue.clauses}
    for clause in catalogue.clauses:
        control = controls[control_id(catalogue.framework, clause.id)]
        assert control["title"] == clause.heading.vi
        assert [p["value"] for p in control["props"] if p["name"] == "label"] == [clause.id]
        statement = next(p for p in control["parts"] if p["name"] == "statement")
        assert statement["prose"] == clause.summary.vi
        english = next(p for p in control["parts"] if p["name"] == "translation")
        assert (english["title"], english["prose"]) == (clause.heading.en, clause.summary.en)
        evidence = own_prop(control, "automated-check") + own_prop(control, "network-check")
        assert evidence + own_prop(control, "manual-evidence") == [
            *clause.checks,
            *clause.network_checks,
            *clause.manual,
        ]
    ids = [g["id"] for g in catalog["groups"]] + list(controls)
    assert len(ids) == len(set(ids)), "group and control ids share one space (14423 numbers groups like clauses)"


def test_catalog_identifiers_are_stable_and_an_unknown_standard_is_refused() -> None:
    catalogue = catalogue_for_standard(content(), "TCVN 14423:2026")
    first = catalog_document(catalogue, "v1", AS_OF)
    assert first == catalog_document(catalogue, "v1", AS_OF)
    assert uuid.UUID(first.catalog.uuid).version == 5
    with pytest.raises(Exception, match="tcvn11930, tcvn14423"):
        catalogue_for_standard(content(), "iso27001")


def test_export_catalog_command_writes_utf8_oscal(tmp_path: Path) -> None:
    path = tmp_path / "tcvn14423.json"
    result = CliRunner().invoke(
        checklist_app, ["export-catalog", "--standard", "tcvn14423", "--format", "oscal", "-o", str(path)]
    )
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    assert "Quản lý rủi ro an ninh mạng" in text  # Vietnamese kept as characters, not \\u escapes
    assert_valid("catalog", json.loads(text))
    refused = CliRunner().invoke(checklist_app, ["export-catalog", "--standard", "tcvn11930", "--format", "xml"])
    assert refused.exit_code != 0


# -- assessment results ----------------------------------------------------------------------------------------------


def test_run_export_validates_with_one_observation_per_check_result(store: Store) -> None:
    run = make_run(store)
    document = export(store, run)
    assert_valid("assessment-results", document)
    ar = document["assessment-results"]
    assert ar["metadata"]["oscal-version"] == OSCAL_VERSION
    assert ar["import-ap"]["href"] == f"#{ar['back-matter']['resources'][0]['uuid']}"
    parties = {p["name"] for p in ar["metadata"]["parties"]}
    assert parties == {DEPARTMENT, AGENCY.name.vi, OTHER.name.vi}
    assert {r["role-id"] for r in ar["metadata"]["responsible-parties"]} == {"assessor", "system-owner"}
    rows = store.list_findings(run)
    observations = [o for r in ar["results"] for o in r["observations"]]
    assert sorted(int(own_prop(o, "finding-id")[0]) for o in observations) == sorted(f.id for f in rows)
    by_finding = {int(own_prop(o, "finding-id")[0]): o for o in observations}
    hashes = {e.id: e.sha256 for e in run_export(store, run).evidence}
    for row in rows:
        observation = by_finding[row.id]
        check = content().checks[row.check_id]
        assert observation["methods"] == (["EXAMINE"] if check.is_manual else ["TEST"])
        assert own_prop(observation, "status") == [row.status.value]
        for ref in row.requirements:
            assert ref.clause in own_prop(observation, clause_prop_name(ref.framework))
        if row.evidence_id is None:
            assert "relevant-evidence" not in observation
        else:
            (evidence,) = observation["relevant-evidence"]
            assert own_prop(evidence, "evidence-sha256") == [hashes[row.evidence_id]]
            assert hashes[row.evidence_id] in evidence["description"]


def test_subjects_are_defined_in_the_results_local_definitions(store: Store) -> None:
    document = export(store, make_run(store))
    mine = result_of(document, AGENCY.id)
    items = {i["uuid"]: i for i in mine["local-definitions"]["inventory-items"]}
    components = {c["uuid"]: c for c in mine["local-definitions"]["components"]}
    parties = {p["uuid"] for p in document["assessment-results"]["metadata"]["parties"]}
    kinds = set()
    for observation in mine["observations"]:
        (subject,) = observation["subjects"]
        kinds.add(subject["type"])
        known = {"inventory-item": items, "component": components, "party": parties}[subject["type"]]
        assert subject["subject-uuid"] in known
    assert kinds == {"inventory-item", "component", "party"}
    (web,) = items.values()
    assert own_prop(web, "target-name") == ["web-01"] and own_prop(web, "address") == ["10.200.1.2"]
    (service,) = components.values()
    assert service["type"] == "service" and service["title"] == "tcp://10.200.1.2:3306"


def test_findings_state_each_assessed_clause_as_auditor_verdict_does(store: Store) -> None:
    run = make_run(store)
    document = export(store, run, AGENCY.id)
    assert_valid("assessment-results", document)
    (mine,) = document["assessment-results"]["results"]
    observations = {o["uuid"]: o for o in mine["observations"]}
    findings = mine["findings"]
    assert findings
    selected = {c["control-id"] for s in mine["reviewed-controls"]["control-selections"] for c in s["include-controls"]}
    assert {f["target"]["target-id"] for f in findings} == selected
    failing_check = automated_checks(4)[0]
    for finding in findings:
        target = finding["target"]
        assert target["type"] == "objective-id"
        related = [observations[r["observation-uuid"]] for r in finding.get("related-observations", [])]
        assert related, "every assessed clause has the results it was judged on"
        statuses = {own_prop(o, "status")[0] for o in related}
        (state,) = own_prop(finding, "clause-state")
        if "fail" in statuses:
            assert (state, target["status"]["state"], target["status"]["reason"]) == ("failed", "not-satisfied", "fail")
        elif statuses <= {"pass", "not_applicable"}:
            assert target["status"]["state"] == "satisfied"
        else:
            assert target["status"]["state"] == "not-satisfied"
    failed_clauses = {r.clause for r in content().requirements_of(failing_check)}
    failed_findings = [f for f in findings if own_prop(f, "clause-state") == ["failed"]]
    assert {v for f in failed_findings for p in f["props"] if p["name"].endswith("-clause") for v in [p["value"]]} >= (
        failed_clauses
    )
    assert own_prop(mine, "tcvn-11930-2017-verdict") == ["not_met"]


def test_a_waiver_lifts_the_failed_clauses_and_is_named_on_the_observation(store: Store) -> None:
    run = make_run(store)
    failing_check = automated_checks(4)[0]

    def failed_by_it() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        (mine,) = export(store, run, AGENCY.id)["assessment-results"]["results"]
        observation = next(o for o in mine["observations"] if own_prop(o, "check-id") == [failing_check])
        judged_on_it = [
            f
            for f in mine["findings"]
            if observation["uuid"] in {r["observation-uuid"] for r in f.get("related-observations", [])}
        ]
        return observation, judged_on_it

    _, before = failed_by_it()
    assert before and all(own_prop(f, "clause-state") == ["failed"] for f in before)
    request = WaiverRequest(
        agency_id=AGENCY.id,
        check_id=failing_check,
        host_pattern="web-*",
        justification="Máy chủ sẽ được thay trong quý tới",
        compensating_control="Tường lửa chặn mọi kết nối từ ngoài vào",
        requested_by="Nguyễn Văn A",
        approved_by="Trần Thị B",
        expires_on=(AS_OF + timedelta(days=30)).date(),
    )
    store.add_waiver(request, T0)
    observation, after = failed_by_it()
    assert own_prop(observation, "waiver-id") and own_prop(observation, "status") == ["fail"]
    assert [f["uuid"] for f in after] == [f["uuid"] for f in before]
    assert not any(own_prop(f, "clause-state") == ["failed"] for f in after)


def test_reexport_is_identical_and_uuids_are_name_based_per_run(store: Store) -> None:
    run = make_run(store)
    first = assessment_results(store, run, content(), department=DEPARTMENT, as_of=AS_OF).to_json()
    assert first == assessment_results(store, run, content(), department=DEPARTMENT, as_of=AS_OF).to_json()
    document = json.loads(first)
    uuids = _uuids(document)
    assert all(uuid.UUID(u).version == 5 for u in uuids)
    other_run = make_run(store)
    again = _uuids(export(store, other_run))
    party = {p["uuid"] for p in document["assessment-results"]["metadata"]["parties"]}
    assert (set(uuids) - party).isdisjoint(again), "a different run gets different identifiers"


def _uuids(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "uuid":
                found.append(value)
            else:
                found.extend(_uuids(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_uuids(value))
    return found


def test_every_uuid_defined_is_defined_once(store: Store) -> None:
    uuids = _uuids(export(store, make_run(store)))
    repeated = {u for u in uuids if uuids.count(u) > 1}
    assert not repeated


def test_text_from_targets_cannot_inject_markdown_or_controls(store: Store) -> None:
    (mine,) = export(store, make_run(store), AGENCY.id)["assessment-results"]["results"]
    hostile = next(o for o in mine["observations"] if "evil.example" in o["description"])
    assert "\x1b" not in hostile["description"] and "\\x1b" in hostile["description"]
    assert "](" not in hostile["description"].replace("\\](", "")
    assert "<img" not in hostile["description"].replace("\\<img", "")
    assert markdown_text("a*b_c") == "a\\*b\\_c"


def test_results_of_other_tools_carry_their_source_when_rows_have_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make_run(store)
    real = run_export

    def with_source(store: Store, run_ref: str, agency_id: str | None = None) -> Any:
        dump = real(store, run_ref, agency_id)
        rows = [f.model_copy(update={"source": "external:lynis"}) for f in dump.findings[:1]]
        return dump.model_copy(update={"findings": [*rows, *dump.findings[1:]]})

    monkeypatch.setattr(ar_module, "run_export", with_source)
    document = export(store, run)
    assert_valid("assessment-results", document)
    sources = [own_prop(o, "source") for r in document["assessment-results"]["results"] for o in r["observations"]]
    assert sources.count(["external:lynis"]) == 1 and sources.count([]) == len(sources) - 1


def test_export_command_writes_oscal_for_one_agency(store: Store, tmp_path: Path) -> None:
    run = make_run(store)
    database = f"sqlite:///{tmp_path / 'audit.db'}"
    path = tmp_path / "ar.json"
    result = CliRunner().invoke(
        results_app, ["export", run, "--format", "oscal", "--agency", AGENCY.id, "-o", str(path), "--db", database]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(path.read_text(encoding="utf-8"))
    assert_valid("assessment-results", document)
    assert [own_prop(r, "agency-id") for r in document["assessment-results"]["results"]] == [[AGENCY.id]]
    assert all(own_prop(o, "severity") for r in document["assessment-results"]["results"] for o in r["observations"])
