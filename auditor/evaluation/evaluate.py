"""Pure evaluation: check × observation → Finding. No I/O here."""

from __future__ import annotations

from auditor.content.checks import NOT_APPLICABLE_EXIT, Check
from auditor.content.expectations import Inputs, ProbeOutput
from auditor.evaluation.findings import Finding
from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome
from auditor.messages import reason, shorten
from auditor.vocabulary import LocalizedText, Status

OBSERVED_CAP = 4000  # characters of observed output kept on a finding; the evidence keeps the rest


def _finding(
    check: Check,
    status: Status,
    why: LocalizedText,
    observed: str = "",
    inputs: Inputs | None = None,
    evidence: str | None = None,
) -> Finding:
    expected = check.expect.describe(inputs or {}) if check.expect is not None and inputs is not None else ""
    return Finding(
        check_id=check.id,
        status=status,
        severity=check.severity,
        observed=observed[:OBSERVED_CAP],
        expected=expected,
        reason=why,
        evidence_probe_id=evidence,
    )


def not_applicable_finding(check: Check, why: LocalizedText) -> Finding:
    return _finding(check, Status.not_applicable, why)


def manual_finding(check: Check) -> Finding:
    assert check.evidence_required is not None  # noqa: S101 - guaranteed by Check validation
    why = LocalizedText(
        vi=reason("manual", evidence=check.evidence_required.vi).vi,
        en=reason("manual", evidence=check.evidence_required.en).en,
    )
    return _finding(check, Status.manual, why)


def host_error_finding(check: Check, reason_code: str, detail: str) -> Finding:
    key = reason_code if reason_code in _HOST_REASONS else "other"
    return _finding(check, Status.error, reason(f"error.host.{key}", detail=detail), observed=detail)


_HOST_REASONS = {
    "host_key_unknown",
    "host_key_changed",
    "unreachable",
    "timeout",
    "deadline_exceeded",
    "auth_failed",
    "sudo_failed",
    "interrupted",
}


def evaluate(check: Check, observation: Observation | None, facts: HostFacts, inputs: Inputs) -> Finding:
    """Judge one automated check from its observation on one host."""
    assert check.expect is not None  # noqa: S101 - only automated checks are evaluated
    if observation is None or observation.outcome is ProbeOutcome.missing:
        return _finding(check, Status.error, reason("error.missing"), inputs=inputs)
    evidence = observation.probe_id
    if observation.outcome is ProbeOutcome.skipped:
        why = reason(
            "not_applicable.os_family", family=facts.os_family, families=", ".join(check.applies_to.os_families)
        )
        return _finding(check, Status.not_applicable, why, inputs=inputs, evidence=evidence)
    stdout = observation.stdout_text.strip()
    if observation.outcome is ProbeOutcome.timed_out:
        why = reason("error.timed_out", timeout=check.probe.timeout if check.probe else "?")
        return _finding(check, Status.error, why, stdout, inputs, evidence)
    if observation.exit_code == NOT_APPLICABLE_EXIT:
        return _finding(
            check, Status.not_applicable, reason("not_applicable.probe", detail=stdout or "-"), stdout, inputs, evidence
        )
    if observation.exit_code != 0:
        stderr = shorten(observation.stderr_text.strip() or stdout or "-")
        why = reason("error.exit_code", exit_code=observation.exit_code, stderr=stderr)
        return _finding(check, Status.error, why, stdout, inputs, evidence)
    output = ProbeOutput(observation.stdout_text)
    outcome = check.expect.match(output, inputs)
    expected = check.expect.describe(inputs)
    configured = check.configured.match(output, inputs).ok if check.configured is not None else None
    if outcome.ok:
        finding = _finding(check, Status.passed, reason("pass", expected=expected), stdout, inputs, evidence)
    else:
        params = {"observed": stdout or "∅", "expected": expected, **outcome.params}
        finding = _finding(check, Status.failed, reason(f"fail.{outcome.key}", **params), stdout, inputs, evidence)
    return finding.model_copy(update={"configured": configured}) if configured is not None else finding
