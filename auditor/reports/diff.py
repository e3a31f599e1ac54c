"""Changes between two audits of the same agency: new, fixed, regressed, still failing, not re-checked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from auditor.reports.models import FAILING, SEVERITY_ORDER, DiffEntry, DiffView
from auditor.store import FindingRow


def diff_findings(
    current: Sequence[FindingRow],
    previous: Sequence[FindingRow],
    previous_run_id: str,
    previous_started_at: datetime,
    title: Callable[[str], str],
) -> DiffView:
    """Pair findings by (target, check). A pair that fails or errors now is new when it was not audited before,
    regressed when it did not fail before, still failing when it did; one that failed before and does not now is
    fixed, or not re-checked when this audit did not look at it."""
    now = {(f.host_name, f.check_id): f for f in current}
    before = {(f.host_name, f.check_id): f for f in previous}
    buckets: dict[str, list[DiffEntry]] = {
        "new": [],
        "fixed": [],
        "regressed": [],
        "still_failing": [],
        "not_rechecked": [],
    }
    for key in sorted(now.keys() | before.keys()):
        cur, old = now.get(key), before.get(key)
        cur_failing = cur is not None and cur.status.value in FAILING
        old_failing = old is not None and old.status.value in FAILING
        if cur_failing and old is None:
            bucket = "new"
        elif cur_failing and old_failing:
            bucket = "still_failing"
        elif cur_failing:
            bucket = "regressed"
        elif old_failing and cur is None:
            bucket = "not_rechecked"
        elif old_failing:
            bucket = "fixed"
        else:
            continue
        sample = cur or old
        assert sample is not None  # noqa: S101 - one of the two exists for every key
        buckets[bucket].append(
            DiffEntry(
                host_name=key[0],
                check_id=key[1],
                title=title(key[1]),
                severity=sample.severity.value,
                before=old.status.value if old is not None else "",
                after=cur.status.value if cur is not None else "",
            )
        )

    def ordered(entries: list[DiffEntry]) -> tuple[DiffEntry, ...]:
        return tuple(sorted(entries, key=lambda e: (SEVERITY_ORDER.index(e.severity), e.check_id, e.host_name)))

    return DiffView(
        previous_run_id=previous_run_id,
        previous_started_at=previous_started_at,
        new=ordered(buckets["new"]),
        fixed=ordered(buckets["fixed"]),
        regressed=ordered(buckets["regressed"]),
        still_failing=ordered(buckets["still_failing"]),
        not_rechecked=ordered(buckets["not_rechecked"]),
    )
