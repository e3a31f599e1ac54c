"""Build the cached Debian base root filesystem that every lab host overlays."""

from __future__ import annotations

import glob
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from lab.common import LabError, run

# Bump a release's version when its base contents change: hosts built on an older base are recreated.
VERSION_FILE = ".lab-base-version"
GUEST_DIR = "opt/auditor-lab"  # inside the root filesystem

_COMMON_PACKAGES = [
    "openssh-server",
    "python3",
    "sudo",
    "procps",
    "iproute2",
    "cron",
    "logrotate",
    "libpam-pwquality",
    "cracklib-runtime",
    "ca-certificates",
    "nftables",
    "chrony",
    "less",
]
# Downloaded into the base but installed per host (offline, dpkg -i) only where a posture wants them.
_COMMON_EXTRAS: dict[str, list[str]] = {
    "telnet": ["inetutils-telnetd", "openbsd-inetd"],
    "auditd": ["auditd"],
    "clamav": ["clamav-daemon", "clamdscan", "clamav"],
    "nginx": ["nginx"],
    "netsvc": ["mariadb-server", "vsftpd"],  # network agent lab services (issue 4)
}
# File-integrity monitoring and automatic security updates (the hardened posture).
_HARDENING = ["aide", "aide-common", "unattended-upgrades"]
# Groups downloaded without recommended packages: aide-common recommends a mailer, which would
# pull a whole mail server into the hosts.
_WITHOUT_RECOMMENDS = frozenset({"hardening"})


@dataclass(frozen=True)
class Release:
    """One Debian release the lab can boot: its suite, base contents and cache folder."""

    suite: str
    version: str
    packages: list[str]
    extra_groups: dict[str, list[str]]
    dirname: str  # the cached base under the lab state directory
    # Installed with apt after debootstrap (which orders them wrongly: e.g. trixie's cron needs
    # "systemd | systemd-sysusers" and systemd pre-depends on a library debootstrap leaves unconfigured).
    apt_packages: tuple[str, ...] = ()

    @property
    def syslog_in_base(self) -> bool:
        return "rsyslog" in (*self.packages, *self.apt_packages)


RELEASES: dict[str, Release] = {
    # Debian 12: rsyslog is part of a default installation.
    # aide-common needs systemd's sysusers: the standalone one, as the bookworm base has no systemd.
    "bookworm": Release(
        "bookworm",
        "5",
        [*_COMMON_PACKAGES, "rsyslog"],
        {**_COMMON_EXTRAS, "hardening": [*_HARDENING, "systemd-standalone-sysusers"]},
        "base",
    ),
    # Debian 13: no rsyslog by default (the journal is the system log); postures that want a
    # syslog daemon install it from the base's extra packages.
    # systemd is there as on any trixie installation (journald's files, systemctl), but the lab
    # cannot run it as PID 1.
    "trixie": Release(
        "trixie",
        "3",
        [],
        {**_COMMON_EXTRAS, "rsyslog": ["rsyslog"], "hardening": _HARDENING},
        "base-trixie",
        apt_packages=("systemd", *_COMMON_PACKAGES),
    ),
}
DEFAULT_RELEASE = "bookworm"
SUITE = RELEASES[DEFAULT_RELEASE].suite
BASE_VERSION = RELEASES[DEFAULT_RELEASE].version


def release(name: str) -> Release:
    try:
        return RELEASES[name]
    except KeyError:
        raise LabError(f"unknown release {name!r}: the lab knows {', '.join(RELEASES)}") from None


def base_path(state: Path, name: str = DEFAULT_RELEASE) -> Path:
    return state / release(name).dirname


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


def apt_mirrors(suite: str = SUITE, apt_dir: Path = Path("/etc/apt")) -> tuple[str, str | None]:
    """Return (main mirror, security mirror or None) for ``suite`` as configured for apt on this machine.

    A suite the machine does not use itself (trixie on a bookworm machine) is fetched from the
    same Debian mirror as the machine's own release: Debian mirrors carry every suite.
    """
    for wanted in (suite, None):
        found = _apt_mirrors(wanted, apt_dir)
        if found[0] is not None:
            return found[0], found[1]
    raise LabError(f"no Debian apt mirror found in {apt_dir}/sources.list(.d) for {suite}")


def _debian_suite(name: str) -> bool:
    return name.split("-")[0] in {r.suite for r in RELEASES.values()} | {"bullseye", "sid", "forky"}


