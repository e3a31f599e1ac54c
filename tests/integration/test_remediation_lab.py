"""Remediation against the lab's weak host labh5 (recreated fresh first; no other host is touched).

weak host → dry run changes nothing (a re-audit finds the same) and shows diffs → apply → the
targeted checks pass → a second apply changes nothing; a broken sshd unit is refused by `sshd -t`
and the host stays reachable.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml

from auditor.content.loader import load_content
from auditor.inventory import load_inventory
from auditor.remediate.flow import remediate
from auditor.remediate.selection import build_selection
from auditor.remediate.units import builtin_playbooks_dir
from auditor.service.audit import AuditService
from auditor.store.db import open_store
from tests.integration.conftest import AuditCall, run_cli

pytestmark = pytest.mark.lab

HOST = "labh5"
TARGETED = [
    "accounts_lockout_configured",
    "accounts_no_empty_passwords",
    "accounts_password_max_age",
    "accounts_password_min_length",
    "files_shadow_permissions",
    "firewall_host_default_deny",
    "logging_syslog_running",
    "services_telnet_not_listening",
    "shell_idle_timeout_configured",
    "sshd_max_auth_tries_limited",
    "sshd_permit_root_login_disabled",
    "sshd_weak_ciphers_disabled",
    "sshd_x11_forwarding_disabled",
    "sysctl_icmp_redirects_disabled",
    "sysctl_ip_forward_disabled",
]
TIMINGS: dict[str, float] = {}


class Lab5:
    def __init__(self, workdir: Path, info) -> None:  # type: ignore[no-untyped-def]
        self.workdir = workdir
        self.info = info
        self.host = next(h for h in info.hosts if h.name == HOST)
        self.inventory = workdir / "inventory.yml"
        self.known_hosts = workdir / "known_hosts"
        self.db = f"sqlite:///{workdir / 'remediation.db'}"
        agency = {
            "id": "lab5",
            "name": {"vi": "Máy yếu", "en": "Weak host"},
            "hosts": [
                {
                    "name": HOST,
                    "address": self.host.address,
                    "port": self.host.port,
                    "user": self.host.user,
                    "key_file": str(info.key_file),
                    "sudo": True,
                    "roles": ["web"],
                }
            ],
        }
        self.inventory.write_text(yaml.safe_dump({"agencies": [agency]}), encoding="utf-8")

    def cli(self, *args: str, db: bool = True) -> AuditCall:
        common = ["-i", str(self.inventory), "--known-hosts", str(self.known_hosts), *(["--db", self.db] if db else [])]
        return run_cli(*args, *common, timeout=900)

    def audit(self, *checks: str) -> str:
        call = self.cli("audit", "--only", "ssh", *(a for c in checks for a in ("--check", c)))
        assert call.returncode in (0, 1), call.stdout + call.stderr
        return open_store(self.db).list_runs(1)[0].id

    def remediate(self, run_id: str, *extra: str) -> AuditCall:
        args = [a for c in TARGETED for a in ("--check", c)]
        return self.cli(
            "remediate", run_id, "--agency", "lab5", "--lang", "en", "--evidence-dir", str(self.workdir / "ev"),
            *args, *extra,
        )  # fmt: skip

    def findings(self, run_id: str) -> dict[str, tuple[str, str]]:
        rows = open_store(self.db).list_findings(run_id, host_name=HOST)
        return {row.check_id: (row.status.value, row.observed) for row in rows}

    def sshd_config(self) -> str:
        return (self.host.rootdir / "etc/ssh/sshd_config").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def lab5(lab, tmp_path_factory: pytest.TempPathFactory) -> Lab5:  # type: ignore[no-untyped-def]
    from lab.api import reset

    info = reset(5)  # a fresh weak posture, new host keys
    env = Lab5(tmp_path_factory.mktemp("remediation"), info)
    call = env.cli("hosts", "trust", "--yes", db=False)
    assert call.returncode == 0, call.stderr
    return env


@pytest.fixture(scope="module")
def weak_run(lab5: Lab5) -> str:
    run_id = lab5.audit()
    failing = {c for c, (status, _) in lab5.findings(run_id).items() if status == "fail"}
    assert set(TARGETED) <= failing, set(TARGETED) - failing
    return run_id


def test_dry_run_shows_diffs_and_changes_nothing(lab5: Lab5, weak_run: str) -> None:
    before_sshd = lab5.sshd_config()
    started = time.monotonic()
    call = lab5.remediate(weak_run)
    TIMINGS["dry run"] = time.monotonic() - started
    assert call.returncode == 0, call.stdout + call.stderr
    assert "Dry run (--check --diff): nothing was changed" in call.stdout
    assert "+X11Forwarding no" in call.stdout  # the diff of the sshd unit
    assert "mode: 0644 → 0640" in call.stdout  # /etc/shadow
    assert f"would change {len(TARGETED)}" in call.stdout, call.stdout
    assert lab5.sshd_config() == before_sshd
    again = lab5.audit()
    assert lab5.findings(again) == lab5.findings(weak_run)  # read-only, proved by a re-audit
    record = open_store(lab5.db).list_remediations(weak_run)[0]
    assert record.mode == "check" and record.verify_run_id is None
    assert (Path(record.data_dir) / "artifacts" / "dry-run" / "job_events").is_dir()  # evidence kept


def test_apply_fixes_the_targeted_checks_and_host_stays_reachable(lab5: Lab5, weak_run: str) -> None:
    started = time.monotonic()
    call = lab5.remediate(weak_run, "--apply")
    TIMINGS["dry run + apply + re-verify"] = time.monotonic() - started
    assert call.returncode == 0, call.stdout + call.stderr
    store = open_store(lab5.db)
    record = store.list_remediations(weak_run)[0]
    assert record.mode == "apply" and record.status == "completed", record
    assert record.verify_run_id is not None
    verify = store.get_run(record.verify_run_id)
    assert verify.options["remediation"] == record.id
    verified = lab5.findings(record.verify_run_id)
    assert sorted(verified) == sorted(TARGETED)  # only the touched checks were re-audited
    assert {c: s for c, (s, _) in verified.items()} == dict.fromkeys(TARGETED, "pass"), verified
    assert "fixed" in call.stdout and "still failing" not in call.stdout
    # A full audit afterwards: the host answers, and every targeted check passes there too.
    after = lab5.findings(lab5.audit())
    assert all(after[c][0] == "pass" for c in TARGETED), {c: after[c] for c in TARGETED}
    assert "# BEGIN auditor sshd_x11_forwarding_disabled" in lab5.sshd_config()


def test_second_apply_changes_nothing(lab5: Lab5, weak_run: str) -> None:
    started = time.monotonic()
    call = lab5.remediate(weak_run, "--apply")
    TIMINGS["second apply (idempotence)"] = time.monotonic() - started
    assert call.returncode == 0, call.stdout + call.stderr
    assert f"already right {len(TARGETED)}" in call.stdout, call.stdout
    assert "apply: changed 0," in call.stdout, call.stdout
    record = open_store(lab5.db).list_remediations(weak_run)[0]
    applied = record.outcome["applied"] if record.outcome else []
    assert applied and all(u["status"] == "unchanged" for play in applied for u in play["units"])


def test_broken_sshd_unit_is_refused_and_host_stays_reachable(lab5: Lab5, weak_run: str, tmp_path: Path) -> None:
    broken = tmp_path / "playbooks"
    shutil.copytree(builtin_playbooks_dir(), broken)
    unit = broken / "tasks" / "sshd_max_sessions_limited.yml"
    unit.write_text(unit.read_text(encoding="utf-8").replace("MaxSessions 10", "MaxSessions lots"), encoding="utf-8")
    before = lab5.sshd_config()
    store = open_store(lab5.db)
    content = load_content()
    inventory = load_inventory(lab5.inventory)
    selection = build_selection(
        store, weak_run, inventory, content, "lab5", [HOST], ["sshd_max_sessions_limited"], playbooks_dir=broken
    )
    report = remediate(
        AuditService(store, content),
        inventory,
        "test",
        selection,
        "lab5",
        lab5.known_hosts,
        tmp_path / "ev",
        apply=True,
        show_dry_run=lambda _play: None,
        playbooks_dir=broken,
    )
    (outcome,) = report.applied[0].units
    assert outcome.status == "failed"
    assert "validat" in outcome.message.lower() or "sshd" in outcome.message.lower(), outcome.message
    assert report.applied[0].host_errors == {}  # the play went on to its fresh-login confirmation
    assert lab5.sshd_config() == before  # the candidate never replaced the file
    assert [v.verdict for v in report.verdicts] == ["still_failing"]  # re-audited over SSH: still reachable
    assert store.get_remediation(report.remediation_id).status == "completed"


def test_guard_restores_files_when_no_fresh_login_confirms(lab5: Lab5, weak_run: str) -> None:
    """The host-side half of the lock-out guard: armed, a change, no confirmation → the old file is back."""
    from auditor.collectors.ssh.collector import connect_client

    host = load_inventory(lab5.inventory).agencies[0].hosts[0]
    before = lab5.sshd_config()
    script = (builtin_playbooks_dir() / "files" / "guard.sh").read_text(encoding="utf-8")
    client = connect_client(host, lab5.known_hosts, 10)
    try:
        command = (
            "sudo sh -c 'install -d -m 700 /run/auditor-test && cat > /run/auditor-test/guard.sh && "
            'sh /run/auditor-test/guard.sh arm /run/auditor-test 2 && echo "# tampered" >> /etc/ssh/sshd_config\''
        )
        stdin, stdout, _stderr = client.exec_command(command, timeout=30)
        stdin.write(script)
        stdin.channel.shutdown_write()
        assert stdout.channel.recv_exit_status() == 0
        assert lab5.sshd_config().endswith("# tampered\n")
        time.sleep(5)
        _in, log, _err = client.exec_command("sudo cat /run/auditor-test/guard.log", timeout=30)
        text = log.read().decode()
    finally:
        client.close()
    assert "restored" in text, text
    assert lab5.sshd_config() == before


def test_zz_print_timings() -> None:
    print("\nremediation timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in TIMINGS.items()))
