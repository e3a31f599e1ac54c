"""The requirement catalogues: complete, consistent with the checks, no clause without evidence."""

from functools import cache

import pytest

from auditor.content.catalogue import Verification, coverage
from auditor.content.loader import Content, load_content

TCVN_11930 = "TCVN 11930:2017"
TCVN_14423 = "TCVN 14423:2026"

# Section 7 of TCVN 11930:2017 at level 3, as numbered by the standard.
EXPECTED_11930 = {
    *(f"7.1.1.{i}" for i in range(1, 4)),
    *(f"7.1.2.{i}" for i in range(1, 3)),
    *(f"7.1.3.{i}" for i in range(1, 4)),
    *(f"7.1.4.{i}" for i in range(1, 4)),
    *(f"7.1.5.{i}" for i in range(1, 12)),
    *(f"7.2.1.{i}" for i in range(1, 8)),
    *(f"7.2.2.{i}" for i in range(1, 6)),
    *(f"7.2.4.{i}" for i in range(1, 4)),
}


@cache
def shipped() -> Content:
    return load_content()


def test_both_catalogues_ship() -> None:
    catalogues = shipped().catalogues
    assert set(catalogues) == {TCVN_11930, TCVN_14423}
    assert catalogues[TCVN_14423].provisional and not catalogues[TCVN_11930].provisional
    assert {clause.id for clause in catalogues[TCVN_14423].clauses} == {f"5.{i}" for i in range(1, 19)}


def test_11930_has_every_level3_clause_of_section_7() -> None:
    ids = {clause.id for clause in shipped().catalogues[TCVN_11930].clauses}
    assert ids >= EXPECTED_11930
    assert any(clause_id.startswith("7.2.3.") for clause_id in ids)  # application clauses


def test_catalogues_name_only_existing_checks() -> None:
    assert shipped().mapping_problems == ()


@pytest.mark.parametrize("framework", [TCVN_11930, TCVN_14423])
def test_no_clause_is_missing_an_evidence_path(framework: str) -> None:
    rows = coverage(shipped().catalogues[framework], shipped().checks)
    assert [row.clause.id for row in rows if Verification.missing in row.kinds] == []


@pytest.mark.parametrize("framework", [TCVN_11930, TCVN_14423])
def test_every_automated_check_is_mapped_in_each_catalogue(framework: str) -> None:
    catalogue = shipped().catalogues[framework]
    named = {c for clause in catalogue.clauses for c in (*clause.checks, *clause.network_checks, *clause.manual)}
    automated = {check_id for check_id, check in shipped().checks.items() if not check.is_manual}
    assert sorted(automated - named) == []


def test_every_manual_item_is_named_by_a_catalogue() -> None:
    # Some manual items exist for one standard only (e.g. MFA for administrators in TCVN 14423:2026).
    named = {c for catalogue in shipped().catalogues.values() for clause in catalogue.clauses for c in clause.manual}
    manual = {check_id for check_id, check in shipped().checks.items() if check.is_manual}
    assert sorted(manual - named) == []


def test_requirements_are_derived_from_the_catalogues() -> None:
    refs = shipped().requirements_of("sshd_permit_root_login_disabled")
    assert {ref.framework for ref in refs} == {TCVN_11930, TCVN_14423}
    assert any(ref.clause.startswith("7.2.2.") for ref in refs)


def test_manual_items_are_agency_scoped() -> None:
    manual = [check for check in shipped().checks.values() if check.is_manual]
    assert len(manual) >= 30
    assert all(check.scope == "agency" and check.evidence_required for check in manual)


def test_a_catalogue_naming_what_does_not_exist_is_said_in_either_language() -> None:
    from auditor.content.catalogue import cross_check

    catalogue = shipped().catalogues[TCVN_11930]
    first = catalogue.clauses[0]
    broken = catalogue.model_copy(
        update={
            "clauses": (first.model_copy(update={"checks": ("no_such_check",), "manual": ()}), *catalogue.clauses[1:])
        }
    )
    [problem] = cross_check(broken, shipped().checks)
    assert problem.text("en") == f"clause {first.id} → checks: unknown check no_such_check"
    assert problem.text("vi") == f"điều {first.id} → checks: không có kiểm tra no_such_check"
