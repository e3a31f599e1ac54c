"""Python API of the lab, for pytest fixtures and the CLI.

    from lab.api import up, down, LabInfo
    info = up(3)          # idempotent; returns when every sshd answers
    down()                # stops everything; the cached base stays

Failures raise :class:`lab.common.LabError`.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from lab import hosts
from lab.base import BASE_VERSION, GUEST_DIR, VERSION_FILE, base_ready, build_base
from lab.common import LabError, locked, require_root, run, state_dir
from lab.hosts import HostPaths
from lab.postures import config_hash, configure_script, guest_file, host_config, posture_for

__all__ = ["HostStatus", "LabError", "LabHost", "LabInfo", "down", "ensure_base", "load_info", "reset", "status", "up"]

USER = "auditor"
READY_TIMEOUT = 180.0


@dataclass(frozen=True)
class LabHost:
    name: str
    address: str
    port: int
    user: str
    posture: str
    upperdir: Path  # the host's overlay upper directory: everything written on the host
    rootdir: Path  # the host's merged root filesystem, as seen from the machine
    pid: int  # machine-side pid of the host's PID 1
    netns: str
    init_log: Path


@dataclass(frozen=True)
class LabInfo:
    state_dir: Path
    key_file: Path
    known_hosts_file: Path
    hosts: list[LabHost]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)


@dataclass(frozen=True)
class HostStatus:
    name: str
    address: str
    posture: str
    pid: int | None
    sshd: bool


def ensure_base(*, log: bool = False) -> Path:
    """The cached base root filesystem, built first if needed (hosts that used an old base go)."""
    require_root()
    state = state_dir()
    with locked(state):
        base = state / "base"
        if not base_ready(base):
            _destroy_all(state)
            build_base(state, log=log)
        return base


def up(n: int = 3, *, timeout: float = READY_TIMEOUT, log: bool = False) -> LabInfo:
    """Make sure labh1..labhN run (building the base if needed); return when sshd answers."""
    require_root()
    if n < 1 or n > 250:
        raise LabError("the lab supports 1 to 250 hosts")
    state = state_dir()
    with locked(state):
        state.chmod(0o755)
        base = state / "base"
        if not base_ready(base):
            _destroy_all(state)
            build_base(state, log=log)
        key = _ensure_key(state, base)
        pub = key.with_suffix(".pub").read_text(encoding="ascii")
        base_id = f"{BASE_VERSION}:{(base / VERSION_FILE).stat().st_mtime_ns}"
        for index in _known_indices(state):
            if index > n:
                hosts.destroy(HostPaths(index, state))
        actions: dict[str, str] = {}
        for index in range(1, n + 1):
            actions[f"labh{index}"] = _ensure_host(HostPaths(index, state), base, pub, base_id)
        paths = [HostPaths(i, state) for i in range(1, n + 1)]
        _wait_ready(paths, timeout)
        info = _info(state, key, paths)
        if log:
            for h in info.hosts:
                print(f"lab: {h.name} {actions[h.name]}", flush=True)
        return info


def reset(index: int, *, timeout: float = READY_TIMEOUT) -> LabInfo:
    """Recreate labh<index> from the base (fresh posture, new host keys); other hosts are kept."""
    require_root()
    state = state_dir()
    with locked(state):
        known = _known_indices(state)
        hosts.destroy(HostPaths(index, state))
    return up(max([index, *known]), timeout=timeout)


def down(*, purge: bool = False) -> None:
    """Stop every lab host and delete its namespace and files; ``purge`` also drops the base."""
    require_root()
    state = state_dir()
    with locked(state):
        _destroy_all(state)
        for name in ("lab.json", "known_hosts"):
            (state / name).unlink(missing_ok=True)
        if purge:
            for path in [state / "base", *state.glob("base.tmp-*")]:
                if path.exists():
                    shutil.rmtree(path)


def status() -> list[HostStatus]:
    state = state_dir()
    result = []
    for index in _known_indices(state):
        hp = HostPaths(index, state)
        posture = posture_for(index)
        sshd = hosts.sshd_answers(hp.address, posture.ssh_port)
        result.append(HostStatus(hp.name, hp.address, posture.name, hosts.init_pid(hp), sshd))
    return result


def load_info() -> LabInfo:
    """Read ``lab.json`` of a lab started earlier (by another process)."""
    data = json.loads((state_dir() / "lab.json").read_text(encoding="utf-8"))
    return LabInfo(
        state_dir=Path(data["state_dir"]),
        key_file=Path(data["key_file"]),
        known_hosts_file=Path(data["known_hosts_file"]),
        hosts=[
            LabHost(
                **{
                    **h,
                    "upperdir": Path(h["upperdir"]),
                    "rootdir": Path(h["rootdir"]),
                    "init_log": Path(h["init_log"]),
                }
            )
            for h in data["hosts"]
        ],
    )


# --- internals ---------------------------------------------------------------------------------


def _known_indices(state: Path) -> list[int]:
    found: set[int] = set()
    hosts_dir = state / "hosts"
    if hosts_dir.is_dir():
        for d in hosts_dir.iterdir():
            m = re.fullmatch(r"labh(\d+)", d.name)
            if m:
                found.add(int(m.group(1)))
    for ns in hosts.list_netns():
        m = re.fullmatch(re.escape(hosts.NS_PREFIX) + r"(\d+)", ns)
        if m:
            found.add(int(m.group(1)))
    for link in Path("/sys/class/net").glob("lab-h*"):
        m = re.fullmatch(r"lab-h(\d+)", link.name)
        if m:
            found.add(int(m.group(1)))
    return sorted(found)


def _destroy_all(state: Path) -> None:
    for index in _known_indices(state):
        hosts.destroy(HostPaths(index, state))
    hosts_dir = state / "hosts"
    if hosts_dir.is_dir():
        shutil.rmtree(hosts_dir)


def _ensure_key(state: Path, base: Path) -> Path:
    key = state / "id_ed25519"
    if key.is_file() and key.with_suffix(".pub").is_file():
        return key
    key.unlink(missing_ok=True)
    key.with_suffix(".pub").unlink(missing_ok=True)
    if shutil.which("ssh-keygen"):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "auditor-lab", "-f", key])
    else:  # use the base's ssh-keygen
        tmp = base / "root" / "lab-key"
        run(["chroot", base, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "auditor-lab", "-f", "/root/lab-key"])
        shutil.move(tmp, key)
        shutil.move(tmp.with_suffix(".pub"), key.with_suffix(".pub"))
    key.chmod(0o600)
    return key


def _write_guest_runtime(hp: HostPaths, posture_json: str) -> None:
    guest = hp.merged / GUEST_DIR
    guest.mkdir(parents=True, exist_ok=True)
    (guest / "init.py").write_text(guest_file("init.py"), encoding="utf-8")
    (guest / "host.json").write_text(posture_json, encoding="utf-8")
    hp.start_script.write_text(guest_file("start.sh"), encoding="utf-8")
    hp.start_script.chmod(0o755)


def _ensure_host(hp: HostPaths, base: Path, pub: str, base_id: str) -> str:
    """Bring one host to running; return what was done ("kept", "restarted", "created")."""
    posture = posture_for(hp.index)
    script = configure_script(posture, name=hp.name, index=hp.index)
    wanted = config_hash(base_id, script, pub, hp.name)
    posture_json = host_config(posture, name=hp.name, index=hp.index, config_hash=wanted)
    stamp = hp.stamp.read_text(encoding="ascii").strip() if hp.stamp.is_file() else ""
    configured = (hp.upper / GUEST_DIR / "configured").is_file()
    if stamp == wanted and configured:
        if hosts.unshare_pid(hp) and hosts.overlay_mounted(hp) and hosts.network_ok(hp):
            return "kept"
        hosts.kill_host(hp)
        if not hosts.network_ok(hp):
            hosts.create_network(hp)
        if not hosts.overlay_mounted(hp):
            hosts.unmount_all(hp)
            hosts.mount_overlay(hp, base)
        _write_guest_runtime(hp, posture_json)
        hosts.start(hp)
        return "restarted"
    hosts.destroy(hp)
    hp.dir.mkdir(parents=True)
    hosts.create_network(hp)
    hosts.mount_overlay(hp, base)
    guest = hp.merged / GUEST_DIR
    guest.mkdir(parents=True, exist_ok=True)
    (guest / "configure.sh").write_text(script, encoding="utf-8")
    (guest / "lab_key.pub").write_text(pub, encoding="ascii")
    _write_guest_runtime(hp, posture_json)
    hp.stamp.write_text(wanted + "\n", encoding="ascii")
    hosts.start(hp)
    return "created"


def _wait_ready(paths: list[HostPaths], timeout: float) -> None:
    pending = list(paths)
    deadline = time.monotonic() + timeout
    while pending:
        for hp in list(pending):
            if hosts.sshd_answers(hp.address, posture_for(hp.index).ssh_port, timeout=0.5):
                pending.remove(hp)
            elif hosts.unshare_pid(hp) is None:
                raise LabError(f"{hp.name} stopped before sshd answered; init log:\n{hosts.log_tail(hp)}")
        if not pending:
            return
        if time.monotonic() > deadline:
            names = ", ".join(hp.name for hp in pending)
            tails = "\n".join(f"--- {hp.name} ---\n{hosts.log_tail(hp)}" for hp in pending)
            raise LabError(f"sshd did not answer within {timeout:.0f}s on {names}\n{tails}")
        time.sleep(0.1)


def _info(state: Path, key: Path, paths: list[HostPaths]) -> LabInfo:
    lab_hosts: list[LabHost] = []
    known: list[str] = []
    for hp in paths:
        port = posture_for(hp.index).ssh_port
        target = hp.address if port == 22 else f"[{hp.address}]:{port}"
        for pub in sorted((hp.merged / "etc/ssh").glob("ssh_host_*_key.pub")):
            fields = pub.read_text(encoding="ascii").split()
            known.append(f"{target} {fields[0]} {fields[1]}")
        pid = hosts.init_pid(hp)
        if pid is None:
            raise LabError(f"{hp.name}: no init process\n{hosts.log_tail(hp)}")
        lab_hosts.append(
            LabHost(
                name=hp.name,
                address=hp.address,
                port=port,
                user=USER,
                posture=posture_for(hp.index).name,
                upperdir=hp.upper,
                rootdir=hp.merged,
                pid=pid,
                netns=hp.netns,
                init_log=hp.log,
            )
        )
    known_hosts = state / "known_hosts"
    known_hosts.write_text("\n".join(known) + "\n", encoding="ascii")
    info = LabInfo(state_dir=state, key_file=key, known_hosts_file=known_hosts, hosts=lab_hosts)
    (state / "lab.json").write_text(info.to_json() + "\n", encoding="utf-8")
    return info
