"""Every shipped check against every lab posture: the hardened host has no false failures, the
weak and mixed hosts fail exactly what lab/POSTURES.md says they should."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.content import load_content
from auditor.store.db import open_store

pytestmark = pytest.mark.lab

P, F = "pass", "fail"

# check id: (labh1 hardened, labh2 weak, labh3 mixed)
EXPECTED = {
    "accounts_inactive_lock": (P, F, F),
    "accounts_lockout_configured": (P, F, F),
    "accounts_no_empty_passwords": (P, F, P),
    "accounts_no_extra_uid0": (P, F, P),
    "accounts_password_history": (P, F, F),
    "accounts_password_max_age": (P, F, F),
    "accounts_password_min_length": (P, F, F),
    "files_passwd_permissions": (P, P, P),
    "files_shadow_permissions": (P, F, P),
    "firewall_host_default_deny": (P, F, F),
    "logging_remote_forwarding": (P, F, F),
    "logging_retention_sufficient": (P, F, F),
    "logging_syslog_running": (P, F, P),
    "services_telnet_not_listening": (P, F, P),
    "shell_idle_timeout_configured": (P, F, F),
    "sshd_idle_timeout_configured": (P, F, F),
    "sshd_log_level_sufficient": (P, P, P),
    "sshd_login_grace_time_limited": (P, F, F),
    "sshd_max_auth_tries_limited": (P, F, F),
    "sshd_password_authentication_disabled": (P, F, P),
    "sshd_permit_empty_passwords_disabled": (P, F, P),
    "sshd_permit_root_login_disabled": (P, F, F),
    "sshd_weak_ciphers_disabled": (P, F, P),
    "sshd_weak_macs_disabled": (P, F, F),  # Debian's default MAC list still offers umac-64 and hmac-sha1
    "sshd_x11_forwarding_disabled": (P, F, P),
    "time_sync_daemon_running": (P, F, F),
    "time_sync_server_configured": (P, F, P),
}


@pytest.fixture(scope="module")
def statuses(audit, workdir: Path) -> dict[tuple[str, str], tuple[str, str]]:  # type: ignore[no-untyped-def]
    db = workdir / "postures.db"
    call = audit(db=db)
    assert call.returncode == 1, call.stdout + call.stderr
    store = open_store(f"sqlite:///{db}")
    run_id = store.list_runs(1)[0].id
    return {(row.host_name, row.check_id): (row.status, row.observed) for row in store.list_findings(run_id)}


def test_the_table_covers_every_shipped_check() -> None:
    assert set(EXPECTED) == set(load_content().checks)


@pytest.mark.parametrize("check_id", sorted(EXPECTED))
def test_check_on_each_posture(statuses, check_id: str) -> None:  # type: ignore[no-untyped-def]
    got = tuple(statuses[(host, check_id)] for host in ("labh1", "labh2", "labh3"))
    assert tuple(status for status, _ in got) == EXPECTED[check_id], got
