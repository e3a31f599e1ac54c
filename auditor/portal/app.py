"""The portal application: ``create_app(config)`` for uvicorn. Every page module in ``auditor.portal.pages``
contributes its ``router``; every route carries its access rule (``auditor.portal.access``)."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from auditor.content.loader import Content, load_content
from auditor.errors import AuditorError
from auditor.portal import pages
from auditor.portal.access import NotSignedIn, rule_of
from auditor.portal.config import PortalConfig
from auditor.portal.context import Portal, utcnow
from auditor.portal.security import SecurityHeaders, load_secret
from auditor.portal.web import portal_dir, render
from auditor.store import Store, open_store

log = logging.getLogger(__name__)

# Background workers a portal process runs (the scheduler, the mail sender): each is a callable taking the
# Portal and returning a stop function; registered by their packages, started and stopped with the app.
Worker = Callable[[Portal], Callable[[], None]]


def create_app(
    config: PortalConfig,
    *,
    store: Store | None = None,
    content: Content | None = None,
    clock: Callable[[], datetime] = utcnow,
    workers: tuple[Worker, ...] = (),
    tls: bool = False,
) -> FastAPI:
    portal = Portal.make(
        config,
        store or open_store(config.db_url),
        content or load_content(list(config.content_dirs)),
        load_secret(config.secret_file),
        clock,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        _end_orphaned_runs(portal)  # before the scheduler takes any lease over
        stops = [start(portal) for start in workers]
        try:
            yield
        finally:
            for stop in reversed(stops):
                stop()

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.portal = portal
    app.add_middleware(SecurityHeaders, hsts=tls)
    app.mount("/static", StaticFiles(directory=str(portal_dir() / "static")), name="static")
    page_routes: list[APIRoute] = []
    for info in pkgutil.iter_modules(pages.__path__):
        module = importlib.import_module(f"{pages.__name__}.{info.name}")
        app.include_router(module.router)
        page_routes += [r for r in module.router.routes if isinstance(r, APIRoute)]
    app.state.route_table = tuple(page_routes)

    @app.exception_handler(NotSignedIn)
    async def sign_in_first(request: Request, _exc: NotSignedIn) -> Response:
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return render(request, "error.html.j2", {"status": 401}, status=401)

    @app.exception_handler(HTTPException)
    async def error_page(request: Request, exc: HTTPException) -> HTMLResponse:
        return render(request, "error.html.j2", {"status": exc.status_code}, status=exc.status_code)

    _refuse_unguarded(app)
    return app


def _end_orphaned_runs(portal: Portal) -> None:
    """Runs a portal process started and never closed (it stopped, its leases expired) end as interrupted."""
    try:
        ended = portal.store.interrupt_orphaned_runs(portal.now())
    except AuditorError:
        log.exception("cannot look for runs left running by a stopped process")
        return
    if ended:
        log.warning("runs left running by a stopped process, now interrupted: %s", ", ".join(ended))


def route_table(app: FastAPI) -> tuple[APIRoute, ...]:
    """Every route the portal serves: the page routers' and any added to the app itself."""
    own = tuple(r for r in app.routes if isinstance(r, APIRoute))
    pages_routes: tuple[APIRoute, ...] = app.state.route_table
    return pages_routes + own


def _refuse_unguarded(app: FastAPI) -> None:
    """A route without an access rule would be open to anyone: the portal does not start with one."""
    unguarded = [r.path for r in route_table(app) if rule_of(r.endpoint) is None]
    if unguarded:
        raise RuntimeError(f"routes without an access rule (auditor.portal.access.route): {', '.join(unguarded)}")
