"""Audit runs: the list (newest first), one run's targets and counts with its live progress, the progress
stream itself (server-sent events of a run this process is running), and "audit now" for the officer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from auditor.errors import ConfigError, InventoryError, NotFoundError
from auditor.portal.access import Access, principal, route
from auditor.portal.context import Portal, portal_of
from auditor.portal.web import render
from auditor.scheduler.launcher import AgencyBusy, RunRequest, launcher_of
from auditor.scheduler.progress import Event, progress_of
from auditor.scheduler.specs import ALL_AGENCIES, parse_only
from auditor.store.views import RunSummary
from auditor.vocabulary import Only, RunStatus

router = APIRouter()
RUNS_SHOWN = 50
STREAM_POLL_S = 0.5  # how often the stream looks for new events
STREAM_MAX_S = 25.0  # a stream ends after this; the browser reconnects (Last-Event-ID) and goes on
RETRY_MS = 2000


def _run_view(run: RunSummary, live: frozenset[str]) -> dict[str, Any]:
    options = run.options
    return {
        "run": run,
        "agencies": list(options.get("agencies") or []),
        "only": options.get("only"),
        "started_by": options.get("started_by"),
        "schedule_id": options.get("schedule_id"),
        "live": run.id in live,
    }


def _runs_page(request: Request, *, status: int = 200, **extra: Any) -> Response:
    portal = portal_of(request)
    live = progress_of(portal).running()
    now = portal.now()
    context = {
        "runs": [_run_view(run, live) for run in portal.store.list_runs(limit=RUNS_SHOWN)],
        "leases": [lease for lease in portal.store.list_leases() if lease.expires_at >= now],
        "names": portal.agency_names(),
        "agents": [o.value for o in Only],
        "all_agencies": ALL_AGENCIES,
        "busy": None,
        "error": None,
        **extra,
    }
    return render(request, "runs.html.j2", context, status=status)


@route(router, "/runs", access=Access.read_all)
def runs(request: Request) -> Response:
    return _runs_page(request)


@route(router, "/runs", access=Access.officer, methods=("POST",))
def audit_now(
    request: Request,
    agency: Annotated[str, Form(min_length=1, max_length=64)],
    only: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Start a run now, in the background, under the same leases as a scheduled one."""
    portal = portal_of(request)
    agency_id = None if agency == ALL_AGENCIES else agency
    try:
        agent = parse_only(only)
    except ConfigError:
        return _runs_page(request, status=422, error="sch_err_only")
    if agency_id is not None and agency_id not in portal.agency_names():
        return _runs_page(request, status=422, error="sch_err_agency")
    try:
        run_id = launcher_of(portal).start(RunRequest(agency_id, agent, principal(request).user.username))
    except AgencyBusy as busy:
        return _runs_page(request, status=409, busy=busy.runs())
    except InventoryError:
        return _runs_page(request, status=422, error="sch_err_inventory")
    except ConfigError:
        return _runs_page(request, status=422, error="sch_err_nothing")
    detail = {"agency_id": agency_id, "only": agent.value if agent else None}  # agency_id None: every agency
    portal.log(request, "run_start", run_id, agency_id=agency_id, detail=detail)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


def _find_run(portal: Portal, run_id: str) -> RunSummary:
    try:
        return portal.store.get_run(run_id)
    except NotFoundError:
        raise HTTPException(status_code=404) from None


@route(router, "/runs/{run_id}", access=Access.read_all)
def run_page(request: Request, run_id: str) -> Response:
    portal = portal_of(request)
    run = _find_run(portal, run_id)
    context = {
        **_run_view(run, progress_of(portal).running()),
        "targets": portal.store.list_run_hosts(run.id),
        "names": portal.agency_names(),
    }
    return render(request, "run.html.j2", context)


@route(router, "/runs/{run_id}/events", access=Access.read_all)
async def run_events(request: Request, run_id: str) -> Response:
    """The run's progress as server-sent events; ends with the run (or at once for a run not running here)."""
    portal = portal_of(request)
    run = await run_in_threadpool(_find_run, portal, run_id)
    try:
        after = int(request.headers.get("last-event-id", "0"))
    except ValueError:
        after = 0
    return StreamingResponse(
        _stream(portal, run, after),
        media_type="text/event-stream",
        headers={"x-accel-buffering": "no"},
    )


async def _stream(portal: Portal, run: RunSummary, after: int) -> AsyncIterator[str]:
    registry = progress_of(portal)
    yield f"retry: {RETRY_MS}\n\n"
    ends = time.monotonic() + STREAM_MAX_S
    while True:
        snapshot = registry.read(run.id, after)
        if snapshot is None:  # not running in this process
            yield await run_in_threadpool(_first_and_last, portal, run)
            return
        for seq, event in snapshot.events:
            after = seq
            yield _sse(event, seq)
        if snapshot.done:
            if snapshot.final is not None and not any(e is snapshot.final for _s, e in snapshot.events):
                yield _sse(snapshot.final, after)  # the client missed the end: say it again
            return
        if time.monotonic() > ends:
            return  # the browser reconnects from the last event id
        await asyncio.sleep(STREAM_POLL_S)


def _first_and_last(portal: Portal, run: RunSummary) -> str:
    current = portal.store.get_run(run.id) if run.status is RunStatus.running else run
    if current.status is RunStatus.running:
        return _sse({"kind": "elsewhere", "run_id": run.id})
    return _sse({"kind": "run_finished", "run_id": run.id, "status": current.status.value, "tally": None})


def _sse(event: Event, seq: int | None = None) -> str:
    lines = [f"id: {seq}"] if seq is not None else []
    lines += [f"event: {event.get('kind', 'message')}", f"data: {json.dumps(event, ensure_ascii=False)}"]
    return "\n".join(lines) + "\n\n"
