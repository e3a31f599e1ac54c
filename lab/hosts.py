"""Mechanics of one lab host: network namespace, overlay, processes."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lab.common import LabError, run

NS_PREFIX = "auditor-labh"
NAME_PREFIX = "labh"


@dataclass(frozen=True)
class HostNaming:
    """How the hosts of one release are named and addressed (labh<i> 10.200.i.2, labt<i> 10.201.i.2)."""

    letter: str  # labh<i> for bookworm, labt<i> for trixie
    subnet: int  # second octet of 10.<subnet>.<i>.0/30

    @property
    def name_prefix(self) -> str:
        return f"lab{self.letter}"

    @property
    def netns_prefix(self) -> str:
        return f"auditor-lab{self.letter}"

    @property
    def veth_prefix(self) -> str:
        return f"lab-{self.letter}"


NAMING: dict[str, HostNaming] = {"bookworm": HostNaming("h", 200), "trixie": HostNaming("t", 201)}


@dataclass(frozen=True)
class HostPaths:
    """Where one host lives on the machine and in the network."""

    index: int
    state: Path
    release: str = "bookworm"

    @property
    def naming(self) -> HostNaming:
        return NAMING[self.release]

    @property
    def name(self) -> str:
        return f"{self.naming.name_prefix}{self.index}"

    @property
    def netns(self) -> str:
        return f"{self.naming.netns_prefix}{self.index}"

    @property
    def veth(self) -> str:
        return f"{self.naming.veth_prefix}{self.index}"

    @property
    def address(self) -> str:
        return f"10.{self.naming.subnet}.{self.index}.2"

    @property
    def hostside(self) -> str:
        return f"10.{self.naming.subnet}.{self.index}.1"

    @property
    def dir(self) -> Path:
        return self.state / "hosts" / self.name

    @property
    def upper(self) -> Path:
        return self.dir / "upper"

    @property
    def work(self) -> Path:
        return self.dir / "work"

    @property
    def merged(self) -> Path:
        return self.dir / "merged"

    @property
    def log(self) -> Path:
        return self.dir / "init.log"

    @property
    def pidfile(self) -> Path:
        return self.dir / "unshare.pid"

    @property
    def stamp(self) -> Path:
        return self.dir / "stamp"

    @property
    def start_script(self) -> Path:
        return self.dir / "start.sh"


# --- processes ------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a process, or None if it is gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = data[data.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    """True for a live process; zombies (which still pass ``kill -0``) count as dead."""
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X", "x")


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def unshare_pid(hp: HostPaths) -> int | None:
    """The live ``unshare`` process of the host, if any."""
    try:
        pid = int(hp.pidfile.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    if alive(pid) and str(hp.start_script) in _cmdline(pid):
        return pid
    return None


def init_pid(hp: HostPaths) -> int | None:
    """The machine-side pid of the host's PID 1 (the child of its ``unshare``)."""
    parent = unshare_pid(hp)
    if parent is None:
        return None
    for pid in _all_pids():
        st = _stat(pid)
        if st is not None and st[1] == parent and st[0] not in ("Z", "X", "x"):
            return pid
    return None


def host_pids(hp: HostPaths) -> set[int]:
    """Every live process that belongs to the host, however it was started."""
    pids: set[int] = set()
    marker = str(hp.start_script)
    root_prefix = str(hp.merged)
    ns_inode = None
    with contextlib.suppress(OSError):
        ns_inode = os.stat(f"/run/netns/{hp.netns}").st_ino
    for pid in _all_pids():
        if pid == os.getpid() or not alive(pid):
            continue
        if marker in _cmdline(pid):
            pids.add(pid)
            continue
        try:
            root = os.readlink(f"/proc/{pid}/root")
        except OSError:
            continue
        if root == root_prefix or root.startswith(root_prefix + "/"):
            pids.add(pid)
            continue
        if ns_inode is not None:
            try:
                if os.stat(f"/proc/{pid}/ns/net").st_ino == ns_inode:
                    pids.add(pid)
            except OSError:
                pass
    return pids


