"""Benchmark: what sealing a large run costs at its end, against the whole-run read it replaced.

Builds a store of N hosts through the store API (each host: the recorded outputs of a lab host from
``bench/fleet_recording.json`` as its evidence, about 110 findings citing them), then seals the run in a new
process per measurement, so each peak RSS is that of one seal alone:

- ``baseline``: the former seal, kept here as it was: every row of the run read as ORM objects, every
  entry made with its bytes, one model object per manifest entry;
- ``streamed``: ``ChainSealer.seal_run`` as the audit service calls it (Core queries in batches, each entry
  hashed and dropped, the manifest's bytes written from the packed digests);
- ``verify``: ``auditor verify --db``'s re-check of the same store (the same streaming reader).

Each line gives CPU time (user + system of the child), wall time and peak RSS, with ratios against the
baseline of the same run, and the time storing the hosts took for scale. Both seals must give the same
Merkle root. ::

    .venv/bin/python -m bench.bench_sealing --hosts 100,1000 [--db sqlite|postgresql]

Targets (the fleet issue): at most 30 ms of auditor CPU per host for the whole audit, peak RSS at most 300 MB.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/bench_sealing.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from auditor.evaluation.findings import Finding, HostResult, HostStatus
from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome
from auditor.evidence_chain.entries import Entry, iter_run_entries
from auditor.evidence_chain.keys import SigningKey, create_key
from auditor.evidence_chain.manifest import Manifest, ManifestEntry, entries_root
from auditor.inventory import Agency
from auditor.store import Store, open_store
from auditor.store.manifests import RunRow
from auditor.store.schema import EvidenceRecord, FindingRecord, RunHostRecord, RunRecord
from auditor.vocabulary import LocalizedText, RequirementRef, Severity, Status
from bench.fleet import PG_ENV, fresh_store
from bench.fleet_record import DEFAULT_RECORDING

FINDINGS_PER_HOST = 110
HOSTS_PER_AGENCY = 10
SAVE_BATCH = 25
TARGET_CPU_PER_HOST_MS = 30.0
TARGET_RSS_MB = 300.0
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- the store


def _observations(recording: Path) -> tuple[Observation, ...]:
    probes = json.loads(recording.read_text(encoding="utf-8"))["probes"]
    return tuple(
        Observation(
            probe_id=probe["id"],
            command=f"probe {probe['id']}",
            outcome=ProbeOutcome(probe["outcome"]),
            exit_code=probe.get("exit_code"),
            stdout=base64.b64decode(probe.get("stdout_b64", "")),
            stderr=base64.b64decode(probe.get("stderr_b64", "")),
            duration_s=float(probe.get("duration_s", 0.1)),
            truncated=False,
            collected_at=T0,
        )
        for probe in probes
    )


def _host(agency_id: str, name: str, observations: tuple[Observation, ...]) -> HostResult:
    statuses = (Status.passed, Status.failed, Status.passed, Status.manual)
    findings = tuple(
        Finding(
            check_id=f"bench_check_{n:03d}",
            status=statuses[n % len(statuses)],
            severity=Severity.high,
            observed=f"giá trị quan sát {n}",
            expected="PermitRootLogin == no",
            reason=LocalizedText(vi=f"Lý do kiểm tra {n}", en=f"Reason for check {n}"),
            requirements=(RequirementRef(framework="TCVN 11930:2017", clause="7.2.2.1"),),
            evidence_probe_id=observations[n % len(observations)].probe_id,
        )
        for n in range(FINDINGS_PER_HOST)
    )
    return HostResult(
        agency_id=agency_id,
        host_name=name,
        address="192.0.2.10",
        status=HostStatus.ok,
        facts=HostFacts(hostname=name, os_id="debian", os_version="12", os_family="debian", uid=0),
        exec_requests=1,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=2),
        findings=findings,
        observations=observations,
    )


def build_run(store: Store, hosts: int, recording: Path) -> tuple[str, float]:
    """A closed run of ``hosts`` hosts; its id and the CPU time storing them took."""
    observations = _observations(recording)
    started = time.process_time()
    run_id = store.start_run("bench", "bench", "0" * 64, {"concurrency": 8})
    batch: list[tuple[Agency, HostResult]] = []
    for n in range(hosts):
        agency = f"agency-{n // HOSTS_PER_AGENCY:03d}"
        batch.append(
            (Agency(id=agency, name=LocalizedText(vi=agency, en=agency)), _host(agency, f"h{n:04d}", observations))
        )
        if len(batch) == SAVE_BATCH:
            store.save_host_results(run_id, batch)
            batch = []
    if batch:
        store.save_host_results(run_id, batch)
    store.finish_run(run_id)
    return run_id, time.process_time() - started


# ---------------------------------------------------------------------------------------------- the baseline


def _orm_row(record: Any) -> dict[str, Any]:
    return {column.key: getattr(record, column.key) for column in record.__table__.columns}


def _orm_material(store: Store, run_id: str) -> Iterator[RunRow]:
    """The former read: the whole run as ORM objects, then as dicts, all held before the first entry is made."""
    with store._read() as session:
        run = session.get(RunRecord, run_id)
        targets = list(session.scalars(select(RunHostRecord).where(RunHostRecord.run_id == run_id)))
        findings = list(session.scalars(select(FindingRecord).where(FindingRecord.run_id == run_id)))
        evidence = list(
            session.scalars(
                select(EvidenceRecord)
                .join(RunHostRecord, RunHostRecord.id == EvidenceRecord.run_host_id)
                .where(RunHostRecord.run_id == run_id)
            )
        )
        rows = (
            [_orm_row(run)],
            [_orm_row(r) for r in targets],
            [_orm_row(r) for r in findings],
            [_orm_row(r) for r in evidence],
        )
    cited = {e["id"]: e["sha256"] for e in rows[3]}
    material = [RunRow("run", rows[0][0])]
    material += [RunRow("target", r) for r in rows[1]]
    material += [RunRow("finding", {**r, "cited_sha256": cited.get(r["evidence_id"])}) for r in rows[2]]
    material += [RunRow("evidence", r) for r in rows[3]]
    return iter(material)


def _baseline_seal(store: Store, run_id: str, key: SigningKey) -> str:
    """The former seal: every entry with its bytes, sorted, one pydantic entry each, the model dumped whole."""
    entries: list[Entry] = sorted(iter_run_entries(_orm_material(store, run_id)), key=lambda e: e.name)
    listed = tuple(ManifestEntry(name=e.name, sha256=e.sha256, size=len(e.data)) for e in entries)
    manifest = Manifest(
        kind="run",
        subject=run_id,
        sequence=0,
        created_at=T0.isoformat(),
        tool_version="bench",
        entries=listed,
        merkle_root=entries_root(listed),
        key_fingerprint=key.public.fingerprint,
    )
    body = manifest.body()
    key.sign(body)
    return manifest.merkle_root


# ---------------------------------------------------------------------------------------------- one child


def child(mode: str, url: str, run_id: str, key_path: Path) -> dict[str, Any]:
    from auditor.evidence_chain.db_verify import verify_store
    from auditor.evidence_chain.keys import load_key
    from auditor.evidence_chain.manifest import parse_manifest
    from auditor.evidence_chain.sealing import ChainSealer
    from tests.unit.test_service import CONTENT

    store = open_store(url)
    key = load_key(key_path)
    idle_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, cpu_started = time.perf_counter(), time.process_time()
    root: str | None = None
    if mode == "baseline":
        root = _baseline_seal(store, run_id, key)
    elif mode == "streamed":
        row = ChainSealer(lambda: key).seal_run(store, run_id, CONTENT, None)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        root = parse_manifest(row.body).merkle_root  # after the measurement: only to compare the roots
        return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak, "idle_rss_mb": idle_mb, "root": root}
    else:
        verdict = verify_store(store, [key.public])
        if verdict.problems:
            raise SystemExit(f"verify found problems: {verdict.problem_texts('en')[:3]}")
    return {
        "wall_s": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu_started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "idle_rss_mb": idle_mb,
        "root": root,
    }


def _measure(mode: str, url: str, run_id: str, key_path: Path) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.bench_sealing", "--child", mode, "--url", url, "--run", run_id]
    argv += ["--key", str(key_path)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="100,1000", help="comma-separated fleet sizes")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--no-baseline", action="store_true", help="skip the former seal (slow, large)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--key", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.url, args.run, args.key)))
        return 0
    if args.db == "postgresql" and not os.environ.get(PG_ENV):
        raise SystemExit(f"PostgreSQL needs {PG_ENV}")
    results: list[dict[str, Any]] = []
    met = True
    with tempfile.TemporaryDirectory(prefix="bench-sealing-") as folder:
        workdir = Path(folder)
        key_path = workdir / "signing_key.pem"
        create_key(key_path)
        for hosts in (int(n) for n in args.hosts.split(",")):
            with fresh_store(args.db, workdir, f"seal-{hosts}") as target:
                _progress(f"storing {hosts} hosts ({args.db}) …")
                with open_store(target.url) as store:
                    run_id, store_cpu = build_run(store, hosts, DEFAULT_RECORDING)
                modes = ("streamed", "verify") if args.no_baseline else ("baseline", "streamed", "verify")
                figures = {}
                for mode in modes:
                    _progress(f"  {mode} …")
                    figures[mode] = _measure(mode, target.url, run_id, key_path)
            if "baseline" in figures and figures["baseline"]["root"] != figures["streamed"]["root"]:
                raise SystemExit("the streamed seal's Merkle root differs from the baseline's")
            print(
                f"\n{hosts} hosts, {hosts * FINDINGS_PER_HOST} findings ({args.db}); storing took {store_cpu:.1f} s CPU"
            )
            print(f"{'':>9} {'CPU s':>8} {'ms/host':>8} {'wall s':>8} {'peak RSS MB':>12} {'(idle MB)':>10}")
            base = figures.get("baseline")
            for mode, f in figures.items():
                ratio = ""
                if base is not None and mode != "baseline":
                    cpu_ratio, rss_ratio = base["cpu_s"] / f["cpu_s"], base["peak_rss_mb"] / f["peak_rss_mb"]
                    ratio = f"  CPU {cpu_ratio:.1f}× less, RSS {rss_ratio:.1f}× less"
                per_host = 1000 * f["cpu_s"] / hosts
                print(
                    f"{mode:>9} {f['cpu_s']:8.2f} {per_host:8.2f} {f['wall_s']:8.2f} {f['peak_rss_mb']:12.0f}"
                    f" {f['idle_rss_mb']:10.0f}{ratio}"
                )
            print(f"seal CPU / storing CPU: {figures['streamed']['cpu_s'] / store_cpu:.2f}")
            sealed = figures["streamed"]
            ok = sealed["peak_rss_mb"] <= TARGET_RSS_MB and 1000 * sealed["cpu_s"] / hosts <= TARGET_CPU_PER_HOST_MS
            met = met and ok
            results.append({"hosts": hosts, "db": args.db, "store_cpu_s": store_cpu, **figures})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(
        f"\ntarget: the seal within {TARGET_CPU_PER_HOST_MS:.0f} ms CPU per host and {TARGET_RSS_MB:.0f} MB peak RSS:"
        f" {'met' if met else 'NOT met'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
