"""Schedules, for the officer: the list with each one's next run in Viet Nam time, and forms to add, pause,
resume and remove them; every change is written to the activity log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from auditor.errors import ConfigError, NotFoundError
from auditor.portal.access import Access, principal, route
from auditor.portal.context import portal_of
from auditor.portal.web import render
from auditor.scheduler.cron import DEFAULT_TIMEZONE, validate_cron, validate_timezone
from auditor.scheduler.specs import (
    ALL_AGENCIES,
    ScheduleSpec,
    add_schedule,
    next_due,
    parse_only,
    resume_schedule,
)
from auditor.store.views import ScheduleRow
from auditor.vocabulary import Only

router = APIRouter()


def _page(request: Request, *, status: int = 200, errors: list[str] | None = None, **form: str) -> Response:
    portal = portal_of(request)
    rows = portal.store.list_schedules()
    context: dict[str, Any] = {
        "schedules": [{"row": row, "next": next_due(row)} for row in rows],
        "names": portal.agency_names(),
        "agents": [o.value for o in Only],
        "all_agencies": ALL_AGENCIES,
        "now": portal.now(),
        "errors": errors or [],
        "form": {"cron": "", "agency": ALL_AGENCIES, "timezone": DEFAULT_TIMEZONE, "only": "", **form},
    }
    return render(request, "schedules.html.j2", context, status=status)


@route(router, "/schedules", access=Access.officer)
def schedules(request: Request) -> Response:
    return _page(request)


@route(router, "/schedules", access=Access.officer, methods=("POST",))
def add(
    request: Request,
    cron: Annotated[str, Form(max_length=120)],
    agency: Annotated[str, Form(max_length=64)] = ALL_AGENCIES,
    timezone: Annotated[str, Form(max_length=64)] = DEFAULT_TIMEZONE,
    only: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    portal = portal_of(request)
    errors = []
    checked: dict[str, Any] = {}
    for key, check, value in (
        ("cron", validate_cron, cron),
        ("timezone", validate_timezone, timezone),
        ("only", parse_only, only),
    ):
        try:
            checked[key] = check(value)
        except ConfigError:
            errors.append(f"sch_err_{key}")
    agency_id = None if agency in ("", ALL_AGENCIES) else agency
    if agency_id is not None and agency_id not in portal.agency_names():
        errors.append("sch_err_agency")
    if errors:
        return _page(request, status=422, errors=errors, cron=cron, agency=agency, timezone=timezone, only=only)
    spec = ScheduleSpec(checked["cron"], checked["timezone"], agency_id, checked["only"])
    row = add_schedule(portal.store, spec, principal(request).user.username, portal.now())
    portal.log(request, "schedule_add", f"schedule:{row.id}", agency_id=agency_id, detail=spec.detail())
    return RedirectResponse("/schedules", status_code=303)


def _change(request: Request, schedule_id: int, action: str) -> Response:
    portal = portal_of(request)
    store = portal.store
    try:
        row: ScheduleRow
        if action == "schedule_pause":
            row = store.set_schedule_paused(schedule_id, True)
        elif action == "schedule_resume":
            row = resume_schedule(store, schedule_id, portal.now())
        else:
            row = store.remove_schedule(schedule_id, portal.now())
    except NotFoundError:
        raise HTTPException(status_code=404) from None
    portal.log(request, action, f"schedule:{schedule_id}", agency_id=row.agency_id)
    return RedirectResponse("/schedules", status_code=303)


@route(router, "/schedules/{schedule_id}/pause", access=Access.officer, methods=("POST",))
def pause(request: Request, schedule_id: int) -> Response:
    return _change(request, schedule_id, "schedule_pause")


@route(router, "/schedules/{schedule_id}/resume", access=Access.officer, methods=("POST",))
def resume(request: Request, schedule_id: int) -> Response:
    return _change(request, schedule_id, "schedule_resume")


@route(router, "/schedules/{schedule_id}/remove", access=Access.officer, methods=("POST",))
def remove(request: Request, schedule_id: int) -> Response:
    return _change(request, schedule_id, "schedule_remove")
