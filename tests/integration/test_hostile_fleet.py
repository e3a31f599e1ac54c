"""The real CLI against a fleet of misbehaving SSH servers on loopback: every host ends by its deadline
with the reason that says what happened, and the auditor's memory stays bounded under 64 MiB floods.

Needs no lab (no root, no namespaces): the fleet is ``tests.hostile_ssh``, run in its own process so
that the auditor's peak memory is measured alone. Run with ``-s`` to see the behaviour → outcome table.

Decided outcomes (documented here, asserted below):

- ``hang_after_banner`` is a ``timeout``: the handshake gets the connect timeout (10 s), less than the
  deadline; ``endless_banner`` too: paramiko gives up after 100 lines that are not an SSH banner.
- ``silent_exec``, ``drip_feed`` and ``rekey_stall`` are ``deadline_exceeded``: cut at the deadline.
- ``close_without_status`` is ``ok``: every record had arrived; an exit status adds nothing to them.
- ``truncate_mid_record`` is ``ok`` with the probes after the cut ``missing``: what arrived whole is kept.
- ``drop_during_exec`` is ``connection_lost``: the connection ended before the script started.

The honest servers audit this machine for real. The checks whose probes are known to be slow (a walk
of the whole filesystem, a simulated package upgrade) are left out: on a development machine they
alone take most of the deadline, and six honest audits share two cores here.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from auditor.collectors.ssh.stream import stream_budget
from auditor.collectors.ssh.transport import DEFAULT_MAX_OUTPUT
from auditor.content.checks import Probe
from auditor.content.loader import load_content
from auditor.service.plan import check_request
from auditor.store import open_store
from tests.hostile_ssh import FORGED_UNKNOWN_ID, POISON, Behaviour, Fleet, hostile_fleet
from tests.hostile_ssh.streams import FORGED_PROBES

DEADLINE_S = 20
GRACE_S = 5
CONCURRENCY = 8
FLOOD_BYTES = 64 * 1024 * 1024
RSS_LIMIT_MB = 300
WALL_LIMIT_S = 2 * DEADLINE_S + GRACE_S + 15  # the slow hosts hold slots: at most two rounds of them
ENCRYPTED = "honest-encrypted-key"  # the honest server again, logged into with the encrypted key
PASSPHRASE_VAR = "AUDITOR_FLEET_KEY_PASSPHRASE"

EXPECTED: dict[str, tuple[str, str | None]] = {
    "honest": ("ok", None),
    "silent-exec": ("error", "deadline_exceeded"),
    "hang-after-banner": ("error", "timeout"),
    "endless-banner": ("error", "timeout"),
    "drip-feed": ("error", "deadline_exceeded"),
    "flood-stdout-long": ("error", "output_cap_exceeded"),
    "flood-stdout-short": ("error", "output_cap_exceeded"),
    "flood-stderr-short": ("error", "output_cap_exceeded"),
    "nul-binary": ("ok", None),
    "close-without-status": ("ok", None),
    "truncate-mid-record": ("ok", None),
    "rekey-stall": ("error", "deadline_exceeded"),
    "auth-failure": ("error", "auth_failed"),
    "changed-host-key": ("error", "host_key_changed"),
    "echo-script": ("error", "exec_failed"),
    "forge-records": ("ok", None),
    "drop-during-exec": ("error", "connection_lost"),
    ENCRYPTED: ("ok", None),
}

# Runs the CLI and reports the peak resident memory of it (the only child waited for) in KiB.
_MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr, "peak_kib": peak}))
"""


def _inventory(fleet: Fleet, path: Path) -> Path:
    fleet.inventory(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    hosts = data["agencies"][0]["hosts"]
    honest = next(h for h in hosts if h["name"] == Fleet.host_name(Behaviour.HONEST))
    hosts.append(
        {
            **honest,
            "name": ENCRYPTED,
            "key_file": str(fleet.encrypted_client_key_file),
            "key_passphrase_env": PASSPHRASE_VAR,
        }
    )
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _quick_checks() -> list[str]:
    """Every automated check, except those whose probe (or the source it reads) is known to be slow."""
    content = load_content()
    slow_sources = {source_id for source_id, source in content.sources.items() if source.slow}
    return [
        check.id
        for check in content.checks.values()
        if isinstance(check.probe, Probe) and not check.probe.slow and check.probe.source not in slow_sources
    ]


def _evidence_ids(db: Path, run_id: str, host_name: str) -> list[int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT e.id FROM evidence e JOIN run_hosts h ON h.id = e.run_host_id"
            " WHERE h.run_id = ? AND h.host_name = ?",
            (run_id, host_name),
        ).fetchall()
    return [row[0] for row in rows]


def test_the_flood_is_more_than_the_probes_can_produce() -> None:
    """What makes the floods ``output_cap_exceeded`` rather than noise read to its end."""
    content = load_content()
    checks = [content.checks[check_id] for check_id in _quick_checks()]
    requests = [source.request() for source in content.sources.values() if not source.slow]
    requests += [
        check_request(check, check.probe, content.profile.values())
        for check in checks
        if isinstance(check.probe, Probe) and check.probe.command is not None
    ]
    assert min(DEFAULT_MAX_OUTPUT, stream_budget(requests)) < FLOOD_BYTES


@dataclass(frozen=True)
class Audit:
    db: Path
    returncode: int
    stderr: str
    wall_s: float
    peak_mb: float  # the auditor's peak resident memory


def _audit(fleet: Fleet, inventory: Path, db: Path) -> Audit:
    """The real CLI, as a user runs it, in a fresh process whose peak memory is measured alone."""
    argv = [
        *(sys.executable, "-m", "auditor", "audit", "-i", str(inventory), "--known-hosts", str(fleet.known_hosts)),
        *("--db", f"sqlite:///{db}", "--only", "ssh", "--deadline", str(DEADLINE_S)),
        *("--concurrency", str(CONCURRENCY)),
        *(word for check_id in _quick_checks() for word in ("--check", check_id)),
    ]
    env = {**os.environ, "COLUMNS": "200", PASSPHRASE_VAR: fleet.passphrase}
    began = time.monotonic()
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURE, *argv], capture_output=True, text=True, env=env, timeout=240, check=True
    )
    wall = time.monotonic() - began
    call = json.loads(measured.stdout)
    return Audit(db, call["rc"], call["stderr"], wall, call["peak_kib"] / 1024)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with hostile_fleet(tmp_path_factory.mktemp("fleet"), flood_bytes=FLOOD_BYTES) as running:
        yield running


