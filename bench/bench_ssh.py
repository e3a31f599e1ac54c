"""Benchmark: one batched exec request per host against one exec request per probe, over a slow link.

For every lab host, through its own :class:`~bench.delay_proxy.DelayProxy` (one-way delay D in each
direction, so every round trip costs 2*D more), the shipped checks are audited in two modes:

``batched``
    what auditor does: ``SshCollector.collect()``, one strictly verified connection, ONE exec request
    carrying every probe in one script.
``per-probe``
    the baseline of per-resource tools: the same connection code and the same ``ParamikoTransport``,
    then one exec request per probe, each running that probe's command text as ``sudo -n sh -c '<cmd>'``.

Both modes run in the same process, against the same hosts, interleaved (the mode order alternates from
one repeat to the next), at 0 ms and at D ms. Wall time is measured around the whole per-host work:
connect + authenticate + all exec requests + close.

Run (as root, from the repository; brings the lab up if it is not)::

    .venv/bin/python -m bench.bench_ssh --hosts 3 --delay-ms 50 --repeat 3 --json bench/results.json
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_ssh.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paramiko

from auditor.collectors.ssh.collector import SshCollector, paramiko_transport
from auditor.collectors.ssh.known_hosts import host_spec
from auditor.collectors.ssh.script import shell_quote
from auditor.collectors.ssh.transport import Transport
from auditor.content.loader import load_content
from auditor.errors import AuditorError
from auditor.evaluation.observations import ProbeOutcome, ProbeRequest
from auditor.inventory import Agency, Host
from auditor.service.plan import plan_host
from auditor.vocabulary import LocalizedText
from bench.delay_proxy import DelayProxy
from lab.api import LabHost, LabInfo, load_info, status, up
from lab.common import LabError
from lab.hosts import sshd_answers

BATCHED = "batched"
PER_PROBE = "per-probe"
MODES = (BATCHED, PER_PROBE)
CONNECT_TIMEOUT_S = 15.0
PROXY_HOST = "127.0.0.1"


@dataclass(frozen=True)
class ProbeResult:
    """What one probe gave, reduced to what can be compared across the two modes."""

    exit_code: int | None
    stdout_sha256: str


@dataclass
class Sample:
    host: str
    delay_ms: float
    mode: str
    repeat: int  # -1: warm-up, not counted
    wall_s: float
    connect_s: float  # connect + key exchange + host-key check + authentication
    exec_requests: int
    probes: int
    completed: int  # probes that ran to the end and reported an exit code
    results: dict[str, ProbeResult] = field(default_factory=dict, repr=False)


# ---------------------------------------------------------------------------------------------- the lab


def ensure_lab(n: int) -> LabInfo:
    """The running lab if labh1..labhN answer; otherwise bring it up (never shrinking a bigger lab)."""
    try:
        info: LabInfo | None = load_info()
    except (OSError, ValueError, KeyError):
        info = None
    if info is not None and len(info.hosts) >= n and all(sshd_answers(h.address, h.port) for h in info.hosts[:n]):
        return info
    if os.geteuid() != 0:
        raise LabError("the lab is not up and bringing it up needs root: run `python -m lab up` as root first")
    size = max(n, len(status()))  # lab.api.up(k) destroys hosts above k: never take others' hosts away
    _progress(f"lab: bringing up {size} host(s) ...")
    return up(size)


def proxied_known_hosts(lab: LabInfo, pairs: Sequence[tuple[LabHost, int]], path: Path) -> Path:
    """A known-hosts file trusting each lab host's REAL key(s) under the proxy's name ``[127.0.0.1]:port``.

    Host-key checking stays strict: the collector rejects any key not in this file. Keys are copied only
    from the lab's own known-hosts file, which the lab writes from the hosts' key files on disk.
    """
    entries = [line.split() for line in lab.known_hosts_file.read_text(encoding="ascii").splitlines()]
    lines: list[str] = []
    for lab_host, port in pairs:
        names = {lab_host.address, host_spec(lab_host.address, lab_host.port)}
        keys = [(f[1], f[2]) for f in entries if len(f) >= 3 and names & set(f[0].split(","))]
        if not keys:
            raise LabError(f"{lab.known_hosts_file}: no host key recorded for {lab_host.name} ({lab_host.address})")
        lines += [f"{host_spec(PROXY_HOST, port)} {key_type} {key_b64}\n" for key_type, key_b64 in keys]
    path.write_text("".join(lines), encoding="ascii")
    path.chmod(0o600)
    return path


# ---------------------------------------------------------------------------------------------- the probes


def shipped_requests(count: int) -> list[ProbeRequest]:
    """The probe requests auditor would send to a host for the shipped checks (through the planner).

    ``count`` 0 keeps them all; fewer keeps the first ones (by check id); more repeats the list with
    ``_2``, ``_3``... appended to the probe ids (ids must be unique in a batch).
    """
    content = load_content()
    host = Host(name="bench", address=PROXY_HOST, user="bench", use_agent=True)
    agency = Agency(id="bench", name=LocalizedText(vi="bench", en="bench"), hosts=(host,))
    requests = plan_host(agency, host, list(content.checks.values()), content.profile).requests()
    if not requests:
        raise SystemExit("the shipped content yields no probes")
    if count <= 0:
        return requests
    out: list[ProbeRequest] = []
    round_no = 1
    while len(out) < count:
        for request in requests[: count - len(out)]:
            pid = request.probe_id if round_no == 1 else f"{request.probe_id}_{round_no}"
            out.append(request.model_copy(update={"probe_id": pid}))
        round_no += 1
    return out


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_batched(
    host: Host, known_hosts: Path, requests: Sequence[ProbeRequest], repeat: int, delay_ms: float
) -> Sample:
    connect_s = 0.0

    def timed_transport(h: Host, kh: Path, timeout_s: float) -> Transport:
        nonlocal connect_s
        begun = time.perf_counter()
        transport = paramiko_transport(h, kh, timeout_s)
        connect_s = time.perf_counter() - begun
        return transport

    collector = SshCollector(known_hosts, connect_timeout_s=CONNECT_TIMEOUT_S, transport_factory=timed_transport)
    begun = time.perf_counter()
    observed = collector.collect(host, requests)
    wall_s = time.perf_counter() - begun
    results = {
        pid: ProbeResult(obs.exit_code, _digest(obs.stdout))
        for pid, obs in observed.observations.items()
        if obs.outcome is ProbeOutcome.completed
    }
    return Sample(
        host=host.name,
        delay_ms=delay_ms,
        mode=BATCHED,
        repeat=repeat,
        wall_s=wall_s,
        connect_s=connect_s,
        exec_requests=observed.exec_requests,
        probes=len(requests),
        completed=len(results),
        results=results,
    )


def per_probe_command(host: Host, request: ProbeRequest) -> str:
    """The probe's own command text as a single exec request, the way per-resource tools send it."""
    return f"{'sudo -n ' if host.sudo else ''}sh -c {shell_quote(request.command)}"


