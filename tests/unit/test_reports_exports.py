"""JSON and CSV exports: the JSON validates against the published schema; CSV has one row per finding."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest

from auditor.reports.exports import CSV_COLUMNS, export_csv, export_json, json_schema, json_schema_text
from auditor.store import Store, open_store
from auditor.vocabulary import Status
from tests.unit.test_reports_support import AGENCY, HOSTILE, T0, agency_result, automated_checks, content, host_result
from tests.unit.test_reports_support import store_run as save_run

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "reports" / "schema" / "run-export.schema.json"
OTHER = AGENCY.model_copy(update={"id": "other"})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'audit.db'}")


def make_run(store: Store) -> str:
    checks = automated_checks(4)
    statuses = dict(zip(checks, (Status.failed, Status.passed, Status.error, Status.not_applicable), strict=True))
    formula = {checks[0]: b'=HYPERLINK("http://evil.example","x")\n', checks[1]: HOSTILE}
    return save_run(
        store,
        [
            host_result("web-01", statuses, stdout=formula),
            agency_result(),
            host_result("x-01", statuses, agency=OTHER, address="10.0.0.9"),
        ],
        {AGENCY.id: AGENCY, "other": OTHER},
        T0,
    )


def test_checked_in_schema_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json_schema_text(), (
        "refresh it: python -c 'from auditor.reports.exports import json_schema_text as s; "
        'open("reports/schema/run-export.schema.json", "w").write(s())\''
    )
    jsonschema.Draft202012Validator.check_schema(json_schema())


def test_json_export_validates_against_the_published_schema(store: Store) -> None:
    run = make_run(store)
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    whole = json.loads(export_json(store, run))
    jsonschema.validate(whole, schema)
    assert whole["format"] == "auditor-run-export" and whole["agency_filter"] is None
    assert len(whole["findings"]) == len(store.list_findings(run))
    one = json.loads(export_json(store, run, AGENCY.id))
    jsonschema.validate(one, schema)
    assert one["agency_filter"] == AGENCY.id
    assert {f["agency_id"] for f in one["findings"]} == {AGENCY.id}
    assert {e["agency_id"] for e in one["evidence"]} == {AGENCY.id}
    assert [a["id"] for a in one["agencies"]] == [AGENCY.id]
    broken = dict(one, format_version=1)  # an export of the earlier format is not this one
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_csv_has_one_row_per_finding_and_defuses_formulas(store: Store) -> None:
    run = make_run(store)
    text = export_csv(store, run, AGENCY.id, content())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert len(rows) == len(store.list_findings(run, agency_id=AGENCY.id))
    assert {r["agency_name_vi"] for r in rows} == {"Báo Sóc Trăng"}
    formula = next(r for r in rows if r["observed"].lstrip("'").startswith("=HYPERLINK"))
    assert formula["observed"].startswith("'=")
    assert all("\x1b" not in value for row in rows for value in row.values())
    with_evidence = [r for r in rows if r["evidence_id"]]
    assert with_evidence and all(len(r["evidence_sha256"]) == 64 for r in with_evidence)
    assert all(r["title_vi"] for r in with_evidence)
    everything = list(csv.DictReader(io.StringIO(export_csv(store, run))))
    assert {r["agency_id"] for r in everything} == {AGENCY.id, "other"}