def kill_host(hp: HostPaths, timeout: float = 10.0) -> None:
    """SIGKILL every process of the host and wait until none is alive."""
    deadline = time.monotonic() + timeout
    while True:
        pids = host_pids(hp)
        if not pids:
            return
        if time.monotonic() > deadline:
            raise LabError(f"{hp.name}: processes would not die: {sorted(pids)}")
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def start(hp: HostPaths) -> int:
    """Start the host detached from us; return the pid of its ``unshare`` process."""
    hp.pidfile.unlink(missing_ok=True)
    launcher = (
        'echo $$ > "$1"; exec ip netns exec "$2" unshare --mount --pid --uts --ipc --fork '
        '--kill-child --propagation private /bin/sh "$3" "$4"'
    )
    with hp.log.open("ab") as log:
        log.write(f"\n=== lab: starting {hp.name} at {time.strftime('%F %T')} ===\n".encode())
        log.flush()
        proc = subprocess.Popen(
            [
                "setsid",
                "-f",
                "/bin/sh",
                "-c",
                launcher,
                "sh",
                str(hp.pidfile),
                hp.netns,
                str(hp.start_script),
                str(hp.merged),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            close_fds=True,
        )
        proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pid = unshare_pid(hp)
        if pid is not None:
            return pid
        time.sleep(0.02)
    raise LabError(f"{hp.name}: did not start\n{log_tail(hp)}")


def log_tail(hp: HostPaths, lines: int = 25) -> str:
    try:
        text = hp.log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no init log)"
    return "\n".join(text.splitlines()[-lines:])


def sshd_answers(address: str, port: int = 22, timeout: float = 1.0) -> bool:
    """True if something on address:port sends an SSH banner."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


# --- network ---------------------------------------------------------------------------------


def netns_exists(hp: HostPaths) -> bool:
    return Path(f"/run/netns/{hp.netns}").exists()


def network_ok(hp: HostPaths) -> bool:
    if not netns_exists(hp):
        return False
    host = run(["ip", "-o", "-4", "addr", "show", "dev", hp.veth], check=False)
    inner = run(["ip", "-n", hp.netns, "-o", "-4", "addr", "show", "dev", "eth0"], check=False)
    return (
        host.returncode == 0
        and f"{hp.hostside}/30" in host.stdout
        and inner.returncode == 0
        and f"{hp.address}/30" in inner.stdout
    )


def create_network(hp: HostPaths) -> None:
    delete_network(hp)
    run(["ip", "netns", "add", hp.netns])
    run(["ip", "link", "add", hp.veth, "type", "veth", "peer", "name", "eth0", "netns", hp.netns])
    run(["ip", "addr", "add", f"{hp.hostside}/30", "dev", hp.veth])
    run(["ip", "link", "set", hp.veth, "up"])
    run(["ip", "-n", hp.netns, "addr", "add", f"{hp.address}/30", "dev", "eth0"])
    run(["ip", "-n", hp.netns, "link", "set", "eth0", "up"])
    run(["ip", "-n", hp.netns, "link", "set", "lo", "up"])


def delete_network(hp: HostPaths) -> None:
    if netns_exists(hp) or hp.netns in list_netns():
        run(["ip", "netns", "delete", hp.netns], check=False)
    if Path(f"/sys/class/net/{hp.veth}").exists():
        run(["ip", "link", "delete", hp.veth], check=False)


def list_netns() -> list[str]:
    out = run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


# --- overlay ---------------------------------------------------------------------------------


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path``, deepest first."""
    prefix = str(path)
    found: list[str] = []
    for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            found.append(point)
    return sorted(set(found), key=len, reverse=True)


def overlay_mounted(hp: HostPaths) -> bool:
    for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
        left, _, right = line.partition(" - ")
        if left.split()[4] == str(hp.merged) and right.split()[0] == "overlay":
            return True
    return False


def mount_overlay(hp: HostPaths, base: Path) -> None:
    for d in (hp.upper, hp.work, hp.merged):
        d.mkdir(parents=True, exist_ok=True)
    opts = f"lowerdir={base},upperdir={hp.upper},workdir={hp.work}"
    run(["mount", "-t", "overlay", "overlay", "-o", opts, hp.merged])


def unmount_all(hp: HostPaths) -> None:
    for _ in range(20):
        points = mounts_under(hp.dir)
        if not points:
            return
        for point in points:
            if run(["umount", point], check=False).returncode != 0:
                time.sleep(0.05)
    for point in mounts_under(hp.dir):
        run(["umount", "-l", point], check=False)
    if mounts_under(hp.dir):
        raise LabError(f"{hp.name}: could not unmount {mounts_under(hp.dir)}")


def destroy(hp: HostPaths) -> None:
    """Kill, unmount and delete everything of one host."""
    kill_host(hp)
    unmount_all(hp)
    delete_network(hp)
    if hp.dir.exists():
        shutil.rmtree(hp.dir)
