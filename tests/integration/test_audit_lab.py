"""End to end against the lab: real sshd, real configurations, findings and evidence stored."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from auditor.store.db import open_store
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.lab

# What may change on a lab host while it is audited, and why; everything else must stay byte for byte.
# The login records of the audit's own session (sshd, sudo and PAM through syslog, utmp/wtmp/lastlog):
LOGIN_RECORDS = (
    "var/log/auth.log",
    "var/log/syslog",
    "var/log/messages",
    "var/log/secure",
    "var/log/wtmp",
    "var/log/btmp",
    "var/log/lastlog",
    "var/log/journal/",
    "run/utmp",
    "var/run/utmp",
)
# The lab hosts' own daemons write these whether or not anyone audits (chrony's drift file, the ClamAV
# refresh, the logrotate state, the backup and spool jobs): they are the lab's clock, not the audit's doing.
LAB_DAEMON_STATE = ("var/lib/chrony/", "var/lib/clamav/", "var/lib/logrotate/", "backup/", "var/spool/")


@pytest.fixture(scope="module")
def first_run(audit, workdir: Path):  # type: ignore[no-untyped-def]
    call = audit()
    assert call.returncode in (1, 2), call.stdout + call.stderr  # the weak host fails checks
    store = open_store(f"sqlite:///{workdir / 'audit.db'}")
    run_id = store.list_runs(1)[0].id
    return store, run_id, call


def _finding(store, run_id: str, host: str, check: str):  # type: ignore[no-untyped-def]
    [row] = store.list_findings(run_id, host_name=host, check_id=check)
    return row


def test_weak_host_fails_root_login_with_observed_yes(first_run) -> None:  # type: ignore[no-untyped-def]
    store, run_id, _ = first_run
    row = _finding(store, run_id, "labh2", "sshd_permit_root_login_disabled")
    assert (row.status, row.observed, row.expected) == ("fail", "yes", '= "no"')
    assert "yes" in row.reason_vi and "yes" in row.reason_en


def test_hardened_host_passes_root_login(first_run) -> None:  # type: ignore[no-untyped-def]
    store, run_id, _ = first_run
    row = _finding(store, run_id, "labh1", "sshd_permit_root_login_disabled")
    assert (row.status, row.observed) == ("pass", "no")


def test_every_host_was_observed_in_one_exec_request(first_run) -> None:  # type: ignore[no-untyped-def]
    store, run_id, _ = first_run
    hosts = [h for h in store.list_run_hosts(run_id) if h.kind == "host"]
    assert {h.host_name for h in hosts} == {"labh1", "labh2", "labh3"}
    for host in hosts:
        assert host.status == "ok", host.error_detail
        assert host.exec_requests == 1
        assert host.facts.os_family == "debian"
        assert host.facts.os_id == "debian"
        assert host.facts.uid == 0  # probes ran through sudo -n


def test_findings_carry_evidence_whose_hash_verifies(first_run) -> None:  # type: ignore[no-untyped-def]
    store, run_id, _ = first_run
    row = _finding(store, run_id, "labh2", "accounts_no_empty_passwords")
    assert row.status == "fail"
    evidence = store.get_evidence(row.id)
    assert evidence.probe_id == "accounts_no_empty_passwords"
    assert evidence.exit_code == 0
    assert b"guest" in evidence.stdout
    assert store.verify_evidence(evidence.id)
    assert len(evidence.sha256) == 64


def test_shadow_hashes_never_reach_the_store(first_run) -> None:  # type: ignore[no-untyped-def]
    store, run_id, _ = first_run
    for host in ("labh1", "labh2", "labh3"):
        evidence = store.get_evidence(_finding(store, run_id, host, "accounts_no_empty_passwords").id)
        assert b"$y$" not in evidence.stdout and b"$6$" not in evidence.stdout


def test_second_run_adds_a_run_and_leaves_the_first_untouched(audit, first_run) -> None:  # type: ignore[no-untyped-def]
    store, run_id, _ = first_run
    before = [(f.id, f.status, f.observed) for f in store.list_findings(run_id)]
    call = audit("--host", "labh1")
    assert call.returncode in (0, 1, 2), call.stderr
    runs = store.list_runs(10)
    assert len(runs) >= 2 and runs[0].id != run_id
    assert [(f.id, f.status, f.observed) for f in store.list_findings(run_id)] == before
    assert {h.host_name for h in store.list_run_hosts(runs[0].id)} == {"labh1"}


def test_cli_lists_findings_evidence_and_exports(first_run, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    store, run_id, _ = first_run
    db = f"sqlite:///{workdir / 'audit.db'}"
    listed = run_cli("findings", run_id[:-1], "--status", "fail", "--host", "labh2", "--db", db)
    assert listed.returncode == 0, listed.stderr
    assert "sshd_permit_root_login_disabled" in listed.stdout
    row = _finding(store, run_id, "labh2", "sshd_permit_root_login_disabled")
    shown = run_cli("evidence", str(row.id), "--lang", "en", "--db", db)
    assert shown.returncode == 0 and "verified" in shown.stdout and "sshd -T" in shown.stdout
    exported = run_cli("export", run_id, "--format", "json", "--db", db)
    assert exported.returncode == 0
    document = json.loads(exported.stdout)
    assert document["run"]["id"] == run_id
    runs = run_cli("runs", "--db", db)
    assert run_id in runs.stdout


def test_nothing_is_written_on_the_target(lab, audit) -> None:  # type: ignore[no-untyped-def]
    """Every file of each host's overlay upper directory (everything ever written on the host) is the same
    after a full audit, except the audit session's own login records and the lab daemons' state."""

    def snapshot(upper: Path) -> dict[str, tuple[int, int, str]]:
        state = {}
        for path in upper.rglob("*"):
            relative = path.relative_to(upper).as_posix()
            if relative.startswith(LOGIN_RECORDS + LAB_DAEMON_STATE):
                continue
            info = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else ""
            state[relative] = (info.st_mode, info.st_size, digest)
        return state

    uppers = {host.name: Path(host.upperdir) for host in lab.hosts if host.name in {"labh1", "labh2", "labh3"}}
    before = {name: snapshot(upper) for name, upper in uppers.items()}
    call = audit()
    assert call.returncode in (1, 2), call.stderr
    after = {name: snapshot(upper) for name, upper in uppers.items()}
    for name in uppers:
        changed = sorted(
            path for path in before[name].keys() | after[name].keys() if before[name].get(path) != after[name].get(path)
        )
        assert not changed, f"{name}: written by an audit: {changed}"


@pytest.mark.postgres
def test_audit_into_postgresql(audit) -> None:  # type: ignore[no-untyped-def]
    url = os.environ.get("AUDITOR_TEST_PG_URL")
    if not url:
        pytest.skip("AUDITOR_TEST_PG_URL is not set")
    call = audit("--host", "labh2", db_url=url)
    assert call.returncode == 1, call.stdout + call.stderr
    store = open_store(url)
    run_id = store.list_runs(1)[0].id
    [row] = store.list_findings(run_id, host_name="labh2", check_id="sshd_permit_root_login_disabled")
    assert (row.status, row.observed) == ("fail", "yes")
    assert store.verify_evidence(store.get_evidence(row.id).id)
    assert store.get_run(run_id).status == "completed"
