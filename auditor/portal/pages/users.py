"""The officer manages the portal's accounts: add, disable and enable, change role, set a password. Changing a
role or a password, or disabling, ends the account's sessions; an officer cannot lock themselves out."""

from __future__ import annotations

from typing import Annotated, Literal, cast

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from auditor.errors import ConfigError, NotFoundError
from auditor.portal.access import Access, principal, route
from auditor.portal.accounts import valid_username
from auditor.portal.context import Portal, portal_of
from auditor.portal.security import MIN_PASSWORD, hash_password
from auditor.portal.web import lang_of, render
from auditor.store.views import Role, UserRow

router = APIRouter()
ROLES: tuple[Role, ...] = ("officer", "department", "agency")
Password = Annotated[str, Form(max_length=512)]


def _to_users(key: Literal["notice", "error"], value: str) -> RedirectResponse:
    return RedirectResponse(f"/users?{key}={value}", status_code=303)


def _agencies(portal: Portal) -> set[str]:
    return portal.store.known_agencies() | set(portal.agency_names())


def _role_and_agency(portal: Portal, role: str, agency_id: str) -> tuple[Role, str | None] | str:
    """The role and agency a form asks for, or the error key that refuses it."""
    if role not in ROLES:
        return "user_role"
    if role == "agency":
        if agency_id not in _agencies(portal):
            return "user_agency"
        return "agency", agency_id
    return cast(Role, role), None


def _user(portal: Portal, username: str) -> UserRow:
    try:
        return portal.store.get_user(username)
    except NotFoundError:
        raise HTTPException(status_code=404) from None


@route(router, "/users", access=Access.officer)
def users(request: Request, notice: str = "", error: str = "") -> Response:
    portal, lang = portal_of(request), lang_of(request)
    names = portal.agency_names()
    agencies = sorted((a, names[a].get(lang) if a in names else a) for a in _agencies(portal))
    context = {
        "users": portal.store.list_users(),
        "agencies": agencies,
        "roles": ROLES,
        "now": portal.now(),
        "min_password": MIN_PASSWORD,
        "notice": notice,
        "error": error,
    }
    return render(request, "users.html.j2", context)


@route(router, "/users", access=Access.officer, methods=("POST",))
def add_user(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=16)] = "",
    agency_id: Annotated[str, Form(max_length=64)] = "",
    email: Annotated[str, Form(max_length=200)] = "",
    password: Password = "",
) -> Response:
    portal = portal_of(request)
    try:
        valid_username(username)
    except ConfigError:
        return _to_users("error", "user_name")
    if not display_name.strip():
        return _to_users("error", "user_display_name")
    if email.strip() and "@" not in email:
        return _to_users("error", "user_email")
    wanted = _role_and_agency(portal, role, agency_id)
    if isinstance(wanted, str):
        return _to_users("error", wanted)
    try:
        digest = hash_password(password)
    except ConfigError:
        return _to_users("error", "user_password")
    chosen_role, agency = wanted
    try:
        portal.store.add_user(
            username,
            display_name.strip(),
            chosen_role,
            digest,
            portal.now(),
            agency_id=agency,
            email=email.strip() or None,
        )
    except ConfigError:
        return _to_users("error", "user_exists")
    portal.log(request, "user_add", username, agency_id=agency, detail={"role": chosen_role})
    return _to_users("notice", "user_added")


@route(router, "/users/{username}/disable", access=Access.officer, methods=("POST",))
def disable(request: Request, username: str) -> Response:
    portal = portal_of(request)
    user = _user(portal, username)
    if user.username == principal(request).user.username:
        return _to_users("error", "user_self")
    portal.store.update_user(username, disabled=True)
    portal.store.end_sessions_of(username, portal.now())
    portal.log(request, "user_disable", username, agency_id=user.agency_id)
    return _to_users("notice", "user_disabled")


@route(router, "/users/{username}/enable", access=Access.officer, methods=("POST",))
def enable(request: Request, username: str) -> Response:
    """Enable again (and unlock: the failed sign-ins are forgotten)."""
    portal = portal_of(request)
    user = _user(portal, username)
    portal.store.update_user(username, disabled=False, failed_logins=0, locked_until=None)
    portal.log(request, "user_enable", username, agency_id=user.agency_id)
    return _to_users("notice", "user_enabled")


@route(router, "/users/{username}/role", access=Access.officer, methods=("POST",))
def change_role(
    request: Request,
    username: str,
    role: Annotated[str, Form(max_length=16)] = "",
    agency_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    portal = portal_of(request)
    user = _user(portal, username)
    if user.username == principal(request).user.username:
        return _to_users("error", "user_self")  # an officer does not take away their own role
    wanted = _role_and_agency(portal, role, agency_id)
    if isinstance(wanted, str):
        return _to_users("error", wanted)
    chosen_role, agency = wanted
    portal.store.update_user(username, role=chosen_role, agency_id=agency)
    portal.store.end_sessions_of(username, portal.now())
    detail = {"role": chosen_role, "before": user.role, "agency_before": user.agency_id}
    portal.log(request, "user_role", username, agency_id=agency, detail=detail)
    return _to_users("notice", "user_role_changed")


@route(router, "/users/{username}/password", access=Access.officer, methods=("POST",))
def set_password(request: Request, username: str, password: Password = "") -> Response:
    portal = portal_of(request)
    user = _user(portal, username)
    try:
        digest = hash_password(password)
    except ConfigError:
        return _to_users("error", "user_password")
    now = portal.now()
    portal.store.update_user(username, password_hash=digest, password_changed_at=now)
    portal.store.end_sessions_of(username, now)
    portal.log(request, "user_passwd", username, agency_id=user.agency_id)
    if user.username == principal(request).user.username:
        return RedirectResponse("/login", status_code=303)  # their own sessions ended too: sign in again
    return _to_users("notice", "user_password_set")
