"""Every shipped check against every lab posture, as each check's case file (tests/checks/) says:
the hardened host has no false failures, the weak and mixed hosts fail what lab/POSTURES.md says."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.content.loader import load_content
from auditor.store.db import open_store
from tests.checkcases import CASES_DIR, load_case_file

pytestmark = pytest.mark.lab

POSTURE_HOSTS = {"hardened": "labh1", "weak": "labh2", "mixed": "labh3"}
HOST_CHECKS = sorted(check_id for check_id, check in load_content().checks.items() if check.scope == "host")


@pytest.fixture(scope="module")
def statuses(audit, workdir: Path) -> dict[tuple[str, str], tuple[str, str]]:  # type: ignore[no-untyped-def]
    db = workdir / "postures.db"
    call = audit(db=db)
    assert call.returncode in (1, 2), call.stdout + call.stderr
    store = open_store(f"sqlite:///{db}")
    run_id = store.list_runs(1)[0].id
    return {(row.host_name, row.check_id): (row.status, row.observed) for row in store.list_findings(run_id)}


@pytest.mark.parametrize("check_id", HOST_CHECKS)
def test_check_on_each_posture(statuses, check_id: str) -> None:  # type: ignore[no-untyped-def]
    if not (CASES_DIR / f"{check_id}.yml").exists():
        pytest.fail(f"tests/checks/{check_id}.yml is missing")
    expected = load_case_file(check_id).lab
    got = {posture: statuses[(host, check_id)] for posture, host in POSTURE_HOSTS.items()}
    assert {posture: status for posture, (status, _) in got.items()} == dict(expected), got
