#!/usr/bin/python3
"""PID 1 of an auditor lab host (runs inside the host, with the host's own python3).

Reads /opt/auditor-lab/host.json, configures the posture once, loads the firewall and the
per-namespace network sysctls, starts the posture's daemons and sshd, and reaps every child.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

GUEST = Path("/opt/auditor-lab")


def log(msg: str) -> None:
    print(f"[init {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def set_net_sysctls(values: dict[str, str]) -> None:
    """Write network sysctls of this network namespace only (never kernel.* or fs.*)."""
    for key, value in values.items():
        if not key.startswith(("net.ipv4.", "net.ipv6.")):
            log(f"refusing non-namespaced sysctl {key}")
            continue
        path = Path("/proc/sys") / key.replace(".", "/")
        try:
            path.write_text(f"{value}\n", encoding="ascii")
        except OSError as exc:
            log(f"sysctl {key}: {exc}")


def mount_temporary_filesystems() -> None:
    """/tmp and /var/tmp as their own tmpfs, and /dev/shm, all nodev,nosuid,noexec (this host only:
    its mount namespace is private)."""
    for point in ("/tmp", "/var/tmp"):
        rc = subprocess.call(["mount", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev,noexec,size=64m", "tmpfs", point])
        log(f"mounted {point} (rc={rc})")
    rc = subprocess.call(["mount", "-o", "remount,nosuid,nodev,noexec", "/dev/shm"])
    log(f"remounted /dev/shm noexec (rc={rc})")


def configure(cfg: dict[str, object]) -> None:
    marker = GUEST / "configured"
    if marker.exists():
        return
    log(f"configuring posture {cfg['posture']}")
    t0 = time.monotonic()
    rc = subprocess.call(["/bin/sh", "-eu", str(GUEST / "configure.sh")])
    if rc != 0:
        log(f"configure.sh failed with exit code {rc}")
        sys.exit(1)
    marker.write_text(str(cfg["config_hash"]) + "\n", encoding="ascii")
    log(f"configured in {time.monotonic() - t0:.1f}s")


def main() -> None:
    cfg = json.loads((GUEST / "host.json").read_text(encoding="utf-8"))
    os.environ.clear()
    os.environ.update(PATH="/usr/sbin:/usr/bin:/sbin:/bin", LANG="C.UTF-8", HOME="/root")
    os.umask(0o022)
    socket.sethostname(cfg["name"])
    os.chdir("/")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    Path("/run/lock").mkdir(mode=0o1777, exist_ok=True)
    configure(cfg)
    set_net_sysctls(cfg.get("net_sysctls", {}))
    if cfg.get("tmp_mounts"):
        mount_temporary_filesystems()
    if cfg.get("nft"):
        rc = subprocess.call(["nft", "-f", "/etc/nftables.conf"])
        log(f"nftables ruleset loaded (rc={rc})")
    else:
        subprocess.call(["nft", "flush", "ruleset"], stderr=subprocess.DEVNULL)

    children: dict[int, list[str]] = {}

    def stop(signum: int, _frame: object) -> None:
        log(f"signal {signum}: stopping")
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    for argv in cfg["services"]:
        proc = subprocess.Popen(argv)
        children[proc.pid] = argv
        log(f"started {' '.join(argv)} (pid {proc.pid})")
        if Path(argv[0]).name == "rsyslogd":
            deadline = time.monotonic() + 5
            while not Path("/dev/log").exists() and time.monotonic() < deadline:
                time.sleep(0.05)

    def start_sshd() -> int:
        proc = subprocess.Popen(cfg["sshd"])
        children[proc.pid] = cfg["sshd"]
        log(f"started {' '.join(cfg['sshd'])} (pid {proc.pid})")
        return proc.pid

    sshd_pid = start_sshd()
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            time.sleep(1)
            continue
        argv = children.pop(pid, None)
        if argv is None:
            continue  # an orphan re-parented to us: reaped, nothing else to do
        log(f"{' '.join(argv)} exited with status {status}")
        if pid == sshd_pid:
            time.sleep(1)
            sshd_pid = start_sshd()


if __name__ == "__main__":
    main()
