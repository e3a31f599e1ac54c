"""Benchmark: the portal's server time for the dashboard and an agency page over a realistic store.

Fills a temporary SQLite store through the store API with ``--agencies`` agencies audited ``--runs`` times
(one run a month, every agency in each run; each agency with two servers running every host check, a website
with every network check and its manual items: 277 findings an agency a run), attestations (two agencies
end up meeting level 3) and waivers, then signs an officer in and measures, through the ASGI app in this
process, the time from the request entering the app to the last byte of its response leaving it:

- ``first``: the first request of the process (nothing read yet: the warm-up, shown on its own);
- ``median`` / ``min`` / ``max``: the ``--repeat`` requests after it;
- then one more run of every agency is stored and the same is measured again ("after a new run").

    .venv/bin/python -m bench.bench_portal --agencies 20 --runs 24 --repeat 9 [--json FILE]

Target: the dashboard's median under 300 ms of server time.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/bench_portal.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from auditor.content.loader import Content, load_content
from auditor.evaluation.findings import Finding, HostResult, HostStatus
from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome
from auditor.governance.records import (
    Answer,
    AttestationEntry,
    PreparedAttestation,
    PreparedDocument,
    WaiverRequest,
)
from auditor.inventory import Agency
from auditor.store import Store, open_store
from auditor.vocabulary import LocalizedText, Status

T0 = datetime(2025, 1, 6, 1, 0, 0, tzinfo=UTC)
PASSWORD = "bench password, long enough"  # noqa: S105 - a throwaway account in a temporary store
TARGET_MS = 300
MAX_LIST = 10_000
DOCUMENT = PreparedDocument(file_name="quy-che.pdf", content=b"%PDF-1.4 bench\n", media_type="application/pdf")


@dataclass(frozen=True)
class Shape:
    agencies: int
    runs: int
    seed: int = 11930


def agency_of(index: int) -> Agency:
    return Agency(
        id=f"coquan-{index:02d}",
        name=LocalizedText(vi=f"Cơ quan báo chí số {index:02d}", en=f"Press agency no. {index:02d}"),
    )


def _statuses(rng: random.Random, checks: list[str], quality: float) -> dict[str, Status]:
    out: dict[str, Status] = {}
    for check_id in checks:
        roll = rng.random()
        out[check_id] = Status.passed if roll < quality else Status.error if roll > 0.985 else Status.failed
    return out


def _target(
    content: Content,
    agency: Agency,
    name: str,
    kind: str,
    statuses: dict[str, Status],
    started: datetime,
    rng: random.Random,
) -> HostResult:
    findings: list[Finding] = []
    observations: list[Observation] = []
    for check_id, status in statuses.items():
        check = content.checks[check_id]
        manual = status is Status.manual
        if not manual:
            value = f"{check_id} = {rng.randint(0, 99999)}\n".encode()
            observations.append(
                Observation(
                    probe_id=check_id,
                    command=f"grep -Rs '^{check_id}' /etc 2>/dev/null",
                    outcome=ProbeOutcome.completed,
                    exit_code=0,
                    stdout=value * rng.randint(1, 12),
                    stderr=b"",
                    duration_s=0.01,
                    collected_at=started + timedelta(seconds=2),
                )
            )
        findings.append(
            Finding(
                check_id=check_id,
                status=status,
                severity=check.severity,
                observed="" if manual else f"{check_id} = 1",
                expected="" if manual else "== 0",
                reason=LocalizedText(vi="Chờ bằng chứng", en="Awaiting evidence")
                if manual
                else LocalizedText(vi=f"Giá trị thực tế ({check_id})", en=f"Observed value ({check_id})"),
                requirements=content.requirements_of(check_id),
                evidence_probe_id=None if manual else check_id,
            )
        )
    host = kind == "host"
    return HostResult(
        agency_id=agency.id,
        host_name=name,
        kind=kind,  # type: ignore[arg-type]
        address="" if kind == "agency" else "10.20.0.1" if host else name,
        status=HostStatus.ok,
        facts=HostFacts(hostname=name, os_id="debian", os_version="12", os_pretty="Debian GNU/Linux 12")
        if host
        else None,
        exec_requests=1 if host else 0,
        started_at=started,
        finished_at=started + timedelta(seconds=5),
        findings=tuple(findings),
        observations=tuple(observations),
    )


def add_run(
    store: Store,
    content: Content,
    agencies: list[Agency],
    started: datetime,
    quality: dict[str, float],
    rng: random.Random,
) -> str:
    """One run of every agency: two servers (every host check), a website (every network check), its manual items."""
    host_checks = sorted(c.id for c in content.checks.values() if c.scope == "host" and not c.is_manual)
    network_checks = sorted(c.id for c in content.checks.values() if c.scope == "network")
    manual = sorted(c.id for c in content.checks.values() if c.is_manual and c.scope == "agency")
    run_id = store.start_run("bench", content.version, "ab" * 32, {"profile": "level3"}, started_at=started)
    for agency in agencies:
        for host_index in (1, 2):
            statuses = _statuses(rng, host_checks, quality[agency.id])
            name = f"{agency.id}-srv{host_index}"
            store.save_host_result(run_id, agency, _target(content, agency, name, "host", statuses, started, rng))
        statuses = _statuses(rng, network_checks, quality[agency.id])
        website = f"https://{agency.id}.example.vn/"
        store.save_host_result(run_id, agency, _target(content, agency, website, "website", statuses, started, rng))
        items = dict.fromkeys(manual, Status.manual)
        store.save_host_result(
            run_id, agency, _target(content, agency, f"agency:{agency.id}", "agency", items, started, rng)
        )
    store.finish_run(run_id, "completed")
    return run_id


def fill(store: Store, content: Content, shape: Shape, progress: Callable[[str], None] = lambda _m: None) -> None:
    """``shape.runs`` monthly runs of every agency, improving over time; governance for the best agencies."""
    rng = random.Random(shape.seed)  # noqa: S311 - synthetic data, not secrets
    host_checks = sorted(c.id for c in content.checks.values() if c.scope == "host" and not c.is_manual)
    manual = sorted(c.id for c in content.checks.values() if c.is_manual and c.scope == "agency")
    agencies = [agency_of(i + 1) for i in range(shape.agencies)]
    start_quality = {a.id: 0.55 + 0.35 * rng.random() for a in agencies}
    perfect = {a.id for a in agencies[:2]}  # these two end up meeting level 3
    for run_index in range(shape.runs):
        quality = {
            a.id: min(0.995, base + (1 - base) * run_index / max(1, shape.runs))
            for a, base in zip(agencies, start_quality.values(), strict=True)
        }
        if run_index == shape.runs - 1:
            quality.update(dict.fromkeys(perfect, 1.0))
        add_run(store, content, agencies, T0 + timedelta(days=30 * run_index), quality, rng)
        progress(f"run {run_index + 1}/{shape.runs} stored")
    now = started_after(shape)
    attest = [
        PreparedAttestation(
            entry=AttestationEntry(
                agency=agency.id,
                item=item,
                answer=Answer.met,
                justification="Quy chế đã ban hành",
                attested_by="bench",
                attested_at=(now - timedelta(days=10)).date(),
                valid_until=date(now.year + 1, 12, 31),
                documents=("quy-che.pdf",),
            ),
            documents=(DOCUMENT,),
        )
        for agency in agencies
        for item in (manual if agency.id in perfect else manual[: len(manual) // 2])
    ]
    store.record_attestations(attest, "bench", now - timedelta(days=5))
    for agency in agencies[2:6]:
        store.add_waiver(
            WaiverRequest(
                agency_id=agency.id,
                check_id=host_checks[0],
                justification="Thiết bị cũ chờ thay thế trong quý tới",
                compensating_control="Giám sát tập trung và tường lửa",
                requested_by="bench-it",
                approved_by="bench-officer",
                expires_on=date(now.year + 1, 6, 30),
            ),
            now - timedelta(days=3),
        )


def started_after(shape: Shape) -> datetime:
    """A moment a little after the last run: what the benchmark's clock says."""
    return T0 + timedelta(days=30 * shape.runs)


