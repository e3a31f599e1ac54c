"""Pure evaluation: check × observation → Finding. No I/O here."""

from __future__ import annotations

from auditor.content.checks import NOT_APPLICABLE_EXIT, Check, NetworkProbe, Probe
from auditor.content.expectations import Inputs, MatchOutcome, ProbeOutput
from auditor.content.select import select_text
from auditor.evaluation.findings import Finding
from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome
from auditor.evaluation.observed_words import lines_in_words, not_applicable_in_words, source_line_in_words
from auditor.messages import phrase, reason, shorten
from auditor.vocabulary import LocalizedText, Status

OBSERVED_CAP = 4000  # characters of observed output kept on a finding; the evidence keeps the rest


def _finding(
    check: Check,
    status: Status,
    why: LocalizedText,
    observed: str = "",
    inputs: Inputs | None = None,
    evidence: str | None = None,
    explained: LocalizedText | None = None,
) -> Finding:
    # the requirement: as notation for machines, in words for people (none without an expectation or inputs)
    expected, expected_text = "", None
    if check.expect is not None and inputs is not None:
        expected_text = explained if explained is not None else check.expect.explain(inputs)
        expected = check.expect.describe(inputs)
    return Finding(
        check_id=check.id,
        status=status,
        severity=check.severity,
        observed=observed[:OBSERVED_CAP],
        expected=expected,
        expected_text=expected_text,
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


def host_error_finding(check: Check, reason_code: str, detail: str | LocalizedText) -> Finding:
    """``detail`` in words (each language its own) or as one text; the observed text is the English one."""
    key = reason_code if reason_code in _HOST_REASONS else "other"
    observed = detail.en if isinstance(detail, LocalizedText) else detail
    return _finding(check, Status.error, reason(f"error.host.{key}", detail=detail), observed=observed)


_HOST_REASONS = {
    "host_key_unknown",
    "host_key_changed",
    "unreachable",
    "timeout",
    "deadline_exceeded",
    "auth_failed",
    "sudo_failed",
    "exec_failed",
    "exec_refused",
    "connection_lost",
    "output_cap_exceeded",
    "interrupted",
    "zone_worker_lost",
    "zone_refused",
}


def judged_text(check: Check, observation: Observation) -> str:
    """The text a check judges: its own probe's stdout, or its selection from a shared source's stdout."""
    probe = check.probe
    if isinstance(probe, Probe) and probe.select is not None:
        return select_text(probe.select, observation.stdout_text)
    return observation.stdout_text


def evaluate(check: Check, observation: Observation | None, facts: HostFacts, inputs: Inputs) -> Finding:
    """Judge one automated check from its observation on one host."""
    assert check.expect is not None  # noqa: S101 - only automated checks are evaluated
    if observation is None or observation.outcome is ProbeOutcome.missing:
        return _finding(check, Status.error, reason("error.missing"), inputs=inputs)
    evidence = observation.probe_id
    if observation.outcome is ProbeOutcome.conflicting:
        return _finding(check, Status.error, reason("error.conflicting_records"), inputs=inputs, evidence=evidence)
    families = check.applies_to.os_families
    # A shared source runs on every family; the script skips only a check's own probe.
    if observation.outcome is ProbeOutcome.skipped or (families and facts.os_family not in families):
        why = reason("not_applicable.os_family", family=facts.os_family, families=", ".join(families))
        return _finding(check, Status.not_applicable, why, inputs=inputs, evidence=evidence)
    stdout = observation.stdout_text.strip()
    if observation.outcome is ProbeOutcome.timed_out:  # killed at its limit (the source's, for a shared one)
        why = reason("error.timed_out", timeout=f"{observation.duration_s:.0f}")
        return _finding(check, Status.error, why, stdout, inputs, evidence)
    if observation.exit_code == NOT_APPLICABLE_EXIT:
        known = not_applicable_in_words(stdout)
        why = reason("not_applicable.known", detail=known) if known else reason("not_applicable.probe", detail=stdout)
        return _finding(check, Status.not_applicable, why, stdout, inputs, evidence)
    if observation.exit_code != 0:
        stderr = shorten(observation.stderr_text.strip() or stdout or "-")
        why = reason("error.exit_code", exit_code=observation.exit_code, stderr=stderr)
        return _finding(check, Status.error, why, stdout, inputs, evidence)
    judged = judged_text(check, observation)
    stdout = judged.strip()
    output = ProbeOutput(judged)
    outcome = check.expect.match(output, inputs)
    expected = check.expect.explain(inputs)
    configured = check.configured.match(output, inputs).ok if check.configured is not None else None
    if outcome.ok and observation.truncated:  # what was cut off could hold the very line that fails
        why = reason("error.truncated", cap=len(observation.stdout))
        finding = _finding(check, Status.error, why, stdout, inputs, evidence, expected)
    elif outcome.ok:
        why = reason("pass", expected=expected)
        finding = _finding(check, Status.passed, why, stdout, inputs, evidence, expected)
    else:
        why = reason(f"fail.{outcome.key}", **_failure_params(check, output, outcome, expected))
        finding = _finding(check, Status.failed, why, stdout, inputs, evidence, expected)
    return finding.model_copy(update={"configured": configured}) if configured is not None else finding


def _failure_params(
    check: Check, output: ProbeOutput, outcome: MatchOutcome, expected: LocalizedText
) -> dict[str, object]:
    """What a failure sentence needs, in words: the requirement, and what was seen (quoted as the target's
    data, or — for the network agents' own lines — put into words)."""
    from_agents = isinstance(check.probe, NetworkProbe)
    params: dict[str, object] = {**outcome.params, "expected": outcome.explained or expected}
    params["observed"] = lines_in_words(output.lines) if from_agents else _quoted(output.stripped)
    source = check.probe.source if isinstance(check.probe, Probe) else None  # its lines may have words
    named = lines_in_words(outcome.lines) if from_agents else _quoted_lines(outcome.lines, source=source)
    if outcome.key == "contains":
        # the check's own values, never the agents' lines
        params["missing"] = _quoted_lines(outcome.lines, source=source)
    elif outcome.key in ("excludes", "subset_of"):
        params["found"] = named
    elif outcome.key == "none":
        params["found"] = named if outcome.lines else params["observed"]
    if "op" in outcome.params:
        params["bound"] = phrase("expectations", f"bound.{outcome.params['op']}", value=outcome.params["value"])
    return params


def _quoted(text: str) -> LocalizedText:
    shown = f"“{shorten(text)}”" if text else "∅"
    return LocalizedText(vi=shown, en=shown)


def _quoted_lines(lines: tuple[str, ...], limit: int = 6, source: str | None = None) -> LocalizedText:
    """Lines quoted as the target's data, or in words where the shared source they come from has them."""
    parts = [source_line_in_words(source, line) or _quoted(line) for line in lines[:limit]]
    vi = "; ".join(part.vi for part in parts) or "∅"
    en = "; ".join(part.en for part in parts) or "∅"
    rest = len(lines) - limit
    if rest > 0:
        more = reason("observed_more", count=rest)
        return LocalizedText(vi=f"{vi}; {more.vi}", en=f"{en}; {more.en}")
    return LocalizedText(vi=vi, en=en)
