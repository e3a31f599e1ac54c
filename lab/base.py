"""Build the cached Debian base root filesystem that every lab host overlays."""

from __future__ import annotations

import glob
import os
import shutil
import time
from pathlib import Path

from lab.common import LabError, run

SUITE = "bookworm"
# Bump when the base contents change: hosts built on an older base are recreated.
BASE_VERSION = "4"
VERSION_FILE = ".lab-base-version"
GUEST_DIR = "opt/auditor-lab"  # inside the root filesystem

BASE_PACKAGES = [
    "openssh-server",
    "python3",
    "sudo",
    "procps",
    "iproute2",
    "cron",
    "rsyslog",
    "logrotate",
    "libpam-pwquality",
    "cracklib-runtime",
    "ca-certificates",
    "nftables",
    "chrony",
    "less",
]
# Downloaded into the base but installed per host (offline, dpkg -i) only where a posture wants them.
EXTRA_GROUPS: dict[str, list[str]] = {
    "telnet": ["inetutils-telnetd", "openbsd-inetd"],
    "auditd": ["auditd"],
    "clamav": ["clamav-daemon", "clamdscan", "clamav"],
    "nginx": ["nginx"],
    "netsvc": ["mariadb-server", "vsftpd"],  # network agent lab services (issue 4)
}

_CHROOT_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "DEBIAN_FRONTEND": "noninteractive",
    "LC_ALL": "C",
    "HOME": "/root",
}


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                stanzas.append(current)
            current, key = {}, ""
            continue
        if line[0] in " \t" and key:
            current[key] += " " + line.strip()
            continue
        if ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def apt_mirrors() -> tuple[str, str | None]:
    """Return (main mirror, security mirror or None) as configured for apt on this machine."""
    main: str | None = None
    security: str | None = None
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for st in _deb822_stanzas(Path(path).read_text(encoding="utf-8", errors="replace")):
            if "deb" not in st.get("types", "").split() or st.get("enabled", "yes") == "no":
                continue
            uris = st.get("uris", "").split()
            suites = st.get("suites", "").split()
            if not uris:
                continue
            if SUITE in suites and main is None:
                main = uris[0]
            if f"{SUITE}-security" in suites and security is None:
                security = uris[0]
    lists = ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]
    for path in lists:
        p = Path(path)
        if not p.is_file():
            continue
        for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
            words = line.split("#", 1)[0].split()
            if not words or words[0] != "deb":
                continue
            words = [w for w in words[1:] if not w.startswith("[")]
            if len(words) < 2:
                continue
            if words[1] == SUITE and main is None:
                main = words[0]
            if words[1] == f"{SUITE}-security" and security is None:
                security = words[0]
    if main is None:
        raise LabError(f"no apt mirror for {SUITE} found in /etc/apt/sources.list(.d)")
    return main, security


def base_ready(base: Path) -> bool:
    vf = base / VERSION_FILE
    return vf.is_file() and vf.read_text(encoding="utf-8").strip() == BASE_VERSION


def _in_chroot(root: Path, script: str, *, network: bool, timeout: float = 900) -> None:
    """Run a shell script chrooted in ``root`` with /proc mounted in a private mount+PID ns.

    Without ``network`` it also gets an empty network namespace, so no package script can
    reach or bind anything on the real machine.
    """
    outer = 'set -e; R="$1"; mount -t proc proc "$R/proc"; exec chroot "$R" /bin/sh -ec "$2"'
    argv = ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private"]
    if not network:
        argv.append("--net")
    argv += ["/bin/sh", "-c", outer, "sh", str(root), script]
    run(argv, timeout=timeout, env=_CHROOT_ENV)


def build_base(state: Path, *, log: bool = True) -> float:
    """Build ``<state>/base`` (into a temp dir, renamed at the end). Returns seconds taken."""
    for tool in ("debootstrap", "unshare", "chroot"):
        if shutil.which(tool) is None:
            raise LabError(f"{tool} is missing on the machine (apt-get install debootstrap util-linux)")
    t0 = time.monotonic()
    base = state / "base"
    state.mkdir(parents=True, exist_ok=True)
    for stale in state.glob("base.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if base.exists():
        shutil.rmtree(base)
    tmp = state / f"base.tmp-{os.getpid()}"
    mirror, security = apt_mirrors()
    if log:
        print(f"lab: building base root filesystem from {mirror} (takes a minute or two)", flush=True)
    # Stage 1 downloads and unpacks; stage 2 configures offline with policy-rc.d in place, in
    # an empty network namespace: no package script can start a daemon on the real machine.
    run(
        [
            "debootstrap",
            "--foreign",
            "--variant=minbase",
            "--include=" + ",".join(BASE_PACKAGES),
            SUITE,
            tmp,
            mirror,
        ],
        timeout=1800,
    )
    _write(
        tmp / "usr/sbin/policy-rc.d",
        "#!/bin/sh\n# auditor lab: never start daemons from package scripts\nexit 101\n",
        0o755,
    )
    run(
        [
            "unshare",
            "--mount",
            "--pid",
            "--net",
            "--fork",
            "--kill-child",
            "--propagation",
            "private",
            "chroot",
            tmp,
            "/debootstrap/debootstrap",
            "--second-stage",
        ],
        timeout=1800,
        env=_CHROOT_ENV,
    )
    _write(
        tmp / "usr/sbin/policy-rc.d",
        "#!/bin/sh\n# auditor lab: never start daemons from package scripts\nexit 101\n",
        0o755,
    )
    sources = f"deb {mirror} {SUITE} main\n"
    if security:
        sources += f"deb {security} {SUITE}-security main\n"
    _write(tmp / "etc/apt/sources.list", sources, 0o644)
    resolv = Path("/etc/resolv.conf")
    if resolv.exists():
        (tmp / "etc/resolv.conf").unlink(missing_ok=True)
        shutil.copyfile(resolv, tmp / "etc/resolv.conf")
    downloads = " ".join(
        f"mkdir -p /{GUEST_DIR}/debs/{name}/partial; "
        f"apt-get -q -y --download-only -o Dir::Cache::archives=/{GUEST_DIR}/debs/{name}/ "
        f"install {' '.join(pkgs)}; rm -rf /{GUEST_DIR}/debs/{name}/partial /{GUEST_DIR}/debs/{name}/lock;"
        for name, pkgs in EXTRA_GROUPS.items()
    )
    _in_chroot(
        tmp,
        # Security updates go into the base: a fresh host has no pending ones.
        "apt-get clean; apt-get -q update; apt-get -q -y -o Dpkg::Use-Pty=0 upgrade; " + downloads + " apt-get clean",
        network=True,
    )
    _finish(tmp)
    _write(tmp / VERSION_FILE, BASE_VERSION + "\n", 0o644)
    tmp.rename(base)
    return time.monotonic() - t0


def _finish(root: Path) -> None:
    """Make the base neutral: no host keys, no kernel log reading, no machine identity."""
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    _write(root / "etc/resolv.conf", "", 0o644)
    _write(root / "etc/hostname", "localhost\n", 0o644)
    conf = root / "etc/rsyslog.conf"
    text = conf.read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        if "imklog" in line and not line.lstrip().startswith("#"):
            line = "#" + line + "  # auditor lab: hosts must not read the real kernel log"
        lines.append(line)
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mid = root / "etc/machine-id"
    if mid.exists():
        mid.write_text("", encoding="utf-8")
    debs = list((root / GUEST_DIR / "debs").glob("*/*.deb"))
    if not debs:
        raise LabError("no extra packages were downloaded into the base")


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
