"""The Celery application both sides share: the broker (Redis), how tasks are acknowledged and redelivered.

The broker URL is given without its password (it would show in process lists and logs); the password comes
from an environment variable, ``AUDITOR_BROKER_PASSWORD`` by default. ``rediss://`` is Redis over TLS, verified
against the system's CAs or ``ssl_ca_certs=...`` in the URL's query.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from auditor.errors import ConfigError
from auditor.foreign import foreign, theirs

BROKER_URL_ENV = "AUDITOR_BROKER_URL"
BROKER_PASSWORD_ENV = "AUDITOR_BROKER_PASSWORD"  # noqa: S105 - the variable's name, not a password
SCHEMES = ("redis", "rediss")


def broker_url(url: str | None = None, password_env: str = BROKER_PASSWORD_ENV) -> str:
    """The broker URL to connect with: ``url`` (or ``$AUDITOR_BROKER_URL``) with the password from the
    environment. A URL that carries a password itself is refused: it would be seen by anyone listing processes."""
    given = url or os.environ.get(BROKER_URL_ENV)
    if not given:
        raise ConfigError(foreign("broker_missing", variable=BROKER_URL_ENV))
    try:
        parts = urlsplit(given)
        port = parts.port  # raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ConfigError(foreign("broker_url_unreadable", error=theirs("python", str(exc)))) from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ConfigError(foreign("broker_url_form"))
    if parts.password:
        raise ConfigError(foreign("broker_password_in_url", variable=password_env))
    password = os.environ.get(password_env)
    if not password:
        return given
    user = quote(parts.username or "", safe="")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = f"{user}:{quote(password, safe='')}@{host}" + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redacted(url: str) -> str:
    """The URL as it may be shown or logged: no password."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else "***@"
    return urlunsplit((parts.scheme, user + netloc, parts.path, parts.query, parts.fragment))


def make_app(url: str, *, visibility_timeout_s: float = 3600.0, **conf: Any) -> Any:
    """A Celery app on this broker (also its result backend). Tasks are acknowledged only once they ended
    (``acks_late``) and put back when the worker running them is lost, so no collection is lost with a
    worker; an unacknowledged message goes back to the queue after ``visibility_timeout_s`` (keep it above
    the longest collection, or a slow host is collected twice: harmless, the result is shared by task id)."""
    from celery import Celery  # only where zones are used

    app = Celery("auditor", broker=url, backend=url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_track_started=True,
        worker_prefetch_multiplier=1,  # a worker takes a host only when it has a free slot
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": visibility_timeout_s},
        result_backend_transport_options={"visibility_timeout": visibility_timeout_s},
        result_expires=24 * 3600,
        task_create_missing_queues=True,
        worker_hijack_root_logger=False,
        **conf,
    )
    return app
