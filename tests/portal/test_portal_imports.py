"""Imported results (auditor import) on the portal: the dashboard's verdict and heat-map count them as the reports
do, and the agency page lists the imports and shows each imported finding's source."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from auditor.portal.standings import all_standings
from auditor.reports.agency import build_agency_report
from auditor.store import open_store
from auditor.vocabulary import Status
from tests.portal.support import T0 as NOW
from tests.portal.support import PortalHarness, make_portal
from tests.unit.test_external import AGENCY, ARF, RULE, _import
from tests.unit.test_reports_support import T0, content, host_result, store_run

FRAMEWORK = "TCVN 11930:2017"
OPENSCAP_WORDS = "OpenSCAP (nhập từ công cụ khác)"
IMPORTED_AT = NOW - timedelta(days=1)  # 2026-11-30 02:00 UTC: 09:00 in Viet Nam


@pytest.fixture
def world(tmp_path: Path) -> tuple[PortalHarness, str]:
    """The lab agency audited with every check of clause 7.2.2.2 passing."""
    store = open_store(f"sqlite:///{tmp_path / 'portal.db'}")
    clause = next(c for c in content().catalogues[FRAMEWORK].clauses if c.id == "7.2.2.2")
    checks = dict.fromkeys((*clause.checks, *clause.network_checks), Status.passed)
    run = store_run(store, [host_result("labh2", checks, agency=AGENCY, address="10.200.2.2")], {AGENCY.id: AGENCY}, T0)
    return make_portal(tmp_path, store=store), run


def _row(html: str, section: str) -> str:
    part = html.split(f'id="{section}"')[1].split("</section>")[0]
    return part.split(f'href="/agencies/{AGENCY.id}"')[1].split("</tr>")[0]


def _group_state(html: str) -> str:
    found = re.search(r'data-group="7\.2\.2" data-state="([^"]+)"', _row(html, "heatmap"))
    assert found is not None
    return found.group(1)


def test_dashboard_verdict_and_heatmap_count_the_import(world: tuple[PortalHarness, str]) -> None:
    portal, run = world
    officer = portal.signed_in("officer1")
    before = officer.get("/dashboard").text
    assert _group_state(before) != "not_met" and OPENSCAP_WORDS not in before  # 7.2.2.2 met, the rest unseen
    assert "Chưa đáp ứng cấp độ 3" not in _row(before, "agencies")

    _import(portal.store, content(), "openscap", ARF, "labh2", now=IMPORTED_AT)
    after = officer.get("/dashboard").text
    row = _row(after, "agencies")
    assert "Chưa đáp ứng cấp độ 3" in row  # the imported failures of 7.2.2.x decide the verdict
    assert 'data-source="external:openscap"' in row and OPENSCAP_WORDS in row
    assert _group_state(after) == "not_met"
    # the page judges as the agency report does, as of the portal's moment
    (standing,) = [s for s in all_standings(portal.app.state.portal, "vi") if s.agency_id == AGENCY.id]
    report = build_agency_report(portal.store, content(), run, AGENCY.id, now=NOW, as_of=NOW)
    assert standing.assessment == report.assessment


def test_agency_page_lists_the_import_and_shows_the_source_of_its_findings(world: tuple[PortalHarness, str]) -> None:
    portal, _run = world
    officer = portal.signed_in("officer1")
    assert "Chưa nhập kết quả nào từ công cụ khác." in officer.get(f"/agencies/{AGENCY.id}").text
    imported = _import(portal.store, content(), "openscap", ARF, "labh2", now=IMPORTED_AT)
    html = officer.get(f"/agencies/{AGENCY.id}").text
    section = html.split('id="imports"')[1].split("</section>")[0]
    row = section.split('data-source="external:openscap"')[1].split("</tr>")[0]
    assert f'href="/agencies/{AGENCY.id}/runs/{imported}"' in row and OPENSCAP_WORDS in row
    assert "labh2" in row and "30/11/2026 09:00" in row  # in the agency's local time
    cells = re.findall(r"<td>(\d+)</td>", row)
    assert cells[:3] == ["20", "19", "11"]  # results, mapped, failing: as the file says
    root = next(f for f in portal.store.list_findings(imported) if f.check_id == RULE + "sshd_disable_root_login")
    assert f'href="/findings/{root.id}"' in section and "SSH không cho đăng nhập trực tiếp bằng root" in section
    cron = next(f for f in portal.store.list_findings(imported) if f.check_id == RULE + "service_cron_enabled")
    assert f'href="/findings/{cron.id}"' not in section  # unmapped: counted, judged nothing, not listed

    finding = officer.get(f"/findings/{root.id}").text
    assert 'data-source="external:openscap"' in finding and OPENSCAP_WORDS in finding
    run_page = officer.get(f"/agencies/{AGENCY.id}/runs/{imported}").text
    assert OPENSCAP_WORDS in run_page.split('id="source"')[1].split("</p>")[0]
    assert run_page.count('data-source="external:openscap"') >= 11  # every failing result shown names its tool