def run_per_probe(
    host: Host, known_hosts: Path, requests: Sequence[ProbeRequest], repeat: int, delay_ms: float
) -> Sample:
    begun = time.perf_counter()
    transport = paramiko_transport(host, known_hosts, CONNECT_TIMEOUT_S)  # the collector's own connect code
    connect_s = time.perf_counter() - begun
    results: dict[str, ProbeResult] = {}
    try:
        for request in requests:
            result = transport.exec(per_probe_command(host, request), b"", request.timeout_s)
            if result.exit_status is not None:
                results[request.probe_id] = ProbeResult(result.exit_status, _digest(result.stdout))
        exec_requests = transport.exec_requests
    finally:
        transport.close()
    wall_s = time.perf_counter() - begun
    return Sample(
        host=host.name,
        delay_ms=delay_ms,
        mode=PER_PROBE,
        repeat=repeat,
        wall_s=wall_s,
        connect_s=connect_s,
        exec_requests=exec_requests,
        probes=len(requests),
        completed=len(results),
        results=results,
    )


def run_mode(
    mode: str, host: Host, known_hosts: Path, requests: Sequence[ProbeRequest], repeat: int, delay_ms: float
) -> Sample:
    runner = run_batched if mode == BATCHED else run_per_probe
    sample = runner(host, known_hosts, requests, repeat, delay_ms)
    label = "warm-up" if repeat < 0 else f"repeat {repeat + 1}"
    _progress(
        f"  {delay_ms:g} ms {host.name} {mode:<9} {label:<9} {sample.wall_s:7.3f} s "
        f"(connect {sample.connect_s:.3f} s, {sample.exec_requests} exec, {sample.completed}/{sample.probes} probes)"
    )
    return sample


# ---------------------------------------------------------------------------------------------- the run


