"""Pure evaluation and planning, fed with recorded observations."""

import subprocess
from datetime import UTC, datetime

import pytest

from auditor.content.loader import load_content
from auditor.evaluation.evaluate import evaluate, host_error_finding
from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome
from auditor.inventory import Agency, Host, Inventory
from auditor.service.plan import plan_audit, plan_host
from auditor.vocabulary import LocalizedText, Status

CONTENT = load_content()
ROOT_LOGIN = CONTENT.checks["sshd_permit_root_login_disabled"]
IDLE = CONTENT.checks["shell_idle_timeout_configured"]  # a check with its own command and an input
SSHD = "source.sshd_effective"  # the record ROOT_LOGIN is judged on
FACTS = HostFacts(os_family="debian", os_id="debian")
INPUTS = CONTENT.profile.values()


def observed(
    probe_id: str,
    stdout: bytes = b"",
    exit_code: int | None = 0,
    stderr: bytes = b"",
    outcome: ProbeOutcome = ProbeOutcome.completed,
) -> Observation:
    return Observation(
        probe_id=probe_id,
        command="cmd",
        outcome=outcome,
        exit_code=exit_code,
        stdout=stdout,
        stderr=stderr,
        collected_at=datetime.now(UTC),
    )


def test_weak_value_fails_with_observed_and_reason() -> None:
    finding = evaluate(ROOT_LOGIN, observed(SSHD, b"port 22\npermitrootlogin yes\n"), FACTS, INPUTS)
    assert finding.status is Status.failed
    assert finding.observed == "yes"
    assert finding.expected == '= "no"'
    assert "“yes”" in finding.reason.vi and "“yes”" in finding.reason.en
    assert finding.evidence_probe_id == SSHD  # the shared source's record


def test_compliant_value_passes() -> None:
    assert evaluate(ROOT_LOGIN, observed(SSHD, b"permitrootlogin no\n"), FACTS, INPUTS).status is Status.passed


def test_inputs_come_from_the_profile_and_overrides() -> None:
    assert evaluate(IDLE, observed(IDLE.id, b"600\n"), FACTS, INPUTS).status is Status.failed
    relaxed = {**INPUTS, "idle_timeout_seconds": 600}
    finding = evaluate(IDLE, observed(IDLE.id, b"600\n"), FACTS, relaxed)
    assert finding.status is Status.passed and finding.expected == "all(> 0; <= 600)"


@pytest.mark.parametrize(
    ("observation", "status", "phrase"),
    [
        (observed("x", b"", 2, b"sshd: no hostkeys available"), Status.error, "no hostkeys available"),
        (observed("x", b"OpenSSH server is not installed\n", 100), Status.not_applicable, "not installed"),
        (observed("x", b"", None, outcome=ProbeOutcome.timed_out), Status.error, "timed out"),
        (observed("x", b"", None, outcome=ProbeOutcome.skipped), Status.not_applicable, "OS family"),
        (observed("x", b"", None, outcome=ProbeOutcome.missing), Status.error, "no result came back"),
    ],
)
def test_probe_outcomes(observation: Observation, status: Status, phrase: str) -> None:
    finding = evaluate(ROOT_LOGIN, observation, FACTS, INPUTS)
    assert finding.status is status
    assert phrase in finding.reason.en


def test_a_failing_probe_is_an_error_not_a_pass() -> None:
    # `empty: true` would pass on no output; a command that failed must not be read as compliant.
    check = CONTENT.checks["accounts_no_empty_passwords"]
    finding = evaluate(check, observed(check.id, b"", 2, b"awk: cannot open /etc/shadow"), FACTS, INPUTS)
    assert finding.status is Status.error


def test_output_cut_at_the_cap_never_passes_but_can_fail() -> None:
    check = CONTENT.checks["accounts_no_extra_uid0"]  # empty: true, own command
    cut = observed(check.id, b"", 0).model_copy(update={"truncated": True})
    finding = evaluate(check, cut, FACTS, INPUTS)
    assert finding.status is Status.error and "cut" in finding.reason.en
    visible = observed(check.id, b"toor\n", 0).model_copy(update={"truncated": True})
    assert evaluate(check, visible, FACTS, INPUTS).status is Status.failed  # what arrived already fails


