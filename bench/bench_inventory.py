"""Benchmark: how long a large inventory takes to load and to check, against plain YAML parsing of it.

Writes a generated inventory of ``--agencies`` agencies × ``--hosts`` hosts (about 5 MB with the defaults: every
host with its key file, roles, OS family and a comment line, as a provincial inventory is written), then measures
in this process, ``--repeat`` times each, the median of:

- ``baseline``: ``yaml.load`` with the libyaml safe loader (the fastest safe parse of the same file), no validation;
- ``load``: ``load_inventory``, what every command reading an inventory does before it starts (the schema, line
  numbers kept for errors, duplicate keys and alias bombs refused, roles and key files checked);
- ``check``: ``check_inventory`` without name resolution, what ``auditor inventory check FILE --no-resolve`` does.

    .venv/bin/python -m bench.bench_inventory [--agencies 1000] [--hosts 10] [--repeat 3]

Target: ``check`` of the default 5 MB inventory in at most 5 s.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_inventory.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from auditor.inventory import load_inventory
from auditor.inventory_check import check_inventory

TARGET_S = 5.0
ROLES = ("web", "db", "dns", "mail")


def write_inventory(path: Path, agencies: int, hosts: int) -> int:
    """A valid inventory of ``agencies`` × ``hosts`` with one private key file (0600) per agency; its size."""
    keys = path.parent / "keys"
    keys.mkdir(exist_ok=True)
    lines = ["# Generated for the inventory benchmark.", "agencies:"]
    for a in range(agencies):
        agency = f"agency-{a:04d}"
        key = keys / f"{agency}_ed25519"
        key.write_text("not a real key: only its presence and mode are checked\n", encoding="utf-8")
        key.chmod(0o600)
        lines += [
            f"  - id: {agency}",
            f'    name: {{vi: "Cơ quan báo chí điện tử số {a} của tỉnh", en: "Online press agency number {a}"}}',
            f'    contact: {{name: "Phòng Kỹ thuật - Công nghệ thông tin", email: "kythuat@{agency}.example",'
            f' phone: "0299 3820 {a:03d}"}}',
            "    hosts:",
        ]
        for h in range(hosts):
            second, third = divmod(a, 250)
            lines += [
                f"      # server {h + 1} of {hosts} in the agency's server room, rack {h // 4 + 1}, unit {h % 4 + 1};"
                " audited yearly against level 3,",
                "      # its owner the agency's technical department; maintenance window Sunday 22:00-24:00 (UTC+7)",
                f"      - name: {agency}-server-{h:02d}",
                f"        address: 10.{second}.{third}.{h + 2}",
                f"        port: {22 if h % 3 else 2222}",
                "        user: auditor",
                f"        key_file: keys/{agency}_ed25519",
                "        sudo: true",
                f"        roles: [{ROLES[h % len(ROLES)]}]",
                f"        os_family: {'debian' if h % 2 else 'rhel'}",
                "        probe_jobs: 4",
            ]
        lines += [
            f"    networks: [10.{a // 250}.{a % 250}.0/28]",
            f'    websites: ["https://{agency}.example/", "https://www.{agency}.example/tin-tuc/"]',
            "    inputs: {idle_timeout_seconds: 600, password_min_length: 14}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path.stat().st_size


def _median_seconds(action: Callable[[], object], repeat: int) -> tuple[float, list[float], float]:
    """The median wall time, every sample, and the median CPU time of this process (what a shared,
    busy machine disturbs least)."""
    samples, cpu = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        kept = action()
        gc.collect()  # the collector's work on what the action made counts too, whenever it would have run
        del kept
        samples.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return statistics.median(samples), samples, statistics.median(cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agencies", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=10, help="hosts per agency")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-inventory-") as folder:
        path = Path(folder) / "inventory.yml"
        size = write_inventory(path, args.agencies, args.hosts)
        print(f"inventory: {args.agencies} agencies × {args.hosts} hosts, {size / 1e6:.1f} MB", flush=True)

        def baseline() -> object:
            return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)

        def check() -> object:
            report = check_inventory(path, resolve=False)
            if report.errors:
                raise SystemExit(f"the generated inventory has errors: {report.errors[0].message}")
            return report

        results = {}
        for name, action in (("baseline", baseline), ("load", lambda: load_inventory(path)), ("check", check)):
            results[name] = _median_seconds(action, args.repeat)
            median, samples, cpu = results[name]
            spread = f"{min(samples):.2f}–{max(samples):.2f} s"
            print(f"{name:>9}: {median:6.2f} s (median of {args.repeat}: {spread}; CPU {cpu:.2f} s)", flush=True)
    base, base_cpu = results["baseline"][0], results["baseline"][2]
    print(f"load / baseline: {results['load'][0] / base:.2f}×, check / baseline: {results['check'][0] / base:.2f}×")
    print(f"in CPU time: load {results['load'][2] / base_cpu:.2f}×, check {results['check'][2] / base_cpu:.2f}×")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak_mb:.0f} MB")
    met = results["check"][0] <= TARGET_S
    print(f"target: check ≤ {TARGET_S:.0f} s: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