@contextlib.contextmanager
def proxied_hosts(
    lab: LabInfo, lab_hosts: Sequence[LabHost], delay_ms: float, workdir: Path
) -> Iterator[tuple[list[Host], Path, list[DelayProxy]]]:
    """One delay proxy per lab host, the Host models pointing at them, and the known-hosts file for them."""
    with contextlib.ExitStack() as stack:
        proxies = [stack.enter_context(DelayProxy(target=(h.address, h.port), delay_ms=delay_ms)) for h in lab_hosts]
        known_hosts = proxied_known_hosts(
            lab,
            [(h, p.port) for h, p in zip(lab_hosts, proxies, strict=True)],
            workdir / f"known_hosts.{delay_ms:g}ms",
        )
        hosts = [
            Host(name=h.name, address=PROXY_HOST, port=p.port, user=h.user, key_file=lab.key_file, sudo=True)
            for h, p in zip(lab_hosts, proxies, strict=True)
        ]
        yield hosts, known_hosts, proxies


def applicable(requests: Sequence[ProbeRequest], family: str) -> list[ProbeRequest]:
    """Per-probe mode runs what the batched script runs: probes limited to other OS families are left out."""
    return [r for r in requests if not r.os_families or family in r.os_families]


def agreement(a: Sample, b: Sample) -> dict[str, int]:
    common = set(a.results) & set(b.results)
    return {
        "compared": len(common),
        "same_exit_code": sum(a.results[p].exit_code == b.results[p].exit_code for p in common),
        "same_stdout": sum(a.results[p].stdout_sha256 == b.results[p].stdout_sha256 for p in common),
    }


def measure(
    lab: LabInfo, lab_hosts: Sequence[LabHost], requests: Sequence[ProbeRequest], delays: Sequence[float], repeat: int
) -> tuple[list[Sample], dict[str, object]]:
    samples: list[Sample] = []
    checks: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="auditor-bench-") as tmp:
        workdir = Path(tmp)
        per_host_requests: dict[str, list[ProbeRequest]] = {}
        # Warm-up at 0 ms (not counted): caches on the targets, and the facts that decide applicability.
        with proxied_hosts(lab, lab_hosts, 0.0, workdir) as (hosts, known_hosts, _):
            _progress("warm-up (not counted)")
            for host in hosts:
                first = SshCollector(known_hosts, connect_timeout_s=CONNECT_TIMEOUT_S).collect(host, requests)
                per_host_requests[host.name] = applicable(requests, first.facts.os_family)
                warm = {m: run_mode(m, host, known_hosts, per_host_requests[host.name], -1, 0.0) for m in MODES}
                checks[host.name] = {
                    "os": first.facts.os_pretty,
                    "probes": len(per_host_requests[host.name]),
                    "agreement": agreement(warm[BATCHED], warm[PER_PROBE]),
                }
        for delay_ms in delays:
            with proxied_hosts(lab, lab_hosts, delay_ms, workdir) as (hosts, known_hosts, proxies):
                _progress(f"delay {delay_ms:g} ms each way")
                for r in range(repeat):
                    order = MODES if r % 2 == 0 else tuple(reversed(MODES))
                    for host in hosts:
                        for mode in order:
                            samples.append(run_mode(mode, host, known_hosts, per_host_requests[host.name], r, delay_ms))
                checks[f"proxy_{delay_ms:g}ms"] = [asdict(p.stats) for p in proxies]
    return samples, checks


# ---------------------------------------------------------------------------------------------- report


