"""Kernel parameter findings say in words whether a value fails now or only after the next reboot."""

from __future__ import annotations

from datetime import UTC, datetime

from auditor.content.loader import load_content
from auditor.evaluation.evaluate import evaluate
from auditor.evaluation.findings import Finding
from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome
from auditor.evaluation.observed_words import source_line_in_words
from auditor.vocabulary import Status


def _finding(check_id: str, stdout: str) -> Finding:
    content = load_content()
    check = content.checks[check_id]
    inputs = content.profile.values()
    observation = Observation(
        probe_id="source.sysctl_all",
        command="sysctl -a",
        outcome=ProbeOutcome.completed,
        exit_code=0,
        stdout=stdout.encode(),
        stderr=b"",
        collected_at=datetime.now(UTC),
    )
    return evaluate(check, observation, HostFacts(os_family="debian"), inputs)


def test_a_persisted_value_fails_after_reboot() -> None:
    finding = _finding("sysctl_ip_forward_disabled", "net.ipv4.ip_forward = 0\nnet.ipv4.ip_forward@after-reboot = 1\n")
    assert finding.status is Status.failed
    assert "fails after reboot" in finding.reason.en and "fails now" not in finding.reason.en
    assert "không đạt sau khi khởi động lại" in finding.reason.vi
    assert "“net.ipv4.ip_forward = 1”" in finding.reason.en


def test_a_running_value_fails_now() -> None:
    finding = _finding("sysctl_ip_forward_disabled", "net.ipv4.ip_forward = 1\n")
    assert finding.status is Status.failed
    assert "fails now" in finding.reason.en and "after reboot" not in finding.reason.en
    assert "không đạt ngay bây giờ" in finding.reason.vi


def test_a_missing_persisted_value_fails_after_reboot() -> None:
    finding = _finding(
        "sysctl_log_martians_enabled",
        "net.ipv4.conf.all.log_martians = 1\nnet.ipv4.conf.default.log_martians = 1\n"
        "net.ipv4.conf.all.log_martians@after-reboot = 1\n",
    )
    assert finding.status is Status.failed
    assert "“net.ipv4.conf.default.log_martians = 1” after reboot (fails after reboot)" in finding.reason.en


def test_lines_of_other_sources_and_other_checks_stay_quoted() -> None:
    assert source_line_in_words("login_defs", "UMASK=022") is None
    assert source_line_in_words(None, "net.ipv4.ip_forward=1") is None
    words = source_line_in_words("sysctl_all", "kernel.randomize_va_space=1")
    assert words is not None and words.en == "“kernel.randomize_va_space = 1” running now (fails now)"