def test_a_timed_out_shared_source_names_its_own_limit() -> None:
    walk = CONTENT.sources["filesystem_walk"]
    check = CONTENT.checks["files_suid_unexpected_absent"]
    record = observed(walk.probe_id, b"", 124, outcome=ProbeOutcome.timed_out).model_copy(
        update={"duration_s": walk.timeout}
    )
    finding = evaluate(check, record, FACTS, INPUTS)
    assert finding.status is Status.error and f"{walk.timeout:.0f} s" in finding.reason.en


def test_host_errors_carry_the_reason_code() -> None:
    finding = host_error_finding(ROOT_LOGIN, "host_key_changed", "10.0.0.1:22")
    assert finding.status is Status.error
    assert "differs from the enrolled key" in finding.reason.en


def _agency(*hosts: Host) -> Agency:
    return Agency(id="demo", name=LocalizedText(vi="Thử", en="Demo"), hosts=hosts)


def test_plan_sends_applicable_checks_and_decides_the_rest() -> None:
    host = Host(name="db1", address="10.0.0.1", key_file="k", roles=("db",), os_family="rhel")
    web_only = ROOT_LOGIN.model_copy(
        update={"applies_to": ROOT_LOGIN.applies_to.model_copy(update={"roles": ("web",)})}
    )
    debian_only = IDLE.model_copy(
        update={"applies_to": IDLE.applies_to.model_copy(update={"os_families": ("debian",)})}
    )
    plan = plan_host(_agency(host), host, [web_only, debian_only], CONTENT.profile)
    assert plan.to_probe == ()
    assert {f.status for f in plan.decided} == {Status.not_applicable}
    assert "roles web" in plan.decided[0].reason.en or "web" in plan.decided[0].reason.en


def test_plan_carries_os_scope_to_the_target_when_unknown() -> None:
    host = Host(name="web1", address="10.0.0.1", key_file="k")
    debian_only = IDLE.model_copy(
        update={"applies_to": IDLE.applies_to.model_copy(update={"os_families": ("debian",)})}
    )
    [request] = plan_host(_agency(host), host, [debian_only], CONTENT.profile).requests()
    assert request.os_families == ("debian",) and request.probe_id == IDLE.id


def test_plan_filters_by_host() -> None:
    hosts = (Host(name="a1", address="10.0.0.1", key_file="k"), Host(name="a2", address="10.0.0.2", key_file="k"))
    inventory = Inventory(agencies=(_agency(*hosts),))
    plan = plan_audit(inventory, [ROOT_LOGIN], CONTENT.profile, sources=CONTENT.sources, host_names=["a2"])
    assert [p.host.name for p in plan.hosts] == ["a2"]
    assert plan.agencies == []  # narrowed to hosts: agency-level items are left out


def test_excluded_role_is_not_applicable() -> None:
    host = Host(name="gw1", address="10.0.0.1", key_file="k", roles=("gateway",))
    check = CONTENT.checks["sysctl_ip_forward_disabled"]
    plan = plan_host(_agency(host), host, [check], CONTENT.profile)
    assert plan.to_probe == () and plan.decided[0].status is Status.not_applicable
    assert "gateway" in plan.decided[0].reason.en


def test_probe_inputs_travel_as_environment_variables() -> None:
    host = Host(name="b1", address="10.0.0.1", key_file="k")
    agency = _agency(host).model_copy(update={"inputs": {"backup_dirs": "/srv/it's here,/backup"}})
    [request] = plan_host(agency, host, [CONTENT.checks["backup_recent"]], CONTENT.profile).requests()
    prefix = request.command.split("set -- ;")[0]
    shown = subprocess.run(
        ["sh", "-c", prefix + 'printf %s "$AUDITOR_INPUT_BACKUP_DIRS"'], capture_output=True, text=True, check=True
    )
    assert shown.stdout == "/srv/it's here,/backup"


def test_configured_and_meets_default_are_separate_verdicts() -> None:
    check = CONTENT.checks["accounts_password_max_age"]
    relaxed = evaluate(check, observed("source.login_defs", b"PASS_MAX_DAYS 180\n"), FACTS, INPUTS)
    assert (relaxed.status, relaxed.configured) == (Status.failed, True)  # configured, but above our 90 days
    never = evaluate(check, observed("source.login_defs", b"PASS_MAX_DAYS 99999\n"), FACTS, INPUTS)
    assert (never.status, never.configured) == (Status.failed, False)
    assert evaluate(ROOT_LOGIN, observed(SSHD, b"permitrootlogin no\n"), FACTS, INPUTS).configured is None