def summarise(samples: Sequence[Sample], delays: Sequence[float], host_names: Sequence[str]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for delay_ms in delays:
        medians: dict[str, dict[str, float]] = {}
        for mode in MODES:
            mine = [s for s in samples if s.delay_ms == delay_ms and s.mode == mode]
            per_host = {
                name: {
                    "median_s": statistics.median(s.wall_s for s in mine if s.host == name),
                    "connect_median_s": statistics.median(s.connect_s for s in mine if s.host == name),
                    "exec_requests": max(s.exec_requests for s in mine if s.host == name),
                    "samples_s": [round(s.wall_s, 4) for s in mine if s.host == name],
                }
                for name in host_names
            }
            medians[mode] = {name: per_host[name]["median_s"] for name in host_names}  # type: ignore[misc]
            rows.append(
                {
                    "delay_ms": delay_ms,
                    "mode": mode,
                    "probes_per_host": max(s.probes for s in mine),
                    "exec_requests_per_host": max(s.exec_requests for s in mine),
                    "completed_min": min(s.completed for s in mine),
                    "median_s_per_host": statistics.median(medians[mode].values()),
                    "connect_median_s": statistics.median(s.connect_s for s in mine),
                    "hosts": per_host,
                }
            )
        batched_row, baseline_row = rows[-2], rows[-1]
        ratio = float(baseline_row["median_s_per_host"]) / float(batched_row["median_s_per_host"])  # type: ignore[arg-type]
        baseline_row["ratio_vs_batched"] = round(ratio, 2)
        batched_row["ratio_vs_batched"] = 1.0
        for name in host_names:
            host_ratio = medians[PER_PROBE][name] / medians[BATCHED][name]
            baseline_row["hosts"][name]["ratio_vs_batched"] = round(host_ratio, 2)  # type: ignore[index]
    return rows


def table(rows: Sequence[dict[str, object]], host_names: Sequence[str]) -> str:
    head = ["delay/way", "mode", "probes", "exec req/host", "connect s", *[f"{n} s" for n in host_names]]
    head += ["median s/host", "per-probe/batched"]
    body: list[list[str]] = []
    for row in rows:
        hosts: dict[str, dict[str, float]] = row["hosts"]  # type: ignore[assignment]
        ratio = float(row["ratio_vs_batched"])  # type: ignore[arg-type]
        body.append(
            [
                f"{float(row['delay_ms']):g} ms",  # type: ignore[arg-type]
                str(row["mode"]),
                str(row["probes_per_host"]),
                str(row["exec_requests_per_host"]),
                f"{float(row['connect_median_s']):.3f}",  # type: ignore[arg-type]
                *[f"{hosts[n]['median_s']:.3f}" for n in host_names],
                f"{float(row['median_s_per_host']):.3f}",  # type: ignore[arg-type]
                "1.00x" if row["mode"] == BATCHED else f"{ratio:.2f}x",
            ]
        )
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = [
        "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True)))
        for r in [head, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_ssh",
        description="batched (1 exec request per host) vs per-probe exec requests, through a delay proxy",
    )
    parser.add_argument("--hosts", type=int, default=3, help="lab hosts to audit, labh1..labhN (default 3)")
    parser.add_argument("--delay-ms", type=float, default=50.0, help="one-way delay each direction (default 50)")
    parser.add_argument("--checks", type=int, default=0, help="probes per host (default 0: every shipped check)")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per host, mode and delay (default 3)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE ('-': stdout)")
    args = parser.parse_args(argv)
    if args.hosts < 1 or args.repeat < 1 or args.delay_ms < 0 or args.checks < 0:
        parser.error("--hosts and --repeat must be >= 1; --delay-ms and --checks >= 0")
    delays = [0.0] if args.delay_ms == 0 else [0.0, float(args.delay_ms)]

    started = datetime.now(UTC)
    try:
        lab = ensure_lab(args.hosts)
        lab_hosts = lab.hosts[: args.hosts]
        requests = shipped_requests(args.checks)
        samples, checks = measure(lab, lab_hosts, requests, delays, args.repeat)
    except (AuditorError, LabError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    names = [h.name for h in lab_hosts]
    rows = summarise(samples, delays, names)

    print(
        f"\n{len(names)} host(s), {len(requests)} probes per host (shipped checks), "
        f"median of {args.repeat} run(s); wall time per host = connect + auth + exec(s) + close\n"
    )
    print(table(rows, names))
    for name in names:
        info = checks[name]
        assert isinstance(info, dict)  # noqa: S101 - built above
        agree = info["agreement"]
        print(
            f"{name}: {info['os']}; warm-up cross-check per-probe vs batched: exit codes agree "
            f"{agree['same_exit_code']}/{agree['compared']}, stdout agrees {agree['same_stdout']}/{agree['compared']}"
        )

    if args.json:
        report = {
            "benchmark": "auditor batched SSH exec vs one exec request per probe",
            "started_at": started.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "command": " ".join([Path(sys.executable).name, "-m", "bench.bench_ssh", *(argv or sys.argv[1:])]),
            "parameters": {
                "hosts": names,
                "delays_ms_one_way": delays,
                "probes_per_host": len(requests),
                "repeat": args.repeat,
                "per_probe_command": "sudo -n sh -c '<probe command>'",
                "batched_command": "sudo -n sh -s  (script on stdin)",
            },
            "environment": {
                "python": platform.python_version(),
                "paramiko": paramiko.__version__,
                "kernel": platform.release(),
                "cpus": os.cpu_count(),
            },
            "results": rows,
            "checks": checks,
            "samples": [{k: v for k, v in asdict(s).items() if k != "results"} for s in samples],
        }
        text = json.dumps(report, indent=2, default=str) + "\n"
        if args.json == "-":
            print(text, end="")
        else:
            Path(args.json).write_text(text, encoding="utf-8")
            _progress(f"bench: figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
