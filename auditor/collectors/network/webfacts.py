"""Facts for website checks, from one SiteReport (see auditor/netfacts.py for the conventions)."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from auditor.collectors.network.facts import fact
from auditor.collectors.network.web import Exchange, SiteReport, is_listing, page_generator
from auditor.evaluation.observations import Observation

SOURCE = "website agent (passive HTTP)"
_DISCLOSING = ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version", "x-generator")


def _show(exchange: Exchange) -> str:
    return f"{exchange.method} {exchange.url} → {exchange.status if exchange.status is not None else exchange.error}"


def exchanges_log(report: SiteReport) -> Observation:
    """Every request made, its status and response headers: the raw evidence of the site."""
    lines = [f"{report.requests} request(s)"]
    for exchange in (report.home, report.plain_http, report.trace, *report.admin, *report.directories):
        if exchange is None:
            continue
        lines.append(_show(exchange))
        lines.extend(f"  {key}: {value}" for key, value in exchange.headers)
    return fact("web.exchanges", SOURCE, lines)


def _header_fact(name: str, header: str, home: Exchange) -> Observation:
    values = home.all_headers(header)
    return fact(name, f"{SOURCE}: {_show(home)}", [f"{header}: {v}" for v in values] or [f"{header} absent"])


def _redirect(report: SiteReport) -> Observation:
    plain = report.plain_http
    if plain is None:
        if urlsplit(report.url).scheme == "http":
            return fact("web_https_redirect", SOURCE, [f"site declared as {report.url}: served without TLS"])
        return fact("web_https_redirect", SOURCE, [], not_applicable="no plain-HTTP form to check")
    location = plain.header("location") or ""
    if plain.status is None:
        line = f"http not served ({plain.error})"
    elif 300 <= plain.status < 400 and location.lower().startswith("https://"):
        line = f"redirects to {location} ({plain.status})"
    else:
        line = f"no redirect to https: {plain.status} {location}".rstrip()
    return fact("web_https_redirect", f"{SOURCE}: {_show(plain)}", [line])


def _cookies(home: Exchange) -> Observation:
    lines = []
    for raw in home.all_headers("set-cookie"):
        name = raw.split("=", 1)[0].strip()
        attrs = {part.strip().split("=", 1)[0].lower(): part.strip() for part in raw.split(";")[1:]}
        samesite = attrs.get("samesite", "").split("=", 1)[-1].lower() if "samesite" in attrs else "absent"
        secure = "yes" if "secure" in attrs else "no"
        httponly = "yes" if "httponly" in attrs else "no"
        lines.append(f"{name}: secure={secure} httponly={httponly} samesite={samesite or 'absent'}")
    if not lines:
        return fact("web_cookies", SOURCE, [], not_applicable="the home page sets no cookie")
    SimpleCookie()  # parsing stays lenient on purpose: real sites send cookies SimpleCookie rejects
    return fact("web_cookies", f"{SOURCE}: {_show(home)}", lines)


def _frame(home: Exchange) -> Observation:
    lines = [f"x-frame-options: {v}" for v in home.all_headers("x-frame-options")]
    for policy in home.all_headers("content-security-policy"):
        match = re.search(r"frame-ancestors\s+([^;]+)", policy, re.IGNORECASE)
        if match:
            lines.append(f"frame-ancestors {match.group(1).strip()}")
    return fact("web_frame_options", f"{SOURCE}: {_show(home)}", lines or ["x-frame-options absent"])


def _disclosure(home: Exchange) -> Observation:
    lines = [f"{key.lower()}: {value}" for key, value in home.headers if key.lower() in _DISCLOSING]
    return fact("web_version_headers", f"{SOURCE}: {_show(home)}", lines or ["no server or framework header"])


def _listing(report: SiteReport) -> Observation:
    lines = []
    for exchange in (report.home, *report.directories):
        path = urlsplit(exchange.url).path or "/"
        state = "listing" if is_listing(exchange) else f"no listing ({exchange.status or exchange.error})"
        lines.append(f"{path}: {state}")
    return fact("web_directory_listing", SOURCE, lines)


def _admin(report: SiteReport) -> Observation:
    lines = []
    for exchange in report.admin:
        path = urlsplit(exchange.url).path
        location = (exchange.header("location") or "").lower()
        reachable = exchange.status in (200, 401) or (
            exchange.status is not None and 300 <= exchange.status < 400 and "login" in location
        )
        lines.append(f"{path}: {exchange.status or exchange.error} {'reachable' if reachable else 'not public'}")
    return fact("web_admin_paths", SOURCE, lines)


def _cms(home: Exchange) -> Observation:
    generator = page_generator(home.body)
    if generator is None:
        return fact("web_cms", SOURCE, [], not_applicable="the home page names no CMS (no generator meta tag)")
    return fact("web_cms", f"{SOURCE}: <meta name=generator> of {home.url}", [f"generator: {generator}"])


def site_facts(report: SiteReport) -> list[Observation]:
    home = report.home
    facts = [exchanges_log(report), _redirect(report), _listing(report), _admin(report)]
    facts.append(
        fact("web_trace", f"{SOURCE}: {_show(report.trace)}", [f"TRACE /: {report.trace.status or report.trace.error}"])
    )
    if home.status is None:
        return facts
    facts += [
        _header_fact("web_csp", "content-security-policy", home),
        _header_fact("web_content_type_options", "x-content-type-options", home),
        _header_fact("web_referrer_policy", "referrer-policy", home),
        _frame(home),
        _disclosure(home),
        _cookies(home),
        _cms(home),
    ]
    if urlsplit(report.url).scheme == "https":
        facts.append(_header_fact("web_hsts", "strict-transport-security", home))
    else:
        facts.append(fact("web_hsts", SOURCE, [], not_applicable="HSTS applies to https sites"))
    return facts
