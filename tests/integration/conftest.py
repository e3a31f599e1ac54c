"""Integration fixtures: the real lab (network namespaces with real sshd), enrolled host keys."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

LAB_SIZE = 5  # labh1-3: one of each posture for audits; labh4-5: spare hosts (remediation, reports)


@dataclass(frozen=True)
class AuditCall:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def lab():  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        if os.environ.get("AUDITOR_REQUIRE_LAB"):
            pytest.fail("the lab needs root (network namespaces, overlayfs)")
        pytest.skip("the lab needs root (network namespaces, overlayfs)")
    from lab.api import up

    return up(LAB_SIZE)


def lab_inventory(
    lab,
    path: Path,
    roles: dict[str, list[str]] | None = None,
    extra_hosts: list[dict] | None = None,
    agency_inputs: dict | None = None,
    only: list[str] | None = None,
) -> Path:  # type: ignore[no-untyped-def]
    hosts = [
        {
            "name": host.name,
            "address": host.address,
            "port": host.port,
            "user": host.user,
            "key_file": str(lab.key_file),
            "sudo": True,
            "roles": (roles or {}).get(host.name, ["web"]),
        }
        for host in lab.hosts
        if host.name in (only or ["labh1", "labh2", "labh3"])
    ]
    agency = {"id": "lab", "name": {"vi": "Phòng thí nghiệm", "en": "Lab"}, "hosts": hosts + (extra_hosts or [])}
    if agency_inputs:
        agency["inputs"] = agency_inputs
    path.write_text(yaml.safe_dump({"agencies": [agency]}, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit")


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> AuditCall:
    done = subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )
    return AuditCall(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session")
def enrolled(lab, workdir: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """An inventory of the lab and a known-hosts file enrolled through `auditor hosts trust`."""
    # The hardened host moves SSH off port 22; the agency declares which admin ports it uses.
    inventory = lab_inventory(
        lab, workdir / "inventory.yml", roles={"labh2": ["web", "db"]}, agency_inputs={"allowed_ports_admin": "22,2222"}
    )
    known_hosts = workdir / "known_hosts"
    call = run_cli("hosts", "trust", "--inventory", str(inventory), "--known-hosts", str(known_hosts), "--yes")
    assert call.returncode == 0, call.stderr
    return inventory, known_hosts


@pytest.fixture(scope="session")
def audit(enrolled: tuple[Path, Path], workdir: Path) -> Callable[..., AuditCall]:
    inventory, known_hosts = enrolled

    def _audit(*extra: str, db: Path | None = None, db_url: str | None = None) -> AuditCall:
        """An SSH audit unless `extra` says otherwise: the network agents have tests of their own."""
        url = db_url or f"sqlite:///{db or workdir / 'audit.db'}"
        agents = [] if "--only" in extra else ["--only", "ssh"]
        return run_cli(
            "audit", "--inventory", str(inventory), "--known-hosts", str(known_hosts), "--db", url, *agents, *extra
        )

    return _audit
