"""The portal's own level-3 controls: password hashes, session tokens, signed cookies, CSRF tokens and the
response headers every page carries."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, Signer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auditor.errors import ConfigError
from auditor.foreign import os_error_as_is
from auditor.said import said

SESSION_COOKIE = "auditor_session"
LOGIN_COOKIE = "auditor_login"  # the login form's CSRF token, before there is a session
LANG_COOKIE = "auditor_lang"
_HASHER = PasswordHasher()  # argon2id with the library's current parameters
_DUMMY_HASH = _HASHER.hash("no such user: compared anyway, so timing tells nothing")

MIN_PASSWORD = 12


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ConfigError(said("err_password_short", n=MIN_PASSWORD))
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (an unknown user is checked against a dummy hash)."""
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_secret(path: Path) -> bytes:
    """The installation's cookie-signing secret: read from ``path``, created there (0600) on first start."""
    try:
        secret = path.read_bytes().strip()
    except FileNotFoundError:
        secret = _create_secret(path)
    except OSError as exc:
        raise ConfigError(said("err_portal_secret_unreadable", path=path, problem=os_error_as_is(exc))) from None
    if len(secret) < 32:
        raise ConfigError(said("err_portal_secret_short", path=path, n=32))
    if path.stat().st_mode & 0o077:
        raise ConfigError(said("err_portal_secret_open", path=path))
    return secret


def _create_secret(path: Path) -> bytes:
    """A new secret, written whole before it appears under ``path`` (a hard link of a finished private file), so
    a portal and a scheduler starting together never read half a secret: the one that links second reads the
    first one's."""
    secret = secrets.token_hex(32).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, written = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secret + b"\n")
            try:
                os.link(written, path)
            except FileExistsError:
                return path.read_bytes().strip()
        finally:
            os.unlink(written)
    except OSError as exc:
        raise ConfigError(said("err_portal_secret_uncreatable", path=path, problem=os_error_as_is(exc))) from None
    return secret


class CookieSigner:
    """Signs cookie values with the installation secret; CSRF tokens are derived from the session token."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._signer = Signer(secret, salt="auditor-portal-cookie")

    def sign(self, value: str) -> str:
        return self._signer.sign(value).decode()

    def unsign(self, signed: str | None) -> str | None:
        if not signed:
            return None
        try:
            return self._signer.unsign(signed).decode()
        except BadSignature:
            return None

    def csrf_token(self, session_token: str) -> str:
        return hmac.new(self._secret, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def same_token(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


class SecurityHeaders:
    """Every response: a CSP without inline script, no framing, no sniffing, no referrer, no caching of
    pages (they hold audit results); HSTS when the portal itself speaks TLS."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in dict(self.headers)]
                headers += self.headers
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
