"""The website agent: passive HTTP requests only, a bounded number per site.

GET and HEAD of ordinary pages, one TRACE of "/" (to see whether the method is refused), GETs of a
few well-known admin paths and of directories the home page links to. No payloads, no forms, no
credentials, no brute force. Certificates are not judged here (the TLS agent does that).
"""

from __future__ import annotations

import http.client
import re
import ssl
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from auditor.foreign import os_error_key

ADMIN_PATHS = ("/wp-admin/", "/administrator/", "/phpmyadmin/", "/manager/html")
COMMON_DIRS = ("/uploads/", "/files/", "/images/", "/backup/")
BODY_CAP = 256 * 1024
USER_AGENT = "auditor-web/1 (passive compliance check)"
_LISTING = re.compile(r"<title>\s*(index of /|directory listing for)", re.IGNORECASE)


class Exchange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str
    url: str
    status: int | None  # None: no answer
    headers: tuple[tuple[str, str], ...] = ()
    error: str = ""
    cause: str = ""  # the error's words (a key of auditor/locale/foreign.yml), when there are words for it
    body: str = Field(default="", repr=False)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def all_headers(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]


class SiteReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    home: Exchange
    plain_http: Exchange | None  # the http:// form of an https site
    trace: Exchange
    admin: tuple[Exchange, ...]
    directories: tuple[Exchange, ...]
    requests: int


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.generator: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.hrefs.append(str(values["href"]))
        if tag == "meta" and (values.get("name") or "").lower() == "generator" and values.get("content"):
            self.generator = str(values["content"])


class WebClient:
    """http.client with a request budget; certificate checks are off on purpose (see module doc)."""

    def __init__(self, max_requests: int = 16, timeout: float = 10.0) -> None:
        self.max_requests = max_requests
        self.timeout = timeout
        self.used = 0
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._tls.check_hostname = False
        self._tls.verify_mode = ssl.CERT_NONE

    def request(self, method: str, url: str) -> Exchange:
        if self.used >= self.max_requests:
            return Exchange(method=method, url=url, status=None, error="request budget exhausted")
        self.used += 1
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            return Exchange(method=method, url=url, status=None, error="not an http(s) URL")
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname, parts.port or 443, timeout=self.timeout, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=self.timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(method, path, headers={"User-Agent": USER_AGENT, "Accept": "text/html,*/*"})
            response = connection.getresponse()
            body = response.read(BODY_CAP) if method != "HEAD" else b""
            return Exchange(
                method=method,
                url=url,
                status=response.status,
                headers=tuple(response.getheaders()),
                body=body.decode("utf-8", errors="replace"),
            )
        except (OSError, http.client.HTTPException) as exc:
            cause = (os_error_key(exc) if isinstance(exc, OSError) else None) or ""
            error = f"{type(exc).__name__}: {exc}"[:200]
            return Exchange(method=method, url=url, status=None, error=error, cause=cause)
        finally:
            connection.close()


def page_generator(body: str) -> str | None:
    parser = _Links()
    parser.feed(body)
    return parser.generator


def _linked_dirs(base: str, body: str, limit: int) -> list[str]:
    parser = _Links()
    parser.feed(body)
    origin = urlsplit(base)
    found: list[str] = []
    for href in parser.hrefs:
        target = urlsplit(urljoin(base, href))
        same_site = (target.scheme, target.netloc) == (origin.scheme, origin.netloc)
        if same_site and target.path.endswith("/") and target.path != "/" and target.path not in found:
            found.append(target.path)
    return found[:limit]


def is_listing(exchange: Exchange) -> bool:
    return exchange.status == 200 and bool(_LISTING.search(exchange.body[:4096]))


def observe_site(url: str, max_requests: int = 16, timeout: float = 10.0) -> SiteReport:
    client = WebClient(max_requests, timeout)
    home = client.request("GET", url)
    parts = urlsplit(url)
    plain = None
    if parts.scheme == "https":
        plain = client.request("GET", parts._replace(scheme="http", netloc=parts.hostname or "").geturl())
    trace = client.request("TRACE", urljoin(url, "/"))
    admin = tuple(client.request("GET", urljoin(url, path)) for path in ADMIN_PATHS)
    dirs = _linked_dirs(url, home.body, 4) or list(COMMON_DIRS)
    directories = tuple(client.request("GET", urljoin(url, path)) for path in dirs[:4])
    return SiteReport(
        url=url,
        home=home,
        plain_http=plain,
        trace=trace,
        admin=admin,
        directories=directories,
        requests=client.used,
    )
