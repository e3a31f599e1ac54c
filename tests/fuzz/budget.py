"""How many examples a property test runs: its own count in CI, scaled by the loaded profile."""

from __future__ import annotations

from hypothesis import settings

BASE_EXAMPLES = 100  # the `ci` profile's max_examples; `deep` has ten times as many


def examples(count: int) -> int:
    """`count` under the `ci` profile, proportionally more under a larger one (e.g. `deep`)."""
    return count * settings.default.max_examples // BASE_EXAMPLES
