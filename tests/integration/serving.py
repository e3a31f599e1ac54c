"""Real `auditor serve` processes for lab tests: started on a free loopback port, ready when the sign-in page
answers, stopped with SIGTERM; and an officer's HTTP client signed in the way a browser signs in."""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.localnet import free_port, wait_for


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, username: str, password: str) -> tuple[httpx.Client, str]:
        """A signed-in client and its CSRF token."""
        client = httpx.Client(base_url=self.base, follow_redirects=False, timeout=30)
        token = hidden_field(client.get("/login").text, "login_token")
        answer = client.post(
            "/login", data={"username": username, "password": password, "login_token": token, "next": "/runs"}
        )
        assert answer.status_code == 303, answer.text
        return client, hidden_field(client.get("/runs").text, "csrf_token")

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def hidden_field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no {name} in the page"
    return found.group(1)


@contextmanager
def serving(
    arguments: Sequence[Sequence[str]], work: Path, env: dict[str, str] | None = None
) -> Iterator[list[Server]]:
    """One `auditor serve --allow-root` per argument list (the tests run as root for the lab; deployments run
    it as its own user), each on its own port; all stopped on exit."""
    started: list[Server] = []
    try:
        for n, extra in enumerate(arguments, start=1):
            port = free_port()
            log = work / f"serve{n}.log"
            command = [sys.executable, "-m", "auditor", "serve", "--allow-root", "--port", str(port), *extra]
            with log.open("wb") as out:
                process = subprocess.Popen(
                    command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
                )
            started.append(Server(f"http://127.0.0.1:{port}", process, log))
        for server in started:
            wait_for(functools.partial(_ready, server), 60, f"{server.base} to answer")
        yield started
    finally:
        for server in started:
            server.process.send_signal(signal.SIGTERM)
        for server in started:
            try:
                server.process.wait(30)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait(10)


def _ready(server: Server) -> bool:
    if server.process.poll() is not None:
        raise AssertionError(f"the server ended early:\n{server.output()}")
    try:
        return httpx.get(f"{server.base}/login", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
