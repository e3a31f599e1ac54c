"""Every route × every role × the user's own and another agency's ids, with the status each cell must give.

The matrix is generated from the routes themselves (each declares its rule with
``auditor.portal.access.route``), so a route added later is tested at once, and one without a rule fails.
"Allowed" means the request got past authorization: any status but 401, 403 and 404 (a page, a redirect,
a refusal of the form's content)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from auditor.governance.records import PreparedDocument
from auditor.portal.access import Access, Rule, Scope, rule_of
from auditor.portal.app import route_table
from auditor.portal.security import SESSION_COOKIE
from auditor.vocabulary import Status
from tests.portal.support import T0, PortalHarness, make_portal
from tests.unit.test_reports_support import AGENCY, agency_result, automated_checks, host_result, store_run

OTHER_AGENCY = "dai-ptth"
OWN = "own"
OTHER = "other"
DENIED = {401, 403, 404}


@dataclass(frozen=True)
class Cell:
    method: str
    path_template: str
    rule: Rule
    role: str  # anonymous | officer | department | agency
    ids: str  # own | other: whose resources fill the path

    @property
    def label(self) -> str:
        return f"{self.method} {self.path_template} as {self.role} ({self.ids})"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[PortalHarness, dict[str, dict[str, str]]]:
    portal = make_portal(tmp_path_factory.mktemp("matrix"))
    store = portal.store
    from auditor.inventory import Agency
    from auditor.vocabulary import LocalizedText

    other = Agency(id=OTHER_AGENCY, name=LocalizedText(vi="Đài PT-TH Sóc Trăng", en="Soc Trang Radio"))
    checks = automated_checks(3)
    statuses = {checks[0]: Status.failed, checks[1]: Status.passed, checks[2]: Status.failed}
    run_id = store_run(
        store,
        [
            host_result("bst-web", statuses),
            agency_result(),
            host_result("dai-web", statuses, agency=other, address="10.200.2.2"),
            agency_result(other),
        ],
        {AGENCY.id: AGENCY, OTHER_AGENCY: other},
        T0,
    )
    findings = {f.agency_id: f for f in store.list_findings(run_id) if f.evidence_id is not None}
    manual = next(f.check_id for f in store.list_findings(run_id, agency_id=AGENCY.id) if f.status is Status.manual)
    document = PreparedDocument(file_name="quy-che.pdf", content=b"%PDF-1.4 test", media_type="application/pdf")
    submissions = {
        agency: store.submit_document(agency, manual, document, "note", "tester", T0).id
        for agency in (AGENCY.id, OTHER_AGENCY)
    }
    schedule = store.add_schedule("0 2 * * 1", "Asia/Ho_Chi_Minh", "officer1", T0, agency_id=AGENCY.id)
    values = {
        OWN: {
            "agency_id": AGENCY.id,
            "finding_id": str(findings[AGENCY.id].id),
            "submission_id": str(submissions[AGENCY.id]),
        },
        OTHER: {
            "agency_id": OTHER_AGENCY,
            "finding_id": str(findings[OTHER_AGENCY].id),
            "submission_id": str(submissions[OTHER_AGENCY]),
        },
        "any": {"run_id": run_id, "schedule_id": str(schedule.id), "code": "en", "username": "dai-it"},
    }
    return portal, values


def _routes(portal: PortalHarness) -> Iterator[tuple[str, str, Rule]]:
    for route in route_table(portal.app):
        rule = rule_of(route.endpoint)
        assert rule is not None, f"{route.path} has no access rule: declare it with auditor.portal.access.route"
        for method in sorted(route.methods or ()):
            yield method, route.path, rule


def _cells(portal: PortalHarness) -> list[Cell]:
    cells = []
    for method, path, rule in _routes(portal):
        for role in ("anonymous", "officer", "department", "agency"):
            for ids in (OWN, OTHER) if rule.scope is not Scope.none else (OWN,):
                cells.append(Cell(method, path, rule, role, ids))
    return cells


def expected_allowed(cell: Cell) -> bool | None:
    """True: authorization lets it through; False: it must be refused; None: public (anything goes)."""
    access, role = cell.rule.access, cell.role
    if access is Access.public:
        return None
    if role == "anonymous":
        return False
    if access is Access.signed_in:
        return True
    if access is Access.officer:
        return role == "officer"
    if access is Access.read_all:
        return role in ("officer", "department")
    if access is Access.agency_read:
        return role in ("officer", "department") or cell.ids == OWN
    if access is Access.agency_write:
        return role == "officer" or (role == "agency" and cell.ids == OWN)
    raise AssertionError(f"unknown access {access}")


def _path(cell: Cell, values: dict[str, dict[str, str]]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        for source in (values[cell.ids], values["any"]):
            if name in source:
                return source[name]
        raise AssertionError(f"{cell.path_template}: no test value for {{{name}}}: add one to the matrix fixture")

    return re.sub(r"\{([^}]+)\}", fill, cell.path_template)


USERS = {"officer": "officer1", "department": "lanhdao", "agency": "bst-it"}


def _client(portal: PortalHarness, role: str) -> tuple[TestClient, str]:
    if role == "anonymous":
        return portal.client(), ""
    client = portal.signed_in(USERS[role])
    signer = portal.app.state.portal.signer
    return client, signer.csrf_token(signer.unsign(client.cookies.get(SESSION_COOKIE)))


def test_the_matrix_covers_every_route(world: tuple[PortalHarness, dict[str, dict[str, str]]]) -> None:
    portal, _ = world
    cells = _cells(portal)
    assert len({(c.method, c.path_template) for c in cells}) >= 5
    scoped = [c for c in cells if c.rule.scope is not Scope.none]
    assert scoped, "agency-scoped routes are tested with another agency's ids too"


def test_every_cell_of_the_matrix(world: tuple[PortalHarness, dict[str, dict[str, str]]]) -> None:
    portal, values = world
    wrong = []
    for cell in _cells(portal):
        portal.clock.now = T0  # sessions stay fresh however long the matrix takes
        client, csrf = _client(portal, cell.role)
        path = _path(cell, values)
        headers = {"x-csrf-token": csrf} if csrf else {}
        if cell.method == "GET":
            answer = client.get(path, headers=headers)
        else:
            answer = client.request(cell.method, path, headers=headers, data={})
        if cell.path_template == "/logout" and cell.role != "anonymous":
            portal.clients.pop(USERS[cell.role])  # that session has ended: the next cell signs in again
        allowed = expected_allowed(cell)
        status = answer.status_code
        if allowed is None:
            continue
        if allowed and status in DENIED:
            wrong.append(f"{cell.label}: {status}, expected to be let through")
        if not allowed:
            expected = _refusal(cell)
            if status != expected and not (cell.role == "anonymous" and status in (303, 401)):
                wrong.append(f"{cell.label}: {status}, expected {expected}")
            if (
                cell.role == "anonymous"
                and cell.method == "GET"
                and not answer.headers.get("location", "").startswith("/login")
            ):
                wrong.append(f"{cell.label}: an anonymous GET must be sent to the sign-in page")
    assert not wrong, "\n".join(wrong)


def _refusal(cell: Cell) -> int:
    if cell.role == "anonymous":
        return 303 if cell.method == "GET" else 401
    if cell.rule.access in (Access.agency_read, Access.agency_write) and cell.role == "agency" and cell.ids == OTHER:
        return 404  # another agency's resources do not exist for an agency user
    return 403


def test_state_changing_routes_refuse_a_missing_csrf_token(
    world: tuple[PortalHarness, dict[str, dict[str, str]]],
) -> None:
    portal, values = world
    portal.clock.now = T0
    portal.clients.pop("officer1", None)  # a fresh session: the matrix above signed out
    client = portal.signed_in("officer1")
    for method, path, rule in _routes(portal):
        if method == "GET" or rule.access is Access.public:
            continue
        cell = Cell(method, path, rule, "officer", OWN)
        answer = client.request(method, _path(cell, values), data={})
        assert answer.status_code == 403, f"{method} {path} without a CSRF token: {answer.status_code}"
