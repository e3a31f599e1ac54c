"""Command line: ``python -m lab up [N] [--release bookworm|trixie]``, ``down [--purge]``, ``status``,
``ca`` (web servers' CA bundle)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lab.api import down, info_file, load_info, status, up
from lab.base import DEFAULT_RELEASE, RELEASES
from lab.common import LabError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description="auditor test lab (run as root)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="build the base if needed and start labh1..labhN (labt1..labtN on trixie)")
    p_up.add_argument("n", nargs="?", type=int, default=3, help="number of hosts (default 3)")
    p_up.add_argument(
        "--release",
        choices=sorted(RELEASES),
        default=DEFAULT_RELEASE,
        help=f"Debian release of the hosts (default {DEFAULT_RELEASE}); both releases can run side by side",
    )
    p_up.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for sshd")
    p_down = sub.add_parser("down", help="stop all hosts and delete their state")
    p_down.add_argument("--purge", action="store_true", help="also delete the cached base")
    sub.add_parser("status", help="show hosts and whether sshd answers")
    p_ca = sub.add_parser("ca", help="print the lab web servers' CA certificates (a bundle for --trust-ca)")
    p_ca.add_argument("--release", choices=sorted(RELEASES), default=DEFAULT_RELEASE)
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            t0 = time.monotonic()
            info = up(args.n, release_name=args.release, timeout=args.timeout, log=True)
            print(f"lab: {len(info.hosts)} host(s) ready in {time.monotonic() - t0:.1f}s")
            print(f"{'host':<8} {'address':<12} {'posture':<9} {'pid':>7}  upperdir")
            for h in info.hosts:
                print(f"{h.name:<8} {h.address:<12} {h.posture:<9} {h.pid:>7}  {h.upperdir}")
            print(f"key:         {info.key_file}")
            print(f"known_hosts: {info.known_hosts_file}")
            print(f"info:        {info_file(args.release)}")
            first = info.hosts[0]
            print(
                f"try:         ssh -i {info.key_file} -o UserKnownHostsFile={info.known_hosts_file} "
                f"{first.user}@{first.address} sudo -n id"
            )
        elif args.command == "down":
            down(purge=args.purge)
            print("lab: down" + (" (base purged)" if args.purge else ""))
        elif args.command == "ca":
            bundle = [
                ca.read_text(encoding="ascii")
                for ca in (Path(h.rootdir) / "etc/auditor-lab-ca/ca.pem" for h in load_info(args.release).hosts)
                if ca.is_file()
            ]
            if not bundle:
                raise LabError("no lab CA found: is the lab up (python -m lab up)?")
            sys.stdout.write("".join(bundle))
        else:
            rows = status()
            if not rows:
                print("lab: no hosts")
            for row in rows:
                state = f"pid {row.pid}" if row.pid else "not running"
                ssh = "sshd answers" if row.sshd else "sshd does not answer"
                print(f"{row.name:<8} {row.address:<12} {row.posture:<9} {state:<14} {ssh}")
    except LabError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
