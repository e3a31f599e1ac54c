"""Benchmark: what an SSH audit of a whole fleet costs the auditor, and whether the cost per host stays flat.

A replay fleet (``tests.hostile_ssh.replay``: one loopback port and one known-hosts entry per host, all
with one host key, in a process of its own) answers the collector's real script with the recorded
outputs of a lab host (``bench/fleet_recording.json``, made by ``bench.fleet_record``), so every
finding is a real evaluation and every host is stored in full. Each configuration is one
``auditor audit --only ssh`` process, as a user runs it, measured from outside: its wall time, its CPU
time (user + system) and its peak RSS, so the fleet's own work is never counted. Then the size of the
store it wrote (SQLite file, or the PostgreSQL schema's tables and indexes) and how many hosts ended
``ok``.

The baseline, measured in the same run, is the same audit of ONE host: what any audit costs whatever
the fleet (interpreter, imports, content, store, one host). The marginal CPU per host of N hosts is
(CPU(N) - CPU(1)) / (N - 1); its ratio at the largest fleet against the fleet ten times smaller is
what "flat cost per host" means (target <= 1.2).

Run from the repository (PostgreSQL at ``AUDITOR_TEST_PG_URL``)::

    .venv/bin/python -m bench.fleet --hosts 10,100,1000 --concurrency 8 --db sqlite,postgresql --repeat 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/fleet.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.bench_audit import user_env
from bench.fleet_record import DEFAULT_RECORDING
from tests.hostile_ssh.replay import ReplayFleet, replay_fleet

PG_ENV = "AUDITOR_TEST_PG_URL"
RUN_TIMEOUT_S = 1800
# Targets from the issue that asked for this benchmark; the last lines say whether each is met.
TARGET_WALL_1000_S = 30.0
TARGET_CPU_PER_HOST_MS = 30.0
TARGET_RSS_MB = 300.0
TARGET_FLAT_RATIO = 1.2


@dataclass
class Sample:
    db: str
    hosts: int
    concurrency: int
    repeat: int
    wall_s: float
    cpu_s: float  # the auditor process: user + system
    peak_rss_mb: float
    store_mb: float
    hosts_ok: int
    hosts_error: int
    findings: int
    exit_code: int
    server_cpu_s: float  # the fleet's process, for context: it shares the machine

    @property
    def cpu_per_host_ms(self) -> float:
        return 1000 * self.cpu_s / self.hosts


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _process_cpu_s(pid: int) -> float:
    """User + system CPU of a live process, from /proc (the fleet's server)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------- stores


@dataclass(frozen=True)
class StoreTarget:
    db: str  # sqlite | postgresql
    url: str  # what the auditor is given
    path: Path | None = None  # the SQLite file
    schema: str | None = None  # the PostgreSQL schema


@contextlib.contextmanager
def fresh_store(db: str, workdir: Path, tag: str) -> Iterator[StoreTarget]:
    """An empty store for one configuration: a new SQLite file, or a new PostgreSQL schema (dropped after)."""
    if db == "sqlite":
        path = workdir / f"fleet-{tag}.db"
        path.unlink(missing_ok=True)
        yield StoreTarget(db, f"sqlite:///{path}", path=path)
        return
    base = os.environ.get(PG_ENV)
    if not base:
        raise RuntimeError(f"PostgreSQL needs {PG_ENV} (e.g. postgresql://user:password@127.0.0.1:5432/db)")
    schema = f"fleet_{secrets.token_hex(5)}"
    admin = create_engine(make_url(base).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        separator = "&" if "?" in base else "?"
        yield StoreTarget(db, f"{base}{separator}options=-csearch_path%3D{schema}", schema=schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def store_size_mb(target: StoreTarget) -> float:
    if target.path is not None:
        size = sum(p.stat().st_size for p in target.path.parent.glob(target.path.name + "*"))  # -wal, -shm too
        return size / 2**20
    engine = create_engine(make_url(target.url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            size = conn.execute(
                text(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema AND c.relkind = 'r'"
                ),
                {"schema": target.schema},
            ).scalar_one()
    finally:
        engine.dispose()
    return int(size) / 2**20


def stored_counts(target: StoreTarget) -> tuple[int, int, int]:
    """(hosts ok, hosts in error, findings) of the one run in the store."""
    url = make_url(target.url)
    if target.db == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT status, count(*) FROM run_hosts WHERE kind = 'host' GROUP BY status")
            ).all()
            findings = conn.execute(
                text("SELECT count(*) FROM findings f JOIN run_hosts h ON h.id = f.run_host_id WHERE h.kind = 'host'")
            ).scalar_one()
    finally:
        engine.dispose()
    by_status = {str(status): int(count) for status, count in rows}
    return by_status.get("ok", 0), sum(by_status.values()) - by_status.get("ok", 0), int(findings)


# ---------------------------------------------------------------------------------------------- one run


def auditor_argv(inventory: Path, known_hosts: Path, url: str, concurrency: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "auditor",
        "audit",
        "--inventory",
        str(inventory),
        "--known-hosts",
        str(known_hosts),
        "--db",
        url,
        "--only",
        "ssh",
        "--concurrency",
        str(concurrency),
    ]


def run_audit(
    fleet: ReplayFleet,
    workdir: Path,
    db: str,
    hosts: int,
    concurrency: int,
    repeat: int,
    profile: Path | None = None,
    py_spy: str | None = None,
    auditor_root: Path | None = None,
) -> Sample:
    tag = f"{db}-{hosts}-{concurrency}-{repeat}"
    inventory = fleet.inventory(workdir / f"inventory-{hosts}.yml", hosts)
    known_hosts = fleet.known_hosts(workdir / f"known_hosts-{hosts}", hosts)
    with fresh_store(db, workdir, tag) as target:
        argv = auditor_argv(inventory, known_hosts, target.url, concurrency)
        if profile is not None and py_spy is not None:  # every thread, sampled; waiting threads left out
            argv = [
                py_spy,
                "record",
                "--threads",
                "--nonblocking",
                "-r",
                "250",
                "-f",
                "raw",
                "-o",
                str(profile),
                "--",
                *argv,
            ]
        elif profile is not None:  # the main thread only (the store, the events), deterministic
            argv[1:3] = ["-m", "cProfile", "-o", str(profile), "-m", "auditor"]
        env = user_env()
        if auditor_root is not None:  # another copy of the package (e.g. before a change), found first
            env["PYTHONPATH"] = str(auditor_root)
        server_before = _process_cpu_s(fleet.server_pid)
        with (workdir / f"audit-{tag}.log").open("wb") as log:
            begun = time.perf_counter()
            child = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=auditor_root or None
            )
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - begun
        child.returncode = os.waitstatus_to_exitcode(status)
        server_cpu = _process_cpu_s(fleet.server_pid) - server_before
        if child.returncode not in (0, 1, 2):  # 1: checks failed, 2: some host in error (both are results)
            log_text = (workdir / f"audit-{tag}.log").read_text(encoding="utf-8", errors="replace")
            raise RuntimeError(f"auditor audit exited {child.returncode}:\n{log_text[-3000:]}")
        ok, error, findings = stored_counts(target)
        return Sample(
            db=db,
            hosts=hosts,
            concurrency=concurrency,
            repeat=repeat,
            wall_s=wall,
            cpu_s=usage.ru_utime + usage.ru_stime,
            peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
            store_mb=store_size_mb(target),
            hosts_ok=ok,
            hosts_error=error,
            findings=findings,
            exit_code=child.returncode,
            server_cpu_s=server_cpu,
        )


# ---------------------------------------------------------------------------------------------- summary


def _median(samples: Sequence[Sample], attribute: str) -> float:
    return statistics.median(getattr(s, attribute) for s in samples)


def summarise(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """One row per (db, concurrency, hosts): medians, and the marginal CPU per host over the one-host baseline."""
    rows = []
    keys = sorted({(s.db, s.concurrency, s.hosts) for s in samples})
    for db, concurrency, hosts in keys:
        group = [s for s in samples if (s.db, s.concurrency, s.hosts) == (db, concurrency, hosts)]
        base = [s for s in samples if (s.db, s.concurrency, s.hosts) == (db, concurrency, 1)]
        cpu = _median(group, "cpu_s")
        marginal = None
        if base and hosts > 1:
            marginal = 1000 * (cpu - _median(base, "cpu_s")) / (hosts - 1)
        rows.append(
            {
                "db": db,
                "concurrency": concurrency,
                "hosts": hosts,
                "runs": len(group),
                "wall_s": _median(group, "wall_s"),
                "wall_s_all": [round(s.wall_s, 2) for s in group],
                "cpu_s": cpu,
                "cpu_per_host_ms": 1000 * cpu / hosts,
                "cpu_per_host_ms_all": [round(s.cpu_per_host_ms, 1) for s in group],
                "marginal_cpu_per_host_ms": marginal,
                "peak_rss_mb": _median(group, "peak_rss_mb"),
                "store_mb": _median(group, "store_mb"),
                "hosts_ok": min(s.hosts_ok for s in group),
                "hosts_error": max(s.hosts_error for s in group),
                "findings": min(s.findings for s in group),
                "server_cpu_s": _median(group, "server_cpu_s"),
            }
        )
    return rows


def table(rows: Sequence[dict[str, Any]]) -> str:
    header = (
        "| db | conc. | hosts | wall (runs) | CPU | CPU/host (runs) | marginal CPU/host | peak RSS | store "
        "| hosts ok/error | findings | fleet CPU |"
    )
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        walls = " / ".join(f"{w:.1f}" for w in row["wall_s_all"])
        per_host = " / ".join(f"{c:.1f}" for c in row["cpu_per_host_ms_all"])
        marginal = row["marginal_cpu_per_host_ms"]
        lines.append(
            f"| {row['db']} | {row['concurrency']} | {row['hosts']} | {row['wall_s']:.1f} s ({walls}) "
            f"| {row['cpu_s']:.1f} s | {row['cpu_per_host_ms']:.1f} ms ({per_host}) "
            f"| {'—' if marginal is None else f'{marginal:.1f} ms'} | {row['peak_rss_mb']:.0f} MB "
            f"| {row['store_mb']:.1f} MB | {row['hosts_ok']}/{row['hosts_error']} | {row['findings']} "
            f"| {row['server_cpu_s']:.1f} s |"
        )
    return "\n".join(lines)


def ratios(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Marginal CPU per host of the largest fleet against each smaller one, per (db, concurrency)."""
    found = []
    for db, concurrency in sorted({(r["db"], r["concurrency"]) for r in rows}):
        group = {r["hosts"]: r for r in rows if (r["db"], r["concurrency"]) == (db, concurrency)}
        largest = max(group)
        for smaller in sorted(h for h in group if 1 < h < largest):
            big, small = group[largest], group[smaller]
            if big["marginal_cpu_per_host_ms"] and small["marginal_cpu_per_host_ms"]:
                found.append(
                    {
                        "db": db,
                        "concurrency": concurrency,
                        "hosts": (largest, smaller),
                        "marginal": big["marginal_cpu_per_host_ms"] / small["marginal_cpu_per_host_ms"],
                        "raw": big["cpu_per_host_ms"] / small["cpu_per_host_ms"],
                    }
                )
    return found


def verdicts(rows: Sequence[dict[str, Any]], found: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for item in found:
        largest, smaller = item["hosts"]
        met = "met" if item["marginal"] <= TARGET_FLAT_RATIO else "NOT met"
        lines.append(
            f"{item['db']}, concurrency {item['concurrency']}: marginal CPU per host at {largest} vs {smaller} hosts "
            f"= {item['marginal']:.2f} (raw {item['raw']:.2f}); target <= {TARGET_FLAT_RATIO}: {met}"
        )
    for row in rows:
        if row["hosts"] < 1000:
            continue
        checks = [
            ("wall", row["wall_s"], TARGET_WALL_1000_S, "s"),
            ("CPU per host", row["cpu_per_host_ms"], TARGET_CPU_PER_HOST_MS, "ms"),
            ("peak RSS", row["peak_rss_mb"], TARGET_RSS_MB, "MB"),
        ]
        words = ", ".join(
            f"{name} {value:.1f} {unit} (<= {target:g}: {'met' if value <= target else 'NOT met'})"
            for name, value, target, unit in checks
        )
        lines.append(f"{row['db']}, concurrency {row['concurrency']}, {row['hosts']} hosts: {words}")
    return lines


# ---------------------------------------------------------------------------------------------- the run


def _numbers(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of whole numbers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("give at least one number, each at least 1")
    return values


def _dbs(text: str) -> list[str]:
    values = [part.strip() for part in text.split(",") if part.strip()]
    if not values or set(values) - {"sqlite", "postgresql"}:
        raise argparse.ArgumentTypeError("sqlite, postgresql or both, comma-separated")
    return values


def measure(args: argparse.Namespace, workdir: Path) -> list[Sample]:
    counts = sorted({1, *args.hosts})  # one host: the baseline
    samples: list[Sample] = []
    _progress(f"bench: starting a replay fleet of {max(counts)} hosts")
    with replay_fleet(workdir / "fleet", args.recording, max(counts), target_ms=args.target_ms) as fleet:
        for repeat in range(args.repeat):
            for db in args.db:
                for concurrency in args.concurrency:
                    for hosts in counts:
                        sample = run_audit(
                            fleet, workdir, db, hosts, concurrency, repeat, auditor_root=args.auditor_root
                        )
                        samples.append(sample)
                        _progress(
                            f"bench: {db} c={concurrency} {hosts} hosts #{repeat + 1}: wall {sample.wall_s:.1f} s, "
                            f"CPU {sample.cpu_per_host_ms:.1f} ms/host, RSS {sample.peak_rss_mb:.0f} MB, "
                            f"ok {sample.hosts_ok}/{hosts}, fleet CPU {sample.server_cpu_s:.1f} s"
                        )
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=_numbers, default=[10, 100, 1000], help="fleet sizes (default 10,100,1000)")
    parser.add_argument("--concurrency", type=_numbers, default=[8], help="hosts audited at once (default 8)")
    parser.add_argument("--db", type=_dbs, default=["sqlite"], help="sqlite, postgresql or both (default sqlite)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each configuration (default 2)")
    parser.add_argument("--target-ms", type=float, default=0.0, help="each host's time before it answers")
    parser.add_argument("--recording", type=Path, default=DEFAULT_RECORDING, help="the recorded host")
    parser.add_argument("--json", metavar="FILE", help="also write every figure and sample as JSON")
    parser.add_argument(
        "--auditor-root", type=Path, help="run the auditor from this copy of the repository (to compare versions)"
    )
    parser.add_argument("--profile", metavar="FILE", help="only profile one audit of the largest fleet (cProfile)")
    parser.add_argument("--py-spy", metavar="BIN", help="with --profile: sample every thread with py-spy instead")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    with tempfile.TemporaryDirectory(prefix="auditor-fleet-") as tmp:
        workdir = Path(tmp)
        if args.profile:
            hosts = max(args.hosts)
            with replay_fleet(workdir / "fleet", args.recording, hosts, target_ms=args.target_ms) as fleet:
                sample = run_audit(
                    fleet,
                    workdir,
                    args.db[0],
                    hosts,
                    args.concurrency[0],
                    0,
                    Path(args.profile),
                    args.py_spy,
                    args.auditor_root,
                )
            _progress(f"bench: profiled {hosts} hosts (wall {sample.wall_s:.1f} s) into {args.profile}")
            return 0
        samples = measure(args, workdir)
    rows = summarise(samples)
    found = ratios(rows)
    print(f"\nreplay fleet of {args.recording.name}; medians of {args.repeat} run(s), each run's figure in brackets\n")
    print(table(rows))
    print("\n" + "\n".join(verdicts(rows, found)))
    if args.json:
        report = {
            "benchmark": "auditor: SSH audit of a replay fleet (wall, CPU, peak RSS, store size per fleet size)",
            "environment": {"python": platform.python_version(), "kernel": platform.release(), "cpus": os.cpu_count()},
            "parameters": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "summary": rows,
            "ratios": found,
            "samples": [asdict(s) for s in samples],
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        _progress(f"bench: figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