def test_every_misbehaviour_ends_in_time_with_its_reason_in_bounded_memory(fleet: Fleet, tmp_path: Path) -> None:
    audit = _audit(fleet, _inventory(fleet, tmp_path / "inventory.yml"), tmp_path / "audit.db")
    db, wall, peak_mb = audit.db, audit.wall_s, audit.peak_mb
    store = open_store(f"sqlite:///{db}")
    run_id = store.latest_run_id()
    assert run_id is not None, audit.stderr[-4000:]
    run = store.get_run(run_id)
    hosts = {row.host_name: row for row in store.list_run_hosts(run_id) if row.kind == "host"}

    print(f"\n{'host':<22} {'status':<6} {'reason':<20} {'seconds':>7}  detail")
    for name in EXPECTED:
        row = hosts.get(name)
        if row is None:
            print(f"{name:<22} (not stored)")
            continue
        seconds = (row.finished_at - row.started_at).total_seconds()
        detail = (row.error_detail or f"{sum(row.finding_counts.values())} findings")[:110]
        print(f"{name:<22} {row.status.value:<6} {row.error_reason or '-':<20} {seconds:7.1f}  {detail}")
    print(f"run {run.status.value} in {wall:.1f} s (exit {audit.returncode}); auditor peak RSS {peak_mb:.0f} MB")

    assert run.status.value in {"completed", "completed_with_errors"}, run
    assert audit.returncode == 2, audit.stderr[-4000:]  # hosts in error
    outcomes = {name: (row.status.value, row.error_reason) for name, row in hosts.items()}
    assert outcomes == EXPECTED
    for name, row in hosts.items():
        assert (row.finished_at - row.started_at).total_seconds() <= DEADLINE_S + GRACE_S, name
    assert wall < WALL_LIMIT_S
    assert peak_mb < RSS_LIMIT_MB

    honest = store.list_findings(run_id, host_name="honest")
    assert honest and any(f.status.value in {"pass", "fail"} for f in honest)
    assert len(store.list_findings(run_id, host_name=ENCRYPTED)) == len(honest)
    assert "none of it was the probe script's" in (hosts["flood-stdout-short"].error_detail or "")
    assert "not the script's records" in (hosts["echo-script"].error_detail or "")

    nul = store.evidence(_evidence_ids(db, run_id, "nul-binary")).values()
    assert any(row.stdout.endswith(POISON) and b"\x00" in row.stdout for row in nul)

    cut = store.evidence(_evidence_ids(db, run_id, "truncate-mid-record")).values()
    missing = [row for row in cut if row.outcome.value == "missing"]
    assert missing and len(missing) < len(cut)  # cut about halfway: the first half arrived whole
    assert any(row.truncated and row.stdout for row in missing)  # the record cut mid-line kept what came

    forged = store.evidence(_evidence_ids(db, run_id, "forge-records")).values()
    conflicting = [row for row in forged if row.outcome.value == "conflicting"]
    assert len(conflicting) == FORGED_PROBES and all(not row.stdout for row in conflicting)
    assert FORGED_UNKNOWN_ID not in {row.probe_id for row in forged}
    conflicting_ids = {row.id for row in conflicting}
    cited = [f for f in store.list_findings(run_id, host_name="forge-records") if f.evidence_id in conflicting_ids]
    assert cited and all(f.status.value == "error" and "two different results" in f.reason_en for f in cited)


def test_eight_hosts_flooding_at_once_stay_in_bounded_memory(fleet: Fleet, tmp_path: Path) -> None:
    floods = [Behaviour.FLOOD_STDOUT_SHORT, Behaviour.FLOOD_STDERR_SHORT, Behaviour.FLOOD_STDOUT_LONG]
    inventory = fleet.inventory(tmp_path / "floods.yml", floods)
    data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
    hosts = data["agencies"][0]["hosts"]
    hosts += [{**hosts[n % len(hosts)], "name": f"flood-{n}"} for n in range(CONCURRENCY - len(hosts))]
    inventory.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    audit = _audit(fleet, inventory, tmp_path / "floods.db")
    store = open_store(f"sqlite:///{audit.db}")
    rows = [row for row in store.list_run_hosts(store.latest_run_id() or "") if row.kind == "host"]
    print(f"\n{len(rows)} hosts flooding {FLOOD_BYTES >> 20} MiB each at once: auditor peak RSS {audit.peak_mb:.0f} MB")
    assert len(rows) == CONCURRENCY
    assert all(row.error_reason == "output_cap_exceeded" for row in rows), [row.error_reason for row in rows]
    assert audit.peak_mb < RSS_LIMIT_MB