def _apt_mirrors(suite: str | None, apt_dir: Path) -> tuple[str | None, str | None]:
    """Mirrors that list ``suite`` (or, with None, any Debian suite) for the main and security archives."""
    main: str | None = None
    security: str | None = None
    for path in sorted(glob.glob(f"{apt_dir}/sources.list.d/*.sources")):
        for st in _deb822_stanzas(Path(path).read_text(encoding="utf-8", errors="replace")):
            if "deb" not in st.get("types", "").split() or st.get("enabled", "yes") == "no":
                continue
            uris = st.get("uris", "").split()
            suites = st.get("suites", "").split()
            if not uris:
                continue
            for name in suites:
                if not (name in (suite, f"{suite}-security") or (suite is None and _debian_suite(name))):
                    continue
                if name.endswith("-security"):
                    security = security or uris[0]
                elif "-" not in name:
                    main = main or uris[0]
    lists = [f"{apt_dir}/sources.list", *sorted(glob.glob(f"{apt_dir}/sources.list.d/*.list"))]
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
            name = words[1].split("-")[0] if suite is None else suite
            if words[1] == name and _debian_suite(name):
                main = main or words[0]
            if words[1] == f"{name}-security" and _debian_suite(name):
                security = security or words[0]
    return main, security


def base_ready(base: Path, name: str = DEFAULT_RELEASE) -> bool:
    vf = base / VERSION_FILE
    return vf.is_file() and vf.read_text(encoding="utf-8").strip() == release(name).version


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


def build_base(state: Path, *, name: str = DEFAULT_RELEASE, log: bool = True) -> float:
    """Build the base of release ``name`` under ``state`` (into a temp dir, renamed at the end).

    Returns seconds taken.
    """
    rel = release(name)
    for tool in ("debootstrap", "unshare", "chroot"):
        if shutil.which(tool) is None:
            raise LabError(f"{tool} is missing on the machine (apt-get install debootstrap util-linux)")
    t0 = time.monotonic()
    base = base_path(state, name)
    state.mkdir(parents=True, exist_ok=True)
    for stale in state.glob(f"{rel.dirname}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if base.exists():
        shutil.rmtree(base)
    tmp = state / f"{rel.dirname}.tmp-{os.getpid()}"
    mirror, security = apt_mirrors(rel.suite)
    if log:
        print(f"lab: building the {rel.suite} base root filesystem from {mirror} (a minute or two)", flush=True)
    # Stage 1 downloads and unpacks; stage 2 configures offline with policy-rc.d in place, in
    # an empty network namespace: no package script can start a daemon on the real machine.
    run(
        [
            "debootstrap",
            "--foreign",
            "--variant=minbase",
            *(["--include=" + ",".join(rel.packages)] if rel.packages else []),
            rel.suite,
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
    sources = f"deb {mirror} {rel.suite} main\n"
    if security:
        sources += f"deb {security} {rel.suite}-security main\n"
    _write(tmp / "etc/apt/sources.list", sources, 0o644)
    resolv = Path("/etc/resolv.conf")
    if resolv.exists():
        (tmp / "etc/resolv.conf").unlink(missing_ok=True)
        shutil.copyfile(resolv, tmp / "etc/resolv.conf")
    downloads = " ".join(
        f"mkdir -p /{GUEST_DIR}/debs/{group}/partial; "
        f"apt-get -q -y --download-only -o Dir::Cache::archives=/{GUEST_DIR}/debs/{group}/ "
        f"{'--no-install-recommends ' if group in _WITHOUT_RECOMMENDS else ''}install {' '.join(pkgs)}; "
        f"rm -rf /{GUEST_DIR}/debs/{group}/partial /{GUEST_DIR}/debs/{group}/lock;"
        for group, pkgs in rel.extra_groups.items()
    )
    _in_chroot(
        tmp,
        # Security updates go into the base: a fresh host has no pending ones.
        "apt-get clean; apt-get -q update; apt-get -q -y -o Dpkg::Use-Pty=0 upgrade; "
        + (
            f"apt-get -q -y -o Dpkg::Use-Pty=0 --no-install-recommends install {' '.join(rel.apt_packages)}; "
            if rel.apt_packages
            else ""
        )
        + downloads
        + " apt-get clean",
        network=True,
    )
    _finish(tmp)
    _write(tmp / VERSION_FILE, rel.version + "\n", 0o644)
    tmp.rename(base)
    return time.monotonic() - t0


def _finish(root: Path) -> None:
    """Make the base neutral: no host keys, no kernel log reading, no machine identity."""
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    _write(root / "etc/resolv.conf", "", 0o644)
    _write(root / "etc/hostname", "localhost\n", 0o644)
    disable_imklog(root)
    mid = root / "etc/machine-id"
    if mid.exists():
        mid.write_text("", encoding="utf-8")
    debs = list((root / GUEST_DIR / "debs").glob("*/*.deb"))
    if not debs:
        raise LabError("no extra packages were downloaded into the base")


def disable_imklog(root: Path) -> None:
    """Comment rsyslog's kernel log input out: a lab host must not read the real kernel log.

    Also used inside hosts that install rsyslog later (lab/guest/common.sh does the same with sed).
    """
    conf = root / "etc/rsyslog.conf"
    if not conf.is_file():
        return
    lines = []
    for line in conf.read_text(encoding="utf-8").splitlines():
        if "imklog" in line and not line.lstrip().startswith("#"):
            line = "#" + line + "  # auditor lab: hosts must not read the real kernel log"
        lines.append(line)
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
