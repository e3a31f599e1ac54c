"""Family detection on the os-release files of Debian 12 and 13, Ubuntu 22.04 and 24.04, Rocky Linux 9, AlmaLinux 8
and 10 and RHEL 9 (tests/data/os-release/), read by the same shell code that runs on every audited host. Each file is
the release's own, byte for byte: Debian's as the lab's debootstrapped bases install them, the others as printed by
`cat /etc/os-release` on running systems in published captures (point releases vary; the fields do not)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.collectors.ssh.script import build_script, new_token, parse_stream
from auditor.collectors.ssh.transport import LocalTransport
from auditor.evaluation.observations import HostFacts

RELEASES = Path(__file__).parent.parent / "data" / "os-release"

# file → (family, ID, VERSION_ID, PRETTY_NAME)
EXPECTED = {
    "debian-12": ("debian", "debian", "12", "Debian GNU/Linux 12 (bookworm)"),
    "debian-13": ("debian", "debian", "13", "Debian GNU/Linux 13 (trixie)"),
    "ubuntu-22.04": ("debian", "ubuntu", "22.04", "Ubuntu 22.04.4 LTS"),
    "ubuntu-24.04": ("debian", "ubuntu", "24.04", "Ubuntu 24.04.3 LTS"),
    "rocky-9": ("rhel", "rocky", "9.3", "Rocky Linux 9.3 (Blue Onyx)"),
    "rhel-9": ("rhel", "rhel", "9.6", "Red Hat Enterprise Linux 9.6 (Plow)"),
    "alma-8": ("rhel", "almalinux", "8.10", "AlmaLinux 8.10 (Cerulean Leopard)"),
    "alma-10": ("rhel", "almalinux", "10.0", "AlmaLinux 10.0 (Purple Lion)"),
}
SHELLS = [
    pytest.param(name, marks=pytest.mark.skipif(shutil.which(name) is None, reason=f"{name} missing"))
    for name in ("dash", "bash")
]


def facts_for(release: Path, shell: str, hint: str | None) -> HostFacts:
    """The host facts the collector's script reports when ``release`` is the host's os-release."""
    token = new_token()
    script = build_script([], token, os_family_hint=hint)
    assert script.count("/etc/os-release") == 2 and "/usr/lib/os-release" in script  # the lines replaced below
    script = script.replace("/etc/os-release", str(release)).replace("/usr/lib/os-release", "/nonexistent/os-release")
    result = LocalTransport(shell=shell).exec("sh -s", script.encode(), 30)
    facts, _ = parse_stream(result.stdout, result.stderr, [], token, datetime.now(UTC))
    return facts


def test_every_release_file_is_here() -> None:
    assert sorted(path.name for path in RELEASES.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_family_and_identity(name: str, shell: str) -> None:
    family, os_id, version, pretty = EXPECTED[name]
    facts = facts_for(RELEASES / name, shell, None)
    assert (facts.os_family, facts.os_id, facts.os_version, facts.os_pretty) == (family, os_id, version, pretty)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_file_outweighs_a_wrong_inventory_hint(name: str) -> None:
    """The inventory's os_family is only a fallback: a host that names itself is judged by its own file."""
    family = EXPECTED[name][0]
    wrong = "rhel" if family == "debian" else "debian"
    assert facts_for(RELEASES / name, "sh", wrong).os_family == family


def test_an_unknown_distribution_takes_the_hint(tmp_path: Path) -> None:
    unknown = tmp_path / "os-release"
    unknown.write_text('NAME="Example OS"\nID=exampleos\nVERSION_ID="1"\n', encoding="utf-8")
    assert facts_for(unknown, "sh", "rhel").os_family == "rhel"
    assert facts_for(unknown, "sh", None).os_family == "unknown"