class Timed:
    """The ASGI app with a stopwatch: from the request entering the app to the last byte of its response."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.last = time.perf_counter() - start


def _sign_in(client: Any, username: str) -> None:
    page = client.get("/login").text
    token = page.split('name="login_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/login", data={"username": username, "password": PASSWORD, "login_token": token})
    if answer.status_code != 303:
        raise SystemExit(f"sign-in failed: {answer.status_code}")


def measure(client: Any, timed: Timed, path: str, repeat: int) -> dict[str, Any]:
    """The first (cold: nothing read yet) request, then ``repeat`` more; server times in milliseconds."""
    samples = []
    for _ in range(repeat + 1):
        answer = client.get(path)
        if answer.status_code != 200:
            raise SystemExit(f"{path}: {answer.status_code}")
        samples.append(timed.last * 1000)
    return {
        "path": path,
        "first_ms": round(samples[0], 1),
        "median_ms": round(statistics.median(samples[1:]), 1),
        "min_ms": round(min(samples[1:]), 1),
        "max_ms": round(max(samples[1:]), 1),
        "bytes": len(answer.content),
        "samples_ms": [round(x, 1) for x in samples],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agencies", type=int, default=20)
    parser.add_argument("--runs", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=7, help="measured requests per page (after the first)")
    parser.add_argument("--json", type=Path, help="write every figure and sample here")
    args = parser.parse_args(argv)
    if args.repeat < 5:
        parser.error("--repeat: at least 5")
    from fastapi.testclient import TestClient

    from auditor.portal.app import create_app
    from auditor.portal.config import PortalConfig
    from auditor.portal.security import hash_password

    shape = Shape(args.agencies, args.runs)
    content = load_content()
    with tempfile.TemporaryDirectory(prefix="bench-portal-") as folder:
        work = Path(folder)
        store = open_store(f"sqlite:///{work / 'portal.db'}")
        start = time.perf_counter()
        fill(store, content, shape, lambda message: print(message, file=sys.stderr, flush=True))
        filled_s = time.perf_counter() - start
        clock_now = started_after(shape)
        store.add_user("officer1", "Officer", "officer", hash_password(PASSWORD), clock_now)
        inventory = {
            "agencies": [
                {"id": agency_of(i + 1).id, "name": agency_of(i + 1).name.model_dump()} for i in range(shape.agencies)
            ]
        }
        (work / "inventory.yml").write_text(yaml.safe_dump(inventory, allow_unicode=True), encoding="utf-8")
        config = PortalConfig(
            db_url=f"sqlite:///{work / 'portal.db'}",
            inventory=work / "inventory.yml",
            known_hosts=work / "known_hosts",
            secret_file=work / "portal.key",
            scheduler=False,
        )
        app = create_app(config, store=store, content=content, clock=lambda: clock_now)
        timed = Timed(app)
        client = TestClient(timed, base_url="https://portal.test", follow_redirects=False)
        # the floor, measured in the same run: the sign-in page goes through the same app, middleware and
        # template layer but reads nothing from the store; each page's ratio is against it
        anonymous = TestClient(timed, base_url="https://portal.test", follow_redirects=False)
        floor = measure(anonymous, timed, "/login", args.repeat)
        _sign_in(client, "officer1")
        runs = store.list_runs(MAX_LIST)
        findings = sum(sum(r.finding_counts.values()) for r in runs)
        pages = [
            measure(client, timed, "/dashboard", args.repeat),
            measure(client, timed, f"/agencies/{agency_of(3).id}", args.repeat),
            measure(client, timed, "/agencies", args.repeat),
        ]
        found = re.search(r"(\d+) trên (\d+) cơ quan đáp ứng cấp độ 3", client.get("/dashboard").text)
        meeting = f"{found.group(1)} of {found.group(2)} agencies meet level 3" if found else "?"
        # a new run of every agency arrives: the first pages after it read and judge what it holds
        agencies = [agency_of(i + 1) for i in range(shape.agencies)]
        add_run(
            store,
            content,
            agencies,
            clock_now - timedelta(hours=1),
            dict.fromkeys((a.id for a in agencies), 0.97),
            random.Random(1),  # noqa: S311 - synthetic data
        )
        after = [
            measure(client, timed, "/dashboard", args.repeat),
            measure(client, timed, f"/agencies/{agency_of(3).id}", args.repeat),
        ]
        store.close()
    result = {
        "date": datetime.now(UTC).date().isoformat(),
        "python": platform.python_version(),
        "agencies": shape.agencies,
        "runs": len(runs),
        "findings": findings,
        "fill_s": round(filled_s, 1),
        "floor": floor,
        "pages": pages,
        "after_a_new_run": after,
        "dashboard_says": meeting,
    }
    print(f"store: {shape.agencies} agencies x {len(runs)} runs, {findings} findings (filled in {filled_s:.1f} s)")
    print(f"dashboard: {meeting}")
    print(
        f"{'page':<40} {'first':>9} {'median':>9} {'min':>9} {'max':>9} {'x floor':>8}"
        f"  (server time, {args.repeat} requests)"
    )
    for label, group in (("floor: ", [floor]), ("", pages), (" (after a new run)", after)):
        for page in group:
            name = label + page["path"] if label.endswith(": ") else page["path"] + label
            ratio = page["median_ms"] / floor["median_ms"] if floor["median_ms"] else 0.0
            print(
                f"{name:<40} {page['first_ms']:>7.1f}ms {page['median_ms']:>7.1f}ms "
                f"{page['min_ms']:>7.1f}ms {page['max_ms']:>7.1f}ms {ratio:>7.1f}x"
            )
    verdict = "met" if pages[0]["median_ms"] < TARGET_MS else "NOT met"
    print(f"target: /dashboard under {TARGET_MS} ms of server time: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
