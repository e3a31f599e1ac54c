"""Ids given on the command line checked against what exists: a mistyped agency, host, check or run is a usage
error naming the known ones, never an empty listing or a verdict over nothing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from auditor.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from auditor.store import Store

SHOWN = 20  # known ids named in one message


def known_list(values: Iterable[str]) -> str:
    ordered = sorted(set(values))
    if not ordered:
        return "none"
    more = len(ordered) - SHOWN
    return ", ".join(ordered[:SHOWN]) + (f" … and {more} more" if more > 0 else "")


def require_known(option: str, value: str | None, known: Iterable[str], where: str = "") -> None:
    """Nothing to check when ``value`` is None (the option was not given)."""
    known = set(known)
    if value is not None and value not in known:
        raise ConfigError(f"{option} {value!r}: unknown{where}; known: {known_list(known)}")


def resolve_run(store: Store, ref: str) -> str:
    """The full run id of an id, a unique prefix or ``latest``; when none matches, the recent runs are named."""
    try:
        return store.resolve_run_id(ref)
    except NotFoundError as exc:
        if "ambiguous" in str(exc):  # the message names the runs it matches already
            raise
        recent = [run.id for run in store.list_runs(SHOWN)]
        raise NotFoundError(f"{exc}; recent runs: {', '.join(recent) or 'none'}") from None


def require_targets(store: Store, run_id: str, agency: str | None = None, host: str | None = None) -> None:
    """``agency`` and ``host`` must name targets audited in the run (a host within the agency when both are given)."""
    if agency is None and host is None:
        return
    targets = store.list_run_hosts(run_id)
    require_known("--agency", agency, {t.agency_id for t in targets}, f" in run {run_id}")
    hosts = {t.host_name for t in targets if agency is None or t.agency_id == agency}
    require_known("--host", host, hosts, f" in run {run_id}" + (f" for agency {agency}" if agency else ""))
