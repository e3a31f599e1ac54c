"""Every shipped check against every lab posture of both Debian releases, as each check's case file
(tests/checks/) says: the hardened hosts fail nothing but what the lab cannot run
(``lab.postures.LAB_CANNOT_RUN``), the weak and mixed hosts fail what lab/POSTURES.md says."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.content.loader import load_content
from auditor.store.db import open_store
from lab.postures import LAB_CANNOT_RUN
from tests.checkcases import CASES_DIR, RELEASES, Release, load_case_file
from tests.integration.conftest import AuditCall, lab_inventory, run_cli

pytestmark = pytest.mark.lab

RELEASE_HOSTS: dict[Release, dict[str, str]] = {
    "bookworm": {"hardened": "labh1", "weak": "labh2", "mixed": "labh3"},
    "trixie": {"hardened": "labt1", "weak": "labt2", "mixed": "labt3"},
}
HOST_CHECKS = sorted(check_id for check_id, check in load_content().checks.items() if check.scope == "host")
Statuses = dict[tuple[str, str], tuple[str, str]]


def _statuses(call: AuditCall, db: Path) -> Statuses:
    assert call.returncode in (1, 2), call.stdout + call.stderr
    store = open_store(f"sqlite:///{db}")
    run_id = store.list_runs(1)[0].id
    return {(row.host_name, row.check_id): (row.status, row.observed) for row in store.list_findings(run_id)}


@pytest.fixture(scope="module")
def bookworm_statuses(audit: Callable[..., AuditCall], workdir: Path) -> Statuses:
    db = workdir / "postures.db"
    return _statuses(audit(db=db), db)


@pytest.fixture(scope="module")
def trixie_statuses(lab, workdir: Path) -> Statuses:  # type: ignore[no-untyped-def]
    """labt1..labt3 (Debian 13), audited like labh1..labh3; the base is built on first use."""
    from lab.api import up

    trixie = up(3, release_name="trixie")
    inventory = lab_inventory(
        trixie,
        workdir / "inventory-trixie.yml",
        roles={"labt2": ["web", "db"]},
        agency_inputs={"allowed_ports_admin": "22,2222"},
        only=list(RELEASE_HOSTS["trixie"].values()),
    )
    known_hosts = workdir / "known_hosts-trixie"
    call = run_cli("hosts", "trust", "--inventory", str(inventory), "--known-hosts", str(known_hosts), "--yes")
    assert call.returncode == 0, call.stderr
    db = workdir / "postures-trixie.db"
    call = run_cli(
        "audit", "--inventory", str(inventory), "--known-hosts", str(known_hosts), "--db", f"sqlite:///{db}",
        "--only", "ssh",
    )  # fmt: skip
    return _statuses(call, db)


def _release_statuses(request: pytest.FixtureRequest, release: Release) -> Statuses:
    statuses: Statuses = request.getfixturevalue(f"{release}_statuses")
    return statuses


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("check_id", HOST_CHECKS)
def test_check_on_each_posture(request: pytest.FixtureRequest, check_id: str, release: Release) -> None:
    if not (CASES_DIR / f"{check_id}.yml").exists():
        pytest.fail(f"tests/checks/{check_id}.yml is missing")
    statuses = _release_statuses(request, release)
    expected = load_case_file(check_id).lab_on(release)
    got = {posture: statuses[(host, check_id)] for posture, host in RELEASE_HOSTS[release].items()}
    assert {posture: status for posture, (status, _) in got.items()} == expected, got


@pytest.mark.parametrize("release", RELEASES)
def test_hardened_fails_only_what_the_lab_cannot_run(request: pytest.FixtureRequest, release: Release) -> None:
    statuses = _release_statuses(request, release)
    host = RELEASE_HOSTS[release]["hardened"]
    failing = {
        check_id: observed
        for (name, check_id), (status, observed) in statuses.items()
        if name == host and status in ("fail", "error") and check_id not in LAB_CANNOT_RUN
    }
    assert not failing, f"false failures on the hardened {release} host: {failing}"
    for check_id in LAB_CANNOT_RUN:
        assert load_case_file(check_id).lab_on(release)["hardened"] in ("fail", "error"), (
            f"{check_id} passes on the hardened {release} host: remove it from LAB_CANNOT_RUN"
        )
