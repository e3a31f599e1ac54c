"""The playbook units shipped in playbooks/tasks/: one file per check id."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from auditor.content.checks import Check

UNIT_DIR = "tasks"
# Units that can lock administrators out: they run only when the connecting account is proven to
# log in by key and to get root through sudo (the play checks it again on the host).
LOCKOUT_UNITS = frozenset(
    {"sshd_password_authentication_disabled", "sshd_kbd_interactive_disabled", "sshd_permit_root_login_disabled"}
)
# Units that need a remediation parameter no check judges (auditor remediate --set NAME=VALUE).
UNIT_PARAMS: dict[str, tuple[str, ...]] = {
    "logging_remote_forwarding": ("log_server",),
    "time_sync_server_configured": ("time_server",),
}
# Units that must run before the others: turning IP forwarding off resets the kernel's per-interface
# redirect settings, and a daemon must be installed before its configuration is written.
RUN_FIRST = ("sysctl_ip_forward_disabled", "time_sync_daemon_running", "logging_syslog_running")
KNOWN_PARAMS = frozenset(name for names in UNIT_PARAMS.values() for name in names)


def builtin_playbooks_dir() -> Path:
    return Path(str(files("auditor.bundled") / "playbooks"))


def available_units(playbooks_dir: Path | None = None) -> set[str]:
    root = (playbooks_dir or builtin_playbooks_dir()) / UNIT_DIR
    return {path.stem for path in root.glob("*.yml") if path.is_file()}


def unit_of(check: Check | None, units: set[str]) -> str | None:
    """The unit that fixes this check: the one its remediation names, when that unit exists."""
    if check is None or check.remediation.playbook is None:
        return None
    return check.remediation.playbook if check.remediation.playbook in units else None


def run_order(unit: str) -> tuple[int, str]:
    return (RUN_FIRST.index(unit) if unit in RUN_FIRST else len(RUN_FIRST), unit)
