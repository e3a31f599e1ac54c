"""Signing in and out (lockout after the profile's failed attempts), the home page by role, the language."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from auditor.portal.access import Access, principal, route
from auditor.portal.context import portal_of
from auditor.portal.security import (
    LANG_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    new_token,
    same_token,
    token_digest,
    verify_password,
)
from auditor.portal.web import render

router = APIRouter()
FAR_FUTURE = timedelta(days=365 * 100)  # a lockout with no automatic end: only an officer unlocks


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute or scheme-relative URL (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@route(router, "/login", access=Access.public)
def login_form(request: Request, next: str = "/") -> Response:
    token = new_token()
    response = render(request, "login.html.j2", {"login_token": token, "next": _safe_next(next), "error": None})
    portal = portal_of(request)
    response.set_cookie(
        LOGIN_COOKIE,
        portal.signer.sign(token),
        httponly=True,
        samesite="strict",
        secure=portal.config.secure_cookies,
        max_age=3600,
    )
    return response


@route(router, "/login", access=Access.public, methods=("POST",))
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=512)],
    login_token: Annotated[str, Form(max_length=128)],
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    portal = portal_of(request)
    expected = portal.signer.unsign(request.cookies.get(LOGIN_COOKIE))
    if expected is None or not same_token(expected, login_token):
        return render(request, "error.html.j2", {"status": 403}, status=403)
    now = portal.now()
    stored = portal.store.password_hash(username)
    user = portal.store.get_user(username) if stored is not None else None
    locked = user is not None and user.locked_until is not None and user.locked_until > now
    valid = verify_password(stored, password)  # always run: timing does not tell which names exist
    if user is None or user.disabled or locked or not valid:
        reason = "locked" if locked else "disabled" if user is not None and user.disabled else "bad_credentials"
        if user is not None and not locked and not user.disabled and not valid:
            failed = user.failed_logins + 1
            lock = failed >= portal.lockout_attempts
            until = now + (timedelta(seconds=portal.lockout_seconds) if portal.lockout_seconds else FAR_FUTURE)
            portal.store.update_user(username, failed_logins=failed, locked_until=until if lock else None)
            if lock:
                reason = "locked_now"
        portal.log(request, "login_failed", username, detail={"reason": reason}, actor=username[:64] or "anonymous")
        context = {"login_token": login_token, "next": _safe_next(next), "error": "login_failed"}
        return render(request, "login.html.j2", context, status=401)
    portal.store.update_user(username, failed_logins=0, locked_until=None)
    token = new_token()
    portal.store.open_session(token_digest(token), user.id, now, portal.client_addr(request))
    portal.log(request, "login", username, agency_id=user.agency_id, actor=username)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        portal.signer.sign(token),
        httponly=True,
        samesite="strict",
        secure=portal.config.secure_cookies,
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@route(router, "/logout", access=Access.signed_in, methods=("POST",))
def logout(request: Request) -> Response:
    portal = portal_of(request)
    who = principal(request)
    portal.store.end_session(who.session_digest, portal.now())
    portal.log(request, "logout", who.user.username)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@route(router, "/", access=Access.signed_in)
def home(request: Request) -> Response:
    user = principal(request).user
    if user.role == "agency":
        return RedirectResponse(f"/agencies/{user.agency_id}", status_code=303)
    return RedirectResponse("/dashboard", status_code=303)


@route(router, "/lang/{code}", access=Access.public)
def choose_language(request: Request, code: str, next: str = "/") -> Response:
    response = RedirectResponse(_safe_next(next), status_code=303)
    portal = portal_of(request)
    response.set_cookie(
        LANG_COOKIE, "en" if code == "en" else "vi", samesite="strict", secure=portal.config.secure_cookies
    )
    return response
