"""Who may open which page. Every route is declared with ``route(...)``, which records its access rule on
the endpoint and enforces it (sign-in, role, the agency a resource belongs to, CSRF on every change) before
the handler runs. The authorization tests read the same rules from the app's routes, so a route without
one cannot be added unnoticed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from auditor.errors import NotFoundError
from auditor.portal.security import SESSION_COOKIE, same_token, token_digest
from auditor.store.views import UserRow

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = frozenset({"GET", "HEAD"})
FORM_OVERHEAD_BYTES = 64 * 1024  # what a form adds around its largest upload (fields, part headers)


class Access(StrEnum):
    public = "public"  # anyone, signed in or not (sign-in page, language switch)
    signed_in = "signed_in"  # any signed-in user
    read_all = "read_all"  # the officer and the department
    agency_read = "agency_read"  # the officer, the department, or a user of the resource's agency
    agency_write = "agency_write"  # the officer, or a user of the resource's agency (not the department)
    officer = "officer"  # the officer alone


class Scope(StrEnum):
    """Which agency a route's resource belongs to, read from its path."""

    none = "none"
    agency = "agency"  # {agency_id}
    finding = "finding"  # {finding_id}
    submission = "submission"  # {submission_id}


@dataclass(frozen=True)
class Principal:
    user: UserRow
    session_digest: str
    csrf: str

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def reads_all(self) -> bool:
        return self.user.role in ("officer", "department")

    def may_see(self, agency_id: str) -> bool:
        return self.reads_all or self.user.agency_id == agency_id


class NotSignedIn(Exception):
    """Raised by a guard; the app sends a browser to the sign-in page (or answers 401)."""


@dataclass(frozen=True)
class Rule:
    access: Access
    scope: Scope


def route(
    router: APIRouter,
    path: str,
    *,
    access: Access,
    scope: Scope = Scope.none,
    methods: tuple[str, ...] = ("GET",),
    **kwargs: Any,
) -> Callable[[F], F]:
    """Declare a page: its path, methods and access rule (enforced by a guard that runs first)."""

    def register(endpoint: F) -> F:
        endpoint.__auditor_rule__ = Rule(access, scope)  # type: ignore[attr-defined]
        router.add_api_route(
            path, endpoint, methods=list(methods), dependencies=[Depends(_guard(Rule(access, scope)))], **kwargs
        )
        return endpoint

    return register


def rule_of(endpoint: Callable[..., Any]) -> Rule | None:
    return getattr(endpoint, "__auditor_rule__", None)


def principal(request: Request) -> Principal:
    """The signed-in user of a request whose route requires one (set by the guard)."""
    found: Principal | None = getattr(request.state, "principal", None)
    if found is None:
        raise NotSignedIn()
    return found


def optional_principal(request: Request) -> Principal | None:
    return getattr(request.state, "principal", None)


def _guard(rule: Rule) -> Callable[[Request], Any]:
    async def guard(request: Request) -> None:
        portal = request.app.state.portal
        if request.method not in SAFE_METHODS:
            _refuse_oversized(request, portal.config.upload_max_bytes + FORM_OVERHEAD_BYTES)
        found = await run_in_threadpool(_signed_in, request, portal)
        request.state.principal = found
        if rule.access is Access.public:
            return
        if found is None:
            raise NotSignedIn()
        if request.method not in SAFE_METHODS and not same_token(found.csrf, await _csrf_given(request)):
            raise HTTPException(status_code=403, detail="csrf")
        if rule.access is Access.officer and found.role != "officer":
            raise HTTPException(status_code=403)
        if rule.access is Access.read_all and not found.reads_all:
            raise HTTPException(status_code=403)
        if rule.access in (Access.agency_read, Access.agency_write):
            if rule.access is Access.agency_write and found.role == "department":
                raise HTTPException(status_code=403)
            agency_id = await run_in_threadpool(_agency_of, rule.scope, request, portal)
            if agency_id is not None and not found.may_see(agency_id):
                raise HTTPException(status_code=404)  # another agency's resources do not exist for you

    return guard


def _signed_in(request: Request, portal: Any) -> Principal | None:
    token = portal.signer.unsign(request.cookies.get(SESSION_COOKIE))
    if token is None:
        return None
    digest = token_digest(token)
    user = portal.store.session_user(digest, portal.now(), portal.idle_seconds)
    if user is None:
        return None
    return Principal(user=user, session_digest=digest, csrf=portal.signer.csrf_token(token))


def _refuse_oversized(request: Request, limit: int) -> None:
    """Refuse a body before anything reads it: one declared larger than ``limit`` (413), or one of unknown length
    (chunked, 411), which would otherwise be spooled whole while the form is parsed for its CSRF token."""
    length = request.headers.get("content-length")
    if length is None:
        if "transfer-encoding" in request.headers:
            raise HTTPException(status_code=411)
        return
    if not length.isdigit() or int(length) > limit:
        raise HTTPException(status_code=413)


async def _csrf_given(request: Request) -> str | None:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


def _agency_of(scope: Scope, request: Request, portal: Any) -> str | None:
    params = request.path_params
    try:
        if scope is Scope.agency:
            return str(params["agency_id"])
        if scope is Scope.finding:
            return str(portal.store.get_finding(int(params["finding_id"])).agency_id)
        if scope is Scope.submission:
            return str(portal.store.get_submission(int(params["submission_id"])).agency_id)
    except (NotFoundError, ValueError):
        raise HTTPException(status_code=404) from None
    return None
