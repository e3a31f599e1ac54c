"""Ids given on the command line checked against what exists: a mistyped agency, host, check or run is a usage
error naming the known ones, never an empty listing or a verdict over nothing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from auditor.cli.words import Words, fallback_lang
from auditor.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from auditor.store import Store

SHOWN = 20  # known ids named in one message


def known_list(values: Iterable[str], words: Words | None = None) -> str:
    told = words or Words(fallback_lang())
    ordered = sorted(set(values))
    if not ordered:
        return told("known_none")
    more = len(ordered) - SHOWN
    return ", ".join(ordered[:SHOWN]) + (told("known_more", n=more) if more > 0 else "")


def require_known(
    option: str, value: str | None, known: Iterable[str], where: str = "", *, words: Words | None = None
) -> None:
    """Nothing to check when ``value`` is None (the option was not given). ``where`` is already in words
    (e.g. " in run r-…")."""
    known = set(known)
    if value is not None and value not in known:
        told = words or Words(fallback_lang())
        raise ConfigError(told("unknown_id", option=option, value=value, where=where, known=known_list(known, told)))


def resolve_run(store: Store, ref: str, words: Words | None = None) -> str:
    """The full run id of an id, a unique prefix or ``latest``; when none matches, the recent runs are named."""
    try:
        return store.resolve_run_id(ref)
    except NotFoundError as exc:
        if "ambiguous" in str(exc):  # the message names the runs it matches already
            raise
        told = words or Words(fallback_lang())
        recent = [run.id for run in store.list_runs(SHOWN)]
        problem = exc.text(told.lang.value)
        listed = ", ".join(recent) or told("known_none")
        raise NotFoundError(told("no_such_run", problem=problem, recent=listed)) from None


def require_targets(
    store: Store, run_id: str, agency: str | None = None, host: str | None = None, *, words: Words | None = None
) -> None:
    """``agency`` and ``host`` must name targets audited in the run (a host within the agency when both are given)."""
    if agency is None and host is None:
        return
    told = words or Words(fallback_lang())
    targets = store.list_run_hosts(run_id)
    where = told("in_run", run=run_id)
    require_known("--agency", agency, {t.agency_id for t in targets}, where, words=told)
    hosts = {t.host_name for t in targets if agency is None or t.agency_id == agency}
    if agency:
        where += told("for_agency", agency=agency)
    require_known("--host", host, hosts, where, words=told)
