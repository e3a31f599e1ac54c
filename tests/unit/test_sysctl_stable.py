"""source.sysctl_all leaves kernel counters out, so that an unchanged host gives the same record (and
evidence hash) at every audit; no check reads a key it leaves out."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from auditor.content.checks import Probe
from auditor.content.loader import load_content

CONTENT = load_content()
SYSCTL = CONTENT.sources["sysctl_all"]


def _volatile() -> tuple[set[str], set[str]]:
    """The probe's named list: exact keys, and families (the prefix before a trailing ".*")."""
    found = re.search(r"^\s*volatile='([^']*)'", SYSCTL.command, re.MULTILINE)
    assert found, "sysctl_all: the list of volatile keys (volatile='...') is missing"
    names = found.group(1).split()
    keys = {name for name in names if not name.endswith(".*")}
    families = {name[:-1] for name in names if name.endswith(".*")}  # "kernel.random.*" → "kernel.random."
    return keys, families


def _is_volatile(key: str) -> bool:
    keys, families = _volatile()
    key = key.split("@", 1)[0].lower()
    return key in keys or any(key.startswith(family) for family in families)


def _checks_keys() -> dict[str, set[str]]:
    """Every key each check reading sysctl_all selects."""
    keys: dict[str, set[str]] = {}
    for check in CONTENT.checks.values():
        probe = check.probe
        if isinstance(probe, Probe) and probe.source == SYSCTL.id:
            assert probe.select is not None and probe.select.key, f"{check.id}: reads sysctl_all without naming keys"
            keys[check.id] = {key.lower() for key in probe.select.key}
    return keys


def test_the_counters_seen_changing_between_two_reads_are_listed() -> None:
    keys, families = _volatile()
    assert {"fs.dentry-state", "fs.inode-state", "fs.inode-nr", "fs.file-nr", "kernel.ns_last_pid"} <= keys
    assert {"kernel.random.", "fs.quota."} <= families
    assert all(family.endswith(".") for family in families)  # a family is a whole level of names


def test_no_check_reads_a_key_the_source_leaves_out() -> None:
    read = _checks_keys()
    assert len(read) >= 6  # the sysctl checks and ASLR
    clashes = {check: sorted(k for k in keys if _is_volatile(k)) for check, keys in read.items()}
    assert not {check: keys for check, keys in clashes.items() if keys}
    assert not _is_volatile("kernel.randomize_va_space")  # "kernel.random." is a family, not a prefix of it
    # and no check's own command reads one behind the source's back
    keys, families = _volatile()
    for check in CONTENT.checks.values():
        command = check.probe.command if isinstance(check.probe, Probe) else None
        if command:
            named = [k for k in keys | families if k in command or k.replace(".", "/") in command]
            assert not named, f"{check.id} reads {named}"


FAKE_SYSCTL = """#!/bin/sh
cat <<EOF
fs.dentry-state = $1	251206	45	0	78557	0
fs.file-nr = $1	0	9223372036854775807
fs.inode-nr = $1	3
fs.quota.syncs = $1
fs.quotas_kept = 1
kernel.ns_last_pid = $1
kernel.random.uuid = $1-41d4-8e3a
kernel.random.boot_id = $1-4ca3
kernel.randomize_va_space = 2
kernel.pty.nr = $1
net.ipv4.ip_forward = 0
net.netfilter.nf_conntrack_count = $1
EOF
"""


def _read(tmp_path: Path, counter: str) -> str:
    fake = tmp_path / "sysctl"
    fake.write_text(FAKE_SYSCTL.replace("$1", counter))
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "LC_ALL": "C"}
    done = subprocess.run(["sh", "-c", SYSCTL.command], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return "\n".join(line for line in done.stdout.splitlines() if "@after-reboot" not in line)


@pytest.mark.parametrize("counter", ["1000", "2000"])
def test_the_probe_leaves_the_listed_keys_out_and_keeps_the_rest(tmp_path: Path, counter: str) -> None:
    lines = _read(tmp_path, counter).splitlines()
    keys = [line.split(" = ", 1)[0] for line in lines]
    assert keys == ["fs.quotas_kept", "kernel.randomize_va_space", "net.ipv4.ip_forward"]


def test_two_reads_of_an_unchanged_host_give_the_same_record(tmp_path: Path) -> None:
    first = _read(tmp_path, "1000")
    assert first == _read(tmp_path, "2000")
