"""Remediation without hosts: the playbook units, the selection and its guards, event parsing, the record."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from auditor.content.loader import load_content
from auditor.errors import ConfigError
from auditor.evaluation.findings import Finding, HostResult, HostStatus
from auditor.inventory import Agency, Inventory
from auditor.remediate.runner import TaskChange, parse_events, prepare_data_dir, render_diff
from auditor.remediate.selection import Fix, HostTarget, Selection, build_selection, parse_params
from auditor.remediate.units import LOCKOUT_UNITS, UNIT_PARAMS, available_units, builtin_playbooks_dir, run_order
from auditor.service.audit import AuditService
from auditor.store.db import open_store
from auditor.store.remediations import new_remediation_id
from auditor.vocabulary import LocalizedText, Severity, Status

PLAYBOOKS = builtin_playbooks_dir()
UNITS = sorted(available_units())
# Ansible skips these in --check unless a task says `check_mode: false`; such a task must only read,
# or must itself switch to a simulation when ansible_check_mode is set (apt-get -s).
_RUNS_ANYWAY = {"ansible.builtin.command", "ansible.builtin.shell", "ansible.builtin.raw"}


def _tasks(path: Path) -> list[dict]:  # type: ignore[type-arg]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, list), path
    return data


def test_at_least_40_units_each_named_after_a_check_that_names_it() -> None:
    content = load_content()
    assert len(UNITS) >= 40
    for unit in UNITS:
        assert unit in content.checks, f"playbooks/tasks/{unit}.yml: no check {unit}"
        assert content.checks[unit].remediation.playbook == unit


@pytest.mark.parametrize("unit", UNITS)
def test_unit_is_check_mode_safe_and_uses_fqcn_modules(unit: str) -> None:
    for task in _tasks(PLAYBOOKS / "tasks" / f"{unit}.yml"):
        name = task.get("name", "")
        assert name.startswith(f"{unit} | "), f"{unit}: task name {name!r} must start with the unit id"
        modules = [key for key in task if key.startswith("ansible.")]
        assert len(modules) == 1, f"{unit}: {name}: one FQCN module per task"
        module = modules[0]
        assert module != "ansible.builtin.shell" and module != "ansible.builtin.raw", f"{unit}: {name}"
        if module in _RUNS_ANYWAY and task.get("check_mode") is False:  # runs even in a dry run
            reads_only = task.get("changed_when") is False
            assert reads_only or "ansible_check_mode" in str(task), f"{unit}: {name}: would change things in --check"
        body = task[module]
        if isinstance(body, dict) and body.get("path") == "/etc/ssh/sshd_config" and module.endswith("blockinfile"):
            assert body.get("validate") == "/usr/sbin/sshd -t -f %s", f"{unit}: sshd changes are validated"
            assert body.get("backup") is True
            assert task.get("notify") == "reload sshd"


def test_lockout_units_refuse_without_proof_of_key_login_with_sudo() -> None:
    for unit in LOCKOUT_UNITS:
        first = _tasks(PLAYBOOKS / "tasks" / f"{unit}.yml")[0]
        assert first["ansible.builtin.assert"]["that"] == "auditor_lockout_safe | bool"


def test_play_never_turns_off_host_key_checking_and_reloads_without_systemd() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in PLAYBOOKS.rglob("*") if p.is_file())
    assert "host_key_checking" not in text.replace("host_key_checking = True", "")
    play = yaml.safe_load((PLAYBOOKS / "remediate.yml").read_text(encoding="utf-8"))[0]
    handlers = {h["name"]: h for h in play["handlers"]}
    hup = handlers["Reload sshd without systemd (HUP the pid in its pid file)"]
    assert hup["ansible.builtin.command"] == "pkill -HUP -F /run/sshd.pid"
    assert any(t.get("ansible.builtin.meta") == "reset_connection" for t in play["post_tasks"])


def test_ip_forward_runs_before_the_redirect_settings() -> None:
    assert sorted(UNITS, key=run_order).index("sysctl_ip_forward_disabled") == 0


@pytest.mark.parametrize(
    ("pairs", "problem"),
    [
        (["log_server=10.0.0.5:514"], None),
        (["nope=1"], "unknown"),
        (["log_server"], "NAME=VALUE"),
        (["time_server=a;b"], "host"),
    ],
)
def test_parse_params(pairs: list[str], problem: str | None) -> None:
    if problem is None:
        assert parse_params(pairs) == {"log_server": "10.0.0.5:514"}
    else:
        with pytest.raises(ConfigError, match=problem):
            parse_params(pairs)


def _finding(check_id: str, status: Status) -> Finding:
    return Finding(
        check_id=check_id,
        status=status,
        severity=Severity.medium,
        observed="x",
        expected="y",
        reason=LocalizedText(vi="v", en="e"),
    )


@pytest.fixture
def seeded(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    hosts = [
        {"name": "web1", "address": "10.0.0.2", "user": "admin", "key_file": "k", "sudo": True},
        {"name": "rootbox", "address": "10.0.0.3", "user": "root", "key_file": "k"},
        {"name": "pw", "address": "10.0.0.4", "user": "admin", "password_env": "PW", "sudo": True},
    ]
    inventory = Inventory.model_validate({"agencies": [{"id": "a", "name": {"vi": "A", "en": "A"}, "hosts": hosts}]})
    agency: Agency = inventory.agencies[0]
    run_id = store.start_run("t", "c", "0" * 64, {})
    now = datetime.now(UTC)
    for host in agency.hosts:
        findings = [
            _finding("sshd_permit_root_login_disabled", Status.failed),
            _finding("sshd_x11_forwarding_disabled", Status.failed),
            _finding("accounts_no_extra_uid0", Status.failed),
            _finding("logging_remote_forwarding", Status.failed),
            _finding("files_passwd_permissions", Status.passed),
        ]
        result = HostResult(
            agency_id="a",
            host_name=host.name,
            address=host.address,
            status=HostStatus.ok,
            started_at=now,
            finished_at=now,
            findings=tuple(findings),
        )
        store.save_host_result(run_id, agency, result)
    store.finish_run(run_id)
    return store, inventory, run_id


def test_selection_fixes_failed_findings_with_units_and_says_why_others_are_left(seeded) -> None:  # type: ignore[no-untyped-def]
    store, inventory, run_id = seeded
    selection = build_selection(store, run_id, inventory, load_content(), "a")
    by_host = {h.host_name: h for h in selection.hosts}
    web = by_host["web1"]
    assert web.check_ids == ["sshd_permit_root_login_disabled", "sshd_x11_forwarding_disabled"]
    refused = {r.check_id: r.reason for r in web.refused}
    assert "no playbook unit" in refused["accounts_no_extra_uid0"]
    assert refused["logging_remote_forwarding"] == "needs --set log_server=..."
    assert web.inputs["ssh_max_auth_tries"] == 4  # the same inputs the checks use
    root = by_host["rootbox"]
    assert root.check_ids == ["sshd_x11_forwarding_disabled"]
    assert "lock it out" in {r.check_id: r.reason for r in root.refused}["sshd_permit_root_login_disabled"]
    assert by_host["pw"].fixes == ()  # no key: nothing runs there
    narrowed = build_selection(
        store, run_id, inventory, load_content(), "a", ["web1"], ["logging_remote_forwarding"], {"log_server": "l"}
    )
    assert [h.check_ids for h in narrowed.hosts] == [["logging_remote_forwarding"]]
    with pytest.raises(ConfigError, match="unknown host"):
        build_selection(store, run_id, inventory, load_content(), "a", ["nope"])


def _selection() -> Selection:
    target = HostTarget(
        agency_id="a",
        host_name="web1",
        address="10.0.0.2",
        port=22,
        user="admin",
        key_file=Path("/k"),
        use_agent=False,
        sudo=True,
        fixes=(
            Fix(check_id="sshd_x11_forwarding_disabled", unit="sshd_x11_forwarding_disabled"),
            Fix(check_id="files_shadow_permissions", unit="files_shadow_permissions"),
            Fix(check_id="accounts_password_max_age", unit="accounts_password_max_age"),
        ),
        refused=(),
        inputs={"ssh_max_auth_tries": 4},
    )
    return Selection(source_run="r", hosts=(target,), params={})


def _event(kind: str, unit: str | None, res: dict, task: str = "t") -> dict:  # type: ignore[type-arg]
    path = f"/dd/project/tasks/{unit}.yml:3" if unit else "/dd/project/remediate.yml:20"
    return {"event": kind, "event_data": {"host": "web1", "task": task, "task_path": path, "res": res}}


def test_events_are_attributed_to_units_with_their_diffs() -> None:
    sshd_diff = {"before": "Port 22\n", "after": "X11Forwarding no\nPort 22\n", "before_header": "/etc/ssh/sshd_config"}
    events = [
        _event("runner_on_ok", "sshd_x11_forwarding_disabled", {"changed": True, "diff": [sshd_diff]}),
        _event("runner_on_ok", "files_shadow_permissions", {"changed": False}),
        _event("runner_on_failed", "accounts_password_max_age", {"msg": "boom"}),
        _event("runner_on_ok", None, {"changed": False}),
    ]
    outcomes, host_errors = parse_events(events, _selection())
    status = {o.unit: o.status for o in outcomes}
    assert status == {
        "sshd_x11_forwarding_disabled": "changed",
        "files_shadow_permissions": "unchanged",
        "accounts_password_max_age": "failed",
    }
    changed = next(o for o in outcomes if o.status == "changed").changes[0]
    assert isinstance(changed, TaskChange) and "+X11Forwarding no" in changed.diff
    assert next(o for o in outcomes if o.status == "failed").message == "boom"
    assert host_errors == {}
    unreachable = [{"event": "runner_on_unreachable", "event_data": {"host": "web1", "res": {"msg": "refused"}}}]
    outcomes, host_errors = parse_events(unreachable, _selection())
    assert host_errors == {"web1": "unreachable: refused"} and {o.status for o in outcomes} == {"not_run"}


def test_render_diff_of_file_attributes() -> None:
    diff = {"before": {"path": "/etc/shadow", "mode": "0644"}, "after": {"path": "/etc/shadow", "mode": "0640"}}
    assert render_diff(diff) == "mode: 0644 → 0640"


def test_data_dir_pins_host_keys_and_forbids_passwords(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    key = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    known.write_text(f"10.0.0.2 ssh-ed25519 {key}\n10.9.9.9 ssh-ed25519 {key}\n", encoding="utf-8")
    data_dir = prepare_data_dir(tmp_path / "m-1", _selection(), known)
    assert (data_dir / "known_hosts").read_text(encoding="utf-8") == f"10.0.0.2 ssh-ed25519 {key}\n"
    cfg = (data_dir / "project" / "ansible.cfg").read_text(encoding="utf-8")
    assert "host_key_checking = True" in cfg and "StrictHostKeyChecking=yes" in cfg
    assert "PasswordAuthentication=no" in cfg and f"UserKnownHostsFile={data_dir / 'known_hosts'}" in cfg
    hosts = yaml.safe_load((data_dir / "inventory" / "hosts.yml").read_text(encoding="utf-8"))["all"]["hosts"]
    assert hosts["web1"]["auditor_checks"][0] == "sshd_x11_forwarding_disabled"
    assert hosts["web1"]["auditor_inputs"] == {"ssh_max_auth_tries": 4}
    assert (data_dir / "project" / "tasks" / "sshd_x11_forwarding_disabled.yml").is_file()
    known.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="not trusted"):
        prepare_data_dir(tmp_path / "m-2", _selection(), known)


def test_remediation_record_links_source_and_verify_runs(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    source = store.start_run("t", "c", "0" * 64, {})
    verify = store.start_run("t", "c", "0" * 64, {"remediation": "m"})
    remediation_id = new_remediation_id()
    assert re.fullmatch(r"m-\d{8}-\d{6}-[0-9a-f]{4}", remediation_id)
    store.start_remediation(remediation_id, source, "apply", "t", "/dd", {"hosts": {}})
    assert store.get_remediation(remediation_id).status == "running"
    store.finish_remediation(remediation_id, "completed", {"applied": []}, verify)
    row = store.get_remediation(remediation_id)
    assert (row.status, row.source_run_id, row.verify_run_id) == ("completed", source, verify)


def test_units_needing_parameters_say_so() -> None:
    for unit, names in UNIT_PARAMS.items():
        text = (PLAYBOOKS / "tasks" / f"{unit}.yml").read_text(encoding="utf-8")
        assert all(f"auditor_params.{name}" in text for name in names)


def _two_hosts() -> Selection:
    one = _selection().hosts[0]
    two = one.model_copy(update={"host_name": "web2", "address": "10.0.0.3"})
    return Selection(source_run="r", hosts=(one, two), params={})


@pytest.mark.parametrize("canary_fixed", [True, False])
def test_canary_first_and_stop_when_it_fails_reverification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canary_fixed: bool
) -> None:
    from auditor.remediate import flow
    from auditor.remediate.runner import PlayResult
    from auditor.remediate.verify import CheckVerdict

    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    source = store.start_run("t", "c", "0" * 64, {})
    played: list[tuple[str, list[str]]] = []

    def fake_run_play(data_dir: Path, selection: Selection, mode: str, ident: str, timeout_s: int = 0) -> PlayResult:
        played.append((mode, [h.host_name for h in selection.runnable]))
        return PlayResult(
            mode=mode, ident=ident, rc=0, runner_status="successful", duration_s=0.1, units=(), host_errors={}
        )  # type: ignore[arg-type]

    def fake_reverify(service, inventory, sha, agency_id, touched, known, record, run_id=None):  # type: ignore[no-untyped-def]
        run_id = run_id or store.start_run("t", "c", "0" * 64, record)
        verdict = "fixed" if canary_fixed or "web2" in touched else "still_failing"
        return run_id, [
            CheckVerdict(host_name=h, check_id=c, verdict=verdict, status="x") for h in touched for c in touched[h]
        ]  # type: ignore[arg-type]

    monkeypatch.setattr(flow, "run_play", fake_run_play)
    monkeypatch.setattr(flow, "reverify", fake_reverify)
    monkeypatch.setattr(flow, "prepare_data_dir", lambda *a, **k: None)
    selection = _two_hosts().model_copy(update={"source_run": source})
    service = AuditService(store, load_content())
    report = flow.remediate(
        service,
        None,
        "0",
        selection,
        "a",
        tmp_path / "kh",
        tmp_path,
        True,
        lambda _p: None,  # type: ignore[arg-type]
    )
    assert played[0] == ("check", ["web1", "web2"])  # the dry run of the whole selection comes first
    assert played[1] == ("apply", ["web1"])  # the canary alone
    if canary_fixed:
        assert played[2:] == [("apply", ["web2"])] and report.stopped is None
    else:
        assert played[2:] == [] and "canary web1" in (report.stopped or "")
    row = store.get_remediation(report.remediation_id)
    assert row.verify_run_id == report.verify_run and row.status == ("completed" if canary_fixed else "stopped")
    not_confirmed = flow.remediate(
        service,
        None,
        "0",
        selection,
        "a",
        tmp_path / "kh",
        tmp_path,
        True,
        lambda _p: None,  # type: ignore[arg-type]
        confirm=lambda: False,
    )
    assert not_confirmed.applied == [] and not_confirmed.stopped == "not confirmed after the dry run"
