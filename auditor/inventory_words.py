"""Where an inventory's problem is, in words of either language ('file inv.yml, line 6, agency demo, host b, field
address'), and a list of problems as an error says it. The sentences are in auditor/locale/cli.yml."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from auditor.said import said
from auditor.textsafe import terminal_safe
from auditor.yamlio import Location, shown

if TYPE_CHECKING:
    from auditor.inventory import InventoryProblem, ParsedInventory
    from auditor.reports.models import Lang

LISTED_PROBLEMS = 20  # an error lists these and counts the rest, as loading does
_ITEM_LISTS = {  # the lists whose items are named by their id or name (else by their number)
    "agencies": ("inventory_agency", "inventory_agency_at"),
    "hosts": ("inventory_host", "inventory_host_at"),
}


def place(parsed: ParsedInventory, location: Location, lang: Lang) -> str:
    """'file inv.yml, line 6, agency demo, host b, field address' (the file by its name: its path is said once)."""
    parts = [said("inventory_file", path=terminal_safe(parsed.path.name)).text(lang)]
    line = parsed.document.line_of(location)
    if line is not None:
        parts.append(said("inventory_line", n=line).text(lang))
    node: object = parsed.document.data
    field: list[str] = []
    steps = list(location)
    for index, step in enumerate(steps):
        after = steps[index + 1] if index + 1 < len(steps) else None
        if isinstance(step, str) and step in _ITEM_LISTS and isinstance(after, int) and not field:
            node = node.get(step) if isinstance(node, dict) else None
            continue  # the list's item names itself below
        if isinstance(step, int):
            item = node[step] if isinstance(node, list) and 0 <= step < len(node) else None
            previous = steps[index - 1] if index else None
            if isinstance(previous, str) and previous in _ITEM_LISTS and not field:
                named, numbered = _ITEM_LISTS[previous]
                key = "id" if previous == "agencies" else "name"
                value = item.get(key) if isinstance(item, dict) else None
                part = said(named, id=shown(str(value))) if value is not None else said(numbered, n=step + 1)
                parts.append(part.text(lang))
            else:
                field.append(said("inventory_item", n=step + 1).text(lang))
            node = item
        else:
            field.append(shown(str(step)))
            node = node.get(step) if isinstance(node, dict) else None
    if field:
        parts.append(said("inventory_field", field=" ".join(field)).text(lang))
    return ", ".join(parts)


def described(parsed: ParsedInventory, problems: Sequence[InventoryProblem], lang: Lang) -> str:
    """'FILE: N errors' then one line per problem: where it is in words, what is wrong."""
    lines = [said("err_inventory_problems", path=terminal_safe(str(parsed.path)), n=len(problems)).text(lang)]
    for problem in problems[:LISTED_PROBLEMS]:
        lines.append(f"  - {place(parsed, problem.location, lang)}: {terminal_safe(problem.text(lang))}")
    if len(problems) > LISTED_PROBLEMS:
        lines.append("  - " + said("err_inventory_more", n=len(problems) - LISTED_PROBLEMS).text(lang))
    return "\n".join(lines)
