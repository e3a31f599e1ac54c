"""A portal over a temporary store with one account per role, a clock the test moves, and sign-in helpers.
No lab and no network: HTTP through Starlette's test client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from auditor.content.loader import Content, load_content
from auditor.portal.app import create_app
from auditor.portal.config import PortalConfig
from auditor.portal.security import hash_password
from auditor.store import Store, open_store

PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 12, 1, 2, 0, 0, tzinfo=UTC)
AGENCIES = {
    "baosoctrang": ("Báo Sóc Trăng", "Soc Trang Newspaper"),
    "dai-ptth": ("Đài PT-TH Sóc Trăng", "Soc Trang Radio"),
}
ACCOUNTS = {
    "officer1": ("officer", None),
    "lanhdao": ("department", None),
    "bst-it": ("agency", "baosoctrang"),
    "dai-it": ("agency", "dai-ptth"),
}


@cache
def content() -> Content:
    return load_content()


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class PortalHarness:
    app: FastAPI
    store: Store
    clock: Clock
    workdir: Path
    clients: dict[str, TestClient] = field(default_factory=dict)

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="https://portal.test", follow_redirects=False)

    def signed_in(self, username: str) -> TestClient:
        """A client with a live session of ``username`` (one per user, reused)."""
        if username not in self.clients:
            client = self.client()
            sign_in(client, username)
            self.clients[username] = client
        return self.clients[username]


def write_inventory(path: Path) -> Path:
    agencies = [
        {
            "id": agency_id,
            "name": {"vi": vi, "en": en},
            "contact": {"name": "Phòng Kỹ thuật", "email": f"kythuat@{agency_id}.example"},
            "hosts": [{"name": f"{agency_id}-web", "address": "10.200.250.2", "use_agent": True}],
        }
        for agency_id, (vi, en) in AGENCIES.items()
    ]
    path.write_text(yaml.safe_dump({"agencies": agencies}, allow_unicode=True), encoding="utf-8")
    return path


def make_portal(workdir: Path, *, store: Store | None = None) -> PortalHarness:
    store = store or open_store(f"sqlite:///{workdir / 'portal.db'}")
    known = store.known_agencies()
    if not known:  # agencies become known to the store when first audited; record them as an audit would
        from auditor.evaluation.findings import HostResult, HostStatus
        from auditor.inventory import load_inventory

        inventory = load_inventory(write_inventory(workdir / "inventory.yml"))
        run_id = store.start_run("test", content().version, "0" * 64, {})
        for agency in inventory.agencies:
            store.save_host_result(
                run_id,
                agency,
                HostResult(
                    agency_id=agency.id,
                    host_name=f"agency:{agency.id}",
                    kind="agency",
                    address="",
                    status=HostStatus.ok,
                    started_at=T0,
                    finished_at=T0,
                ),
            )
        store.finish_run(run_id)
    elif not (workdir / "inventory.yml").exists():
        write_inventory(workdir / "inventory.yml")
    for username, (role, agency_id) in ACCOUNTS.items():
        if username not in {u.username for u in store.list_users()}:
            store.add_user(username, username.title(), role, hash_password(PASSWORD), T0, agency_id=agency_id)  # type: ignore[arg-type]
    secret = workdir / "portal.key"
    config = PortalConfig(
        db_url=f"sqlite:///{workdir / 'portal.db'}",
        inventory=workdir / "inventory.yml",
        known_hosts=workdir / "known_hosts",
        secret_file=secret,
        scheduler=False,
    )
    clock = Clock()
    app = create_app(config, store=store, content=content(), clock=clock)
    return PortalHarness(app=app, store=store, clock=clock, workdir=workdir)


_HIDDEN = re.compile(r'name="(login_token|csrf_token)" value="([^"]+)"')


def form_token(html: str, name: str = "csrf_token") -> str:
    for found_name, value in _HIDDEN.findall(html):
        if found_name == name:
            return value
    raise AssertionError(f"no {name} in the page")


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    page = client.get("/login")
    token = form_token(page.text, "login_token")
    answer = client.post("/login", data={"username": username, "password": password, "login_token": token, "next": "/"})
    assert answer.status_code == 303, answer.text


def csrf_of(client: TestClient, path: str = "/") -> str:
    """The CSRF token of the signed-in client, read from a page it can open."""
    page = client.get(path, follow_redirects=True)
    return form_token(page.text)


def iter_roles() -> Iterator[str]:
    yield from ACCOUNTS
