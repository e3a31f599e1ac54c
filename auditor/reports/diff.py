"""The report's view of the changes the store found between two audits of one agency."""

from __future__ import annotations

from collections.abc import Callable

from auditor.reports.models import SEVERITY_ORDER, DiffEntry, DiffView
from auditor.store.views import DiffChange, RunDiff


def diff_view(diff: RunDiff, title: Callable[[str], str]) -> DiffView:
    def bucket(change: DiffChange) -> tuple[DiffEntry, ...]:
        entries = sorted(
            diff.of(change), key=lambda e: (SEVERITY_ORDER.index(e.severity.value), e.check_id, e.host_name)
        )
        return tuple(
            DiffEntry(
                host_name=e.host_name,
                check_id=e.check_id,
                title=title(e.check_id),
                severity=e.severity.value,
                before=e.before.value if e.before is not None else "",
                after=e.after.value if e.after is not None else "",
            )
            for e in entries
        )

    return DiffView(
        previous_run_id=diff.previous_run_id,
        previous_started_at=diff.previous_started_at,
        new=bucket("new"),
        fixed=bucket("fixed"),
        regressed=bucket("regressed"),
        still_failing=bucket("still_failing"),
        not_rechecked=bucket("not_rechecked"),
    )
