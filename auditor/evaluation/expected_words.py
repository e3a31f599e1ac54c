"""A stored finding's requirement in words, for every reader (reports, portal, CLI).

Findings stored since the store kept words (migration 0007) carry them. Older rows hold only the compact
notation (``subset of [2222]``), which is for machines: a reader then gets the words of the check as the
current content defines it, marked as such when the current definition no longer gives the stored notation,
and a neutral sentence when the check is gone. Never the notation itself.
"""

from __future__ import annotations

from typing import Protocol

from auditor.content.expectations import Inputs
from auditor.content.loader import Content
from auditor.messages import phrase
from auditor.vocabulary import LocalizedText


class StoredFinding(Protocol):
    """What a reader holds of a finding (a store row)."""

    @property
    def check_id(self) -> str: ...

    @property
    def expected(self) -> str: ...

    @property
    def expected_text(self) -> LocalizedText | None: ...


def expected_in_words(finding: StoredFinding, content: Content, inputs: Inputs | None = None) -> LocalizedText | None:
    """The requirement in words; None when nothing was expected (manual evidence, a host that could not be
    reached). ``inputs`` are the profile values to word a check with (default: the profile's defaults)."""
    if finding.expected_text is not None:
        return finding.expected_text
    if not finding.expected:
        return None
    check = content.checks.get(finding.check_id)
    values = content.profile.values() if inputs is None else inputs
    if check is None or check.expect is None or not check.input_names() <= values.keys():
        return phrase("expectations", "stored.unknown_check")
    words = check.expect.explain(values)
    if check.expect.describe(values) == finding.expected:
        return words  # the same requirement that was judged
    return phrase("expectations", "stored.as_defined_now", words=words)
