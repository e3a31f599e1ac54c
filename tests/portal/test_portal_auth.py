"""The portal's own level-3 controls: sign-in, lockout, idle sessions, CSRF, cookies, headers."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.portal.security import CONTENT_SECURITY_POLICY, SESSION_COOKIE
from tests.portal.support import PASSWORD, PortalHarness, form_token, make_portal, sign_in


@pytest.fixture
def portal(tmp_path: Path) -> PortalHarness:
    return make_portal(tmp_path)


def _try(portal: PortalHarness, username: str, password: str) -> int:
    client = portal.client()
    token = form_token(client.get("/login").text, "login_token")
    return client.post("/login", data={"username": username, "password": password, "login_token": token}).status_code


def test_sign_in_sets_a_hardened_cookie_and_logs_it(portal: PortalHarness) -> None:
    client = portal.client()
    sign_in(client, "officer1")
    cookie = next(c for c in client.cookies.jar if c.name == SESSION_COOKIE)
    assert cookie.secure and cookie.has_nonstandard_attr("HttpOnly")
    assert "samesite=strict" in str(cookie._rest).lower() or cookie.get_nonstandard_attr("SameSite") == "strict"
    (entry,) = [a for a in portal.store.list_activity() if a.action == "login"]
    assert entry.actor == "officer1" and entry.remote_addr == "testclient"
    assert client.get("/").headers["location"] == "/dashboard"


def test_the_agency_user_lands_on_its_agency(portal: PortalHarness) -> None:
    assert portal.signed_in("bst-it").get("/").headers["location"] == "/agencies/baosoctrang"


def test_wrong_password_and_unknown_user_look_the_same(portal: PortalHarness) -> None:
    assert _try(portal, "officer1", "wrong password at all") == 401
    assert _try(portal, "nobody-at-all", "wrong password at all") == 401
    failed = [a for a in portal.store.list_activity() if a.action == "login_failed"]
    assert {a.actor for a in failed} == {"officer1", "nobody-at-all"}


def test_lockout_after_the_profiles_threshold_then_unlock_in_time(portal: PortalHarness) -> None:
    attempts = portal.app.state.portal.lockout_attempts
    for _ in range(attempts):
        assert _try(portal, "lanhdao", "not the password!") == 401
    assert _try(portal, "lanhdao", PASSWORD) == 401  # locked: even the right password is refused
    assert portal.store.get_user("lanhdao").locked_until is not None
    portal.clock.advance(seconds=portal.app.state.portal.lockout_seconds + 1)
    assert _try(portal, "lanhdao", PASSWORD) == 303
    assert portal.store.get_user("lanhdao").failed_logins == 0


def test_idle_session_expires_after_the_profiles_timeout(portal: PortalHarness) -> None:
    client = portal.client()
    sign_in(client, "officer1")
    idle = portal.app.state.portal.idle_seconds
    portal.clock.advance(seconds=idle - 5)
    assert client.get("/").status_code == 303 and client.get("/").headers["location"] == "/dashboard"
    portal.clock.advance(seconds=idle + 1)
    answer = client.get("/")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_state_changes_need_the_csrf_token(portal: PortalHarness) -> None:
    client = portal.client()
    sign_in(client, "officer1")
    assert client.post("/logout").status_code == 403
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert client.post("/logout", headers={"x-csrf-token": "forged"}).status_code == 403
    assert client.get("/").headers["location"] == "/dashboard"  # refused changes left the session alone
    signer = portal.app.state.portal.signer
    right = signer.csrf_token(signer.unsign(client.cookies.get(SESSION_COOKIE)))
    assert client.post("/logout", data={"csrf_token": right}).status_code == 303


def test_logout_ends_the_session_server_side(portal: PortalHarness) -> None:
    client = portal.client()
    sign_in(client, "officer1")
    stolen = client.cookies.get(SESSION_COOKIE)
    page = client.get("/login?next=/")  # any page with the session's CSRF token
    assert page.status_code == 200
    csrf = portal.app.state.portal.signer.csrf_token(portal.app.state.portal.signer.unsign(stolen))
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    replay = portal.client()
    replay.cookies.set(SESSION_COOKIE, stolen, domain="portal.test")
    assert replay.get("/").status_code == 303 and replay.get("/").headers["location"].startswith("/login")


def test_login_form_needs_its_own_token_and_next_stays_on_site(portal: PortalHarness) -> None:
    client = portal.client()
    client.get("/login")
    forged = client.post("/login", data={"username": "officer1", "password": PASSWORD, "login_token": "x"})
    assert forged.status_code == 403
    token = form_token(client.get("/login").text, "login_token")
    answer = client.post(
        "/login",
        data={"username": "officer1", "password": PASSWORD, "login_token": token, "next": "//evil.example/x"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_every_response_carries_the_security_headers(portal: PortalHarness) -> None:
    for answer in (
        portal.client().get("/login"),
        portal.client().get("/nowhere"),
        portal.signed_in("officer1").get("/"),
    ):
        headers = answer.headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "'unsafe-inline'" not in headers["content-security-policy"].split("script-src")[1].split(";")[0]
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"


def test_a_disabled_user_is_signed_out(portal: PortalHarness) -> None:
    client = portal.client()
    sign_in(client, "dai-it")
    portal.store.update_user("dai-it", disabled=True)
    assert client.get("/").headers["location"].startswith("/login")
    assert _try(portal, "dai-it", PASSWORD) == 401
