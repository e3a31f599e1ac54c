"""Downloads: an agency's report of one run (HTML or PDF, in the page's language) and a run's machine-readable
exports (JSON, CSV). Each is a file to save (``Content-Disposition: attachment``) and each is logged."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from auditor.errors import NotFoundError
from auditor.portal.access import Access, Scope, route
from auditor.portal.context import portal_of
from auditor.portal.downloads import attachment
from auditor.portal.web import lang_of
from auditor.reports import build_agency_report, render_html, render_pdf
from auditor.reports.exports import export_csv, export_json
from auditor.reports.models import AgencyReport
from auditor.reports.render import RenderError
from auditor.store import RunSummary, Store

router = APIRouter()


def exact_run(store: Store, run_id: str) -> RunSummary:
    """The run with exactly this id (no prefixes or ``latest`` in addresses); 404 otherwise."""
    try:
        run = store.get_run(run_id)
    except NotFoundError:
        raise HTTPException(status_code=404) from None
    if run.id != run_id:
        raise HTTPException(status_code=404)
    return run


def _report(request: Request, agency_id: str, run_id: str) -> AgencyReport:
    portal = portal_of(request)
    run = exact_run(portal.store, run_id)
    owner = portal.agency_owner(agency_id, run.id)  # the inventory's owner and zone, else as the run recorded them
    try:
        return build_agency_report(
            portal.store,
            portal.content,
            run.id,
            agency_id,
            lang=lang_of(request),
            now=portal.now(),
            contact=owner.contact,
            settings=owner.settings,
        )
    except NotFoundError:  # the run did not cover this agency
        raise HTTPException(status_code=404) from None


def _logged(request: Request, kind: str, run_id: str, agency_id: str | None = None) -> None:
    portal_of(request).log(
        request, "download", request.url.path, agency_id=agency_id, detail={"kind": kind, "run_id": run_id}
    )


@route(router, "/agencies/{agency_id}/reports/{run_id}.html", access=Access.agency_read, scope=Scope.agency)
def report_html(request: Request, agency_id: str, run_id: str) -> Response:
    html = render_html(_report(request, agency_id, run_id))
    _logged(request, "report_html", run_id, agency_id)
    name = f"bao-cao-{agency_id}-{run_id}-{lang_of(request)}.html"
    return Response(html, media_type="text/html", headers={"Content-Disposition": attachment(name)})


@route(router, "/agencies/{agency_id}/reports/{run_id}.pdf", access=Access.agency_read, scope=Scope.agency)
def report_pdf(request: Request, agency_id: str, run_id: str) -> Response:
    html = render_html(_report(request, agency_id, run_id))
    try:
        pdf = render_pdf(html)
    except RenderError:
        raise HTTPException(status_code=503) from None
    _logged(request, "report_pdf", run_id, agency_id)
    name = f"bao-cao-{agency_id}-{run_id}-{lang_of(request)}.pdf"
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": attachment(name)})


@route(router, "/exports/{run_id}.json", access=Access.read_all)
def run_json(request: Request, run_id: str) -> Response:
    portal = portal_of(request)
    text = export_json(portal.store, exact_run(portal.store, run_id).id)
    _logged(request, "export_json", run_id)
    return Response(text, media_type="application/json", headers={"Content-Disposition": attachment(f"{run_id}.json")})


@route(router, "/exports/{run_id}.csv", access=Access.read_all)
def run_csv(request: Request, run_id: str) -> Response:
    portal = portal_of(request)
    text = export_csv(portal.store, exact_run(portal.store, run_id).id, content=portal.content)
    _logged(request, "export_csv", run_id)
    return Response(text, media_type="text/csv", headers={"Content-Disposition": attachment(f"{run_id}.csv")})
