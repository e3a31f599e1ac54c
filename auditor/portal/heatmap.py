"""The dashboard's heat-map, agencies × requirement groups: where each group stands, in the four clause states of
the reports' roll-up (``GroupView``: met, not met, awaiting evidence, not evaluated), with how many clauses are in
each. No percentages: a share of clauses with evidence is not a level of compliance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditor.reports.models import GroupView
from auditor.reports.rollup import GROUP_STATES


@dataclass(frozen=True)
class HeatCell:
    group_id: str
    heading: str
    state: str  # of GROUP_STATES: the worst state any clause of the group is in ("met": every clause is)
    counts: tuple[tuple[str, int], ...]  # each state that has clauses, in GROUP_STATES order
    total: int  # the group's clauses


def state_counts(group: GroupView) -> dict[str, int]:
    """The group's clauses per state, as the roll-up counts them."""
    values = (group.clauses_met, group.clauses_not_met, group.clauses_awaiting, group.clauses_not_evaluated)
    return dict(zip(GROUP_STATES, values, strict=True))


def heat_cell(group: GroupView) -> HeatCell:
    counts = state_counts(group)
    worst_first = ("not_met", "awaiting_evidence", "not_evaluated")
    state = next((s for s in worst_first if counts[s]), "met" if counts["met"] else "not_evaluated")
    return HeatCell(
        group_id=group.id,
        heading=group.heading,
        state=state,
        counts=tuple((s, n) for s, n in counts.items() if n),
        total=group.clauses_total,
    )


def heat_row(groups: Sequence[GroupView]) -> tuple[HeatCell, ...]:
    return tuple(heat_cell(group) for group in groups)


def state_totals(rows: Sequence[Sequence[HeatCell]]) -> dict[str, int]:
    """Cells per state over the whole map (the legend's counts)."""
    totals = dict.fromkeys(GROUP_STATES, 0)
    for row in rows:
        for cell in row:
            totals[cell.state] += 1
    return totals
