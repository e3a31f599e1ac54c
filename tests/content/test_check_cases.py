"""Every automated check proven both ways: at least one pass and one fail case each."""

from __future__ import annotations

from functools import cache

import pytest

from auditor.content.loader import Content, load_content
from tests.checkcases import CASES_DIR, RELEASES, Case, Release, Sandbox, judge_recorded, load_case_file
from tests.wording import problems, raw_syntax


@cache
def shipped() -> Content:
    return load_content()


# Shell-probed checks; network checks are proven against recorded scans (tests/unit/test_network.py)
# and the lab's services (tests/integration/test_network_lab.py).
AUTOMATED = sorted(
    check_id for check_id, check in shipped().checks.items() if not check.is_manual and check.scope == "host"
)
# A recorded output is judged once; a scenario runs over the base of every lab release it applies to.
CASES: list[tuple[str, Case, Release]] = [
    (check_id, case, release)
    for check_id in AUTOMATED
    if (CASES_DIR / f"{check_id}.yml").exists()
    for case in load_case_file(check_id).cases
    for release in (RELEASES if case.is_scenario else RELEASES[:1])
    if case.runs_on(release)
]


def case_id(check_id: str, case: Case, release: Release) -> str:
    return f"{check_id}-{case.name}" + ("" if release == RELEASES[0] else f"-{release}")


@pytest.mark.parametrize("check_id", AUTOMATED)
def test_every_check_is_proven_both_ways(check_id: str) -> None:
    assert (CASES_DIR / f"{check_id}.yml").exists(), f"tests/checks/{check_id}.yml is missing"
    cases = load_case_file(check_id)
    expected = {case.expect for case in cases.cases}
    assert {"pass", "fail"} <= expected, f"{check_id}: needs a pass case and a fail case, has {sorted(expected)}"
    assert set(cases.lab) == {"hardened", "weak", "mixed"}


def test_no_case_file_without_a_check() -> None:
    orphans = sorted(path.stem for path in CASES_DIR.glob("*.yml") if path.stem not in shipped().checks)
    assert not orphans


@pytest.mark.parametrize(("check_id", "case", "release"), CASES, ids=[case_id(*c) for c in CASES])
def test_case(check_id: str, case: Case, release: Release, request: pytest.FixtureRequest) -> None:
    check = shipped().checks[check_id]
    inputs = shipped().profile.values(case.inputs)
    if case.is_scenario:
        sandbox: Sandbox = request.getfixturevalue("sandbox_for")(release)
        observation = sandbox.run(check, case, inputs, shipped().sources)
        from auditor.evaluation.evaluate import evaluate
        from auditor.evaluation.observations import HostFacts

        finding = evaluate(check, observation, HostFacts(os_family=case.os_family), inputs)
        detail = f"stdout={observation.stdout_text!r} stderr={observation.stderr_text!r} rc={observation.exit_code}"
    else:
        finding = judge_recorded(check, case, inputs, shipped().sources)
        detail = f"stdout={case.stdout!r}"
    assert finding.status.value == case.expect, f"{finding.reason.en} ({detail})"
    # what a Vietnamese reader sees of a real pass or failure: words, never a pattern or matcher syntax
    for text in (finding.reason.vi, finding.expected_text.vi if finding.expected_text else ""):
        assert not problems(text) and not raw_syntax(check, text), f"{check_id}: {text}"
