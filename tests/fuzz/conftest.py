"""Hypothesis profiles for the property-based tests; each test sets its own example count (budget.py).

`ci`, the default: derandomized, so that every run tries the same inputs and a failure is reproducible
from the test alone; no deadline, since a shared CI machine's timing says nothing about the code.
`HYPOTHESIS_PROFILE=deep`: ten times as many examples, from a fresh random seed on each run, to hunt
locally for inputs CI never tries (a failure is printed with the blob that replays it).
"""

from __future__ import annotations

import os

from hypothesis import settings

from tests.fuzz.budget import BASE_EXAMPLES

settings.register_profile("ci", max_examples=BASE_EXAMPLES, deadline=None, derandomize=True, print_blob=True)
settings.register_profile("deep", max_examples=10 * BASE_EXAMPLES, deadline=None, derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
