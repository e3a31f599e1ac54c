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
from lab.base import DEFAULT_RELEASE, GUEST_DIR, RELEASES, VERSION_FILE, base_path, base_ready, build_base, release
from lab.common import LabError, locked, require_root, run, state_dir
from lab.hosts import HostPaths
from lab.postures import config_hash, configure_script, guest_file, host_config, posture_for

__all__ = [
    "HostStatus",
    "LabError",
    "LabHost",
    "LabInfo",
    "down",
    "ensure_base",
    "info_file",
    "load_info",
    "reset",
    "status",
    "up",
]

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


def ensure_base(release_name: str = DEFAULT_RELEASE, *, log: bool = False) -> Path:
    """The cached base root filesystem of a release, built first if needed (hosts that used an
    old base of that release go)."""
    require_root()
    state = state_dir()
    with locked(state):
        return _ensure_base(state, release_name, log=log)


def _ensure_base(state: Path, release_name: str, *, log: bool) -> Path:
    base = base_path(state, release_name)
    if not base_ready(base, release_name):
        _destroy_all(state, only_release=release_name)
        build_base(state, name=release_name, log=log)
    return base


def up(
    n: int = 3, *, release_name: str = DEFAULT_RELEASE, timeout: float = READY_TIMEOUT, log: bool = False
) -> LabInfo:
    """Make sure the first ``n`` hosts of a release run (labh1..labhN on bookworm, labt1..labtN on
    trixie), building its base if needed; return when every sshd answers. Hosts of the other
    release are left alone."""
    require_root()
    release(release_name)
    if n < 1 or n > 250:
        raise LabError("the lab supports 1 to 250 hosts")
    state = state_dir()
    with locked(state):
        state.chmod(0o755)
        base = _ensure_base(state, release_name, log=log)
        key = _ensure_key(state, base)
        pub = key.with_suffix(".pub").read_text(encoding="ascii")
        base_id = f"{release(release_name).version}:{(base / VERSION_FILE).stat().st_mtime_ns}"
        for index in _known_indices(state, release_name):
            if index > n:
                hosts.destroy(HostPaths(index, state, release_name))
        paths = [HostPaths(i, state, release_name) for i in range(1, n + 1)]
        actions = {hp.name: _ensure_host(hp, base, pub, base_id) for hp in paths}
        _wait_ready(paths, timeout)
        info = _info(state, key, paths)
        if log:
            for h in info.hosts:
                print(f"lab: {h.name} {actions[h.name]}", flush=True)
        return info


def reset(index: int, *, release_name: str = DEFAULT_RELEASE, timeout: float = READY_TIMEOUT) -> LabInfo:
    """Recreate one host from the base (fresh posture, new host keys); other hosts are kept."""
    require_root()
    state = state_dir()
    with locked(state):
        known = _known_indices(state, release_name)
        hosts.destroy(HostPaths(index, state, release_name))
    return up(max([index, *known]), release_name=release_name, timeout=timeout)


def down(*, purge: bool = False) -> None:
    """Stop every lab host of every release and delete its namespace and files; ``purge`` also
    drops the cached bases."""
    require_root()
    state = state_dir()
    with locked(state):
        _destroy_all(state)
        for name in RELEASES:
            for path in (_info_file(state, name), _known_hosts_file(state, name)):
                path.unlink(missing_ok=True)
        if purge:
            for rel in RELEASES.values():
                for path in [state / rel.dirname, *state.glob(f"{rel.dirname}.tmp-*")]:
                    if path.exists():
                        shutil.rmtree(path)


def status() -> list[HostStatus]:
    state = state_dir()
    result = []
    for release_name in RELEASES:
        for index in _known_indices(state, release_name):
            hp = HostPaths(index, state, release_name)
            posture = posture_for(index)
            sshd = hosts.sshd_answers(hp.address, posture.ssh_port)
            result.append(HostStatus(hp.name, hp.address, posture.name, hosts.init_pid(hp), sshd))
    return result


def load_info(release_name: str = DEFAULT_RELEASE) -> LabInfo:
    """Read ``lab.json`` (``lab-<release>.json`` for other releases) of a lab started earlier."""
    data = json.loads(_info_file(state_dir(), release_name).read_text(encoding="utf-8"))
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


def info_file(release_name: str = DEFAULT_RELEASE) -> Path:
    """Where ``up`` records a release's hosts (read back by :func:`load_info`)."""
    return _info_file(state_dir(), release_name)


def _info_file(state: Path, release_name: str) -> Path:
    return state / ("lab.json" if release_name == DEFAULT_RELEASE else f"lab-{release_name}.json")


def _known_hosts_file(state: Path, release_name: str) -> Path:
    return state / ("known_hosts" if release_name == DEFAULT_RELEASE else f"known_hosts-{release_name}")


def _known_indices(state: Path, release_name: str) -> list[int]:
    naming = hosts.NAMING[release_name]
    found: set[int] = set()
    hosts_dir = state / "hosts"
    if hosts_dir.is_dir():
        for d in hosts_dir.iterdir():
            m = re.fullmatch(re.escape(naming.name_prefix) + r"(\d+)", d.name)
            if m:
                found.add(int(m.group(1)))
    for ns in hosts.list_netns():
        m = re.fullmatch(re.escape(naming.netns_prefix) + r"(\d+)", ns)
        if m:
            found.add(int(m.group(1)))
    for link in Path("/sys/class/net").glob(f"{naming.veth_prefix}*"):
        m = re.fullmatch(re.escape(naming.veth_prefix) + r"(\d+)", link.name)
        if m:
            found.add(int(m.group(1)))
    return sorted(found)


def _destroy_all(state: Path, *, only_release: str | None = None) -> None:
    """Destroy the hosts of one release (``only_release``) or of every release."""
    for release_name in [only_release] if only_release else list(RELEASES):
        for index in _known_indices(state, release_name):
            hosts.destroy(HostPaths(index, state, release_name))
    hosts_dir = state / "hosts"
    if only_release is None and hosts_dir.is_dir():
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
    script = configure_script(posture, paths=hp)
    wanted = config_hash(base_id, script, pub, hp.name)
    posture_json = host_config(posture, paths=hp, config_hash=wanted)
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
    release_name = paths[0].release
    known_hosts = _known_hosts_file(state, release_name)
    known_hosts.write_text("\n".join(known) + "\n", encoding="ascii")
    info = LabInfo(state_dir=state, key_file=key, known_hosts_file=known_hosts, hosts=lab_hosts)
    _info_file(state, release_name).write_text(info.to_json() + "\n", encoding="utf-8")
    return info
