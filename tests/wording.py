"""What a Vietnamese reader must never have to decode in a finding: matcher syntax, a check's own patterns
or notation, English state names. Quoted text (what a target sent, a value a check names) is data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from pydantic import BaseModel

from auditor.content.checks import Check
from auditor.content.expectations import AllOf, AnyOf, Contains, Excludes, NoneOf, Regex, SubsetOf
from auditor.content.loader import Content, load_content
from auditor.evaluation.findings import Finding
from auditor.messages import phrase

MATCHER_SYNTAX = ("~ /", "none(", "all(", "any(", "subset of", "contains [", "excludes [", '= "', "!=", "<=", ">=")
STATE_NAMES = re.compile(
    r"\b(pass|passed|fail|failed|error|manual|not_applicable|not_evaluated|completed|completed_with_errors|"
    r"awaiting_evidence|not_met|partly_met|met|meets|waived|interrupted)\b",
    re.IGNORECASE,
)
QUOTED = re.compile(r"“[^”]*”")  # what a target sent, or a value a check names, quoted as data


@cache
def shipped() -> Content:
    return load_content()


def problems(text: str) -> list[str]:
    """Matcher syntax or English state names outside quoted data."""
    plain = QUOTED.sub("“…”", text)
    found = [token for token in MATCHER_SYNTAX if token in plain]
    found += [match.group(0) for match in STATE_NAMES.finditer(plain)]
    return found


def parts(node: object) -> Iterator[BaseModel]:
    """An expectation and every expectation inside it."""
    if isinstance(node, BaseModel):
        yield node
        for name in type(node).model_fields:
            yield from parts(getattr(node, name))
    elif isinstance(node, tuple):
        for item in node:
            yield from parts(item)


def regexes(node: object) -> Iterator[Regex]:
    yield from (part for part in parts(node) if isinstance(part, Regex))


# How the expectations word a pattern that has no `means:` ("có dòng khớp mẫu “…”"): the pattern is then shown.
PATTERN_WORDING = {
    phrase("expectations", key, pattern="\x00").vi.split("\x00")[0] for key in ("regex", "regex_ignore_case")
}
METACHARACTERS = set(r".^$*+?{}[]\\|()")
# parts whose notation no target output would hold (unlike `empty` or a bound such as `<= 300`)
NOTATED = (Regex, AllOf, AnyOf, NoneOf, SubsetOf, Contains, Excludes)


def raw_syntax(check: Check, text: str) -> list[str]:
    """A check's own patterns or matcher notation in a text, quoted or not: what a reader must never have to
    decode."""
    inputs = shipped().profile.values()
    shown: set[str] = set()
    for expectation in (check.expect, check.configured):
        for part in parts(expectation):
            if isinstance(part, Regex) and METACHARACTERS & set(part.regex):  # a literal may be the words too
                shown.add(part.regex)
            if isinstance(part, NOTATED):
                shown.add(part.describe(inputs))
    return sorted(token for token in shown | PATTERN_WORDING if token in text)


def vietnamese_texts(finding: Finding) -> Iterator[tuple[str, str]]:
    yield "reason", finding.reason.vi
    if finding.expected_text is not None:
        yield "expected", finding.expected_text.vi
