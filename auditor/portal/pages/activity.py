"""The activity log for the officer: newest first, narrowed by actor, action and agency; and as CSV (every cell
made safe for spreadsheets). Exporting the log is itself logged."""

from __future__ import annotations

import csv
import io
import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from auditor.portal.access import Access, route
from auditor.portal.context import Portal, portal_of
from auditor.portal.downloads import attachment
from auditor.portal.web import lang_of, render
from auditor.reports.exports import spreadsheet_safe
from auditor.reports.models import Lang
from auditor.store.views import ActivityRow

router = APIRouter()
PAGE_LIMIT = 500  # entries shown on the page; the CSV holds every entry the filters select
CSV_COLUMNS = ("at", "actor", "role", "action", "agency_id", "target", "detail", "remote_addr")
KNOWN_ACTIONS = (
    "login",
    "login_failed",
    "logout",
    "download",
    "upload",
    "accept",
    "reject",
    "user_add",
    "user_disable",
    "user_enable",
    "user_role",
    "user_passwd",
    "export",
)


def _rows(portal: Portal, actor: str, action: str, agency: str, limit: int | None) -> list[ActivityRow]:
    return portal.store.list_activity(
        actor=actor.strip() or None, action=action.strip() or None, agency_id=agency.strip() or None, limit=limit
    )


def detail_text(row: ActivityRow, lang: Lang | None = None) -> str:
    """The entry's detail as JSON; on a page (``lang`` given) an error kept in both languages (``error`` and
    ``error_vi``) shows in the page's language only. The CSV keeps both."""
    if not row.detail:
        return ""
    detail = dict(row.detail)
    said_vi = detail.pop("error_vi", None) if lang is not None else None
    if lang == "vi" and isinstance(said_vi, str) and said_vi:
        detail["error"] = said_vi
    return json.dumps(detail, ensure_ascii=False, sort_keys=True)


@route(router, "/activity", access=Access.officer)
def activity(request: Request, actor: str = "", action: str = "", agency: str = "") -> Response:
    portal = portal_of(request)
    rows = _rows(portal, actor, action, agency, PAGE_LIMIT)
    context = {
        "rows": rows,
        "details": {row.id: detail_text(row, lang_of(request)) for row in rows},
        "actor": actor,
        "action": action,
        "agency": agency,
        "actions": KNOWN_ACTIONS,
        "limit": PAGE_LIMIT,
        "query": request.url.query,
    }
    return render(request, "activity.html.j2", context)


@route(router, "/activity.csv", access=Access.officer)
def activity_csv(request: Request, actor: str = "", action: str = "", agency: str = "") -> Response:
    portal = portal_of(request)
    rows = _rows(portal, actor, action, agency, None)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        cells = (
            row.at.isoformat(),
            row.actor,
            row.role or "",
            row.action,
            row.agency_id or "",
            row.target,
            detail_text(row),
            row.remote_addr or "",
        )
        writer.writerow([spreadsheet_safe(cell) for cell in cells])
    filters = {"actor": actor, "action": action, "agency_id": agency}
    detail = {"kind": "activity_csv", "rows": len(rows), **{k: v.strip() for k, v in filters.items() if v.strip()}}
    portal.log(request, "export", "activity.csv", detail=detail)
    name = f"activity-{portal.now():%Y%m%d-%H%M%S}.csv"
    return Response(buffer.getvalue(), media_type="text/csv", headers={"Content-Disposition": attachment(name)})
