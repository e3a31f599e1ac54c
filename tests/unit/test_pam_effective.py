"""The PAM stack reader (checklists/sources/pam_effective.yml) on stacks laid out in a temporary folder.

The source reads fixed paths (/etc/pam.d, /etc/security, /etc/login.defs); here they are pointed at a
temporary copy so the reader's own rules (includes, substacks, jumps, reachability, precedence of
arguments over files) are tested without root. Scenario cases (tests/checks/accounts_*.yml) run the
same command on a real root file system.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from auditor.content.loader import load_content

DEBIAN_LOGIN = "@include common-auth\n@include common-account\n@include common-session\n@include common-password\n"


def _run(tmp_path: Path, files: dict[str, str], programs: tuple[str, ...] = (), usepam: str = "") -> list[str]:
    """``programs``: which of su and sudo the host has; ``usepam``: what a stand-in sshd -T says."""
    root = tmp_path / "root"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for program in programs:
        (bin_dir / program).write_text("")
    if usepam:
        fake = bin_dir / "sshd"
        fake.write_text(f"#!/bin/sh\nprintf 'port 22\\nusepam {usepam}\\n'\n")
        fake.chmod(0o755)
    for name, text in files.items():
        target = root / name.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    (root / "etc/pam.d").mkdir(parents=True, exist_ok=True)
    command = load_content().sources["pam_effective"].command
    for fixed in ("/etc/pam.d", "/etc/security", "/etc/login.defs"):
        command = command.replace(fixed, f"{root}{fixed}")
    command = command.replace(f"PAM uses {root}/etc/pam.d/other", "PAM uses /etc/pam.d/other")
    # no module folder known: every module counts as installed (scenario cases cover missing modules)
    folders = "/lib/*/security /usr/lib/*/security /lib64/security /usr/lib64/security /lib/security /usr/lib/security"
    assert folders in command
    command = command.replace(folders, f"{root}/no-module-folder")
    programs_at = "for d in /usr/bin /bin /usr/sbin /sbin /usr/local/bin; do"
    assert programs_at in command
    command = command.replace(programs_at, f"for d in {bin_dir}; do")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LC_ALL": "C"}
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30, check=False, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _marks(lines: list[str], type_at_service: str) -> list[tuple[str, str]]:
    """(mark, module) of each module line of one type@service, in stack order."""
    out = []
    for line in lines:
        words = line.split()
        if words and words[0] == type_at_service and words[1] in ("reachable", "unreachable"):
            module = next(w for w in words[2:] if w.endswith(".so") or w in ("substack",))
            out.append((words[1], module))
    return out


def _value(lines: list[str], key: str) -> str:
    found = [line.split(None, 1)[1] for line in lines if line.split(None, 1)[0] == key]
    assert len(found) == 1, (key, lines)
    return found[0]


pytestmark = pytest.mark.skipif(shutil.which("awk") is None, reason="needs awk")


def test_jump_counts_and_a_stack_ending_module(tmp_path: Path) -> None:
    lines = _run(
        tmp_path,
        {
            "/etc/pam.d/sshd": DEBIAN_LOGIN,
            "/etc/pam.d/login": DEBIAN_LOGIN,
            "/etc/pam.d/passwd": "@include common-password\n",
            "/etc/pam.d/common-auth": (
                "auth required pam_faillock.so preauth\n"
                "auth [success=1 default=ignore] pam_unix.so\n"
                "auth [default=die] pam_faillock.so authfail deny=4\n"  # reached when pam_unix fails
                "auth sufficient pam_permit.so\n"  # always ends the stack
                "auth required pam_env.so\n"
            ),
            "/etc/pam.d/common-session": "session [default=1] pam_permit.so\nsession requisite pam_deny.so\n"
            "session optional pam_umask.so umask=0027\n",
        },
    )
    assert _marks(lines, "auth@sshd") == [
        ("reachable", "pam_faillock.so"),
        ("reachable", "pam_unix.so"),
        ("reachable", "pam_faillock.so"),
        ("reachable", "pam_permit.so"),
        ("unreachable", "pam_env.so"),
    ]
    assert _marks(lines, "session@login") == [
        ("reachable", "pam_permit.so"),
        ("unreachable", "pam_deny.so"),
        ("reachable", "pam_umask.so"),
    ]
    assert _value(lines, "faillock.deny@sshd") == "4"
    assert _value(lines, "faillock.unlock_time@login") == "600"  # built-in default
    assert _value(lines, "umask.pam@sshd") == "0027"


def test_a_substack_counts_as_one_module_for_a_jump_and_its_die_ends_only_itself(tmp_path: Path) -> None:
    lines = _run(
        tmp_path,
        {
            "/etc/pam.d/sshd": (
                "auth [success=1 default=ignore] pam_unix.so\n"
                "auth substack inner\n"  # jumped over as one module
                "auth required pam_faillock.so authfail\n"
            ),
            "/etc/pam.d/inner": "auth [default=die] pam_deny.so\nauth required pam_env.so\n",
            "/etc/pam.d/login": DEBIAN_LOGIN,
            "/etc/pam.d/passwd": "password required pam_unix.so\n",
        },
    )
    assert _marks(lines, "auth@sshd") == [
        ("reachable", "pam_unix.so"),
        ("reachable", "substack"),
        ("reachable", "pam_deny.so"),
        ("unreachable", "pam_env.so"),
        ("reachable", "pam_faillock.so"),  # after the substack's die, and by the jump
    ]


def test_arguments_override_files_and_the_main_pwquality_file_wins(tmp_path: Path) -> None:
    lines = _run(
        tmp_path,
        {
            "/etc/pam.d/sshd": DEBIAN_LOGIN,
            "/etc/pam.d/login": DEBIAN_LOGIN,
            "/etc/pam.d/passwd": "@include common-password\n",
            "/etc/pam.d/common-auth": "auth required pam_faillock.so authfail deny=10\n",
            "/etc/pam.d/common-password": (
                "password requisite pam_pwquality.so minclass=2\n"
                "password requisite pam_pwhistory.so\n"
                "password [success=1 default=ignore] pam_unix.so sha512 remember=30\n"
                "password requisite pam_deny.so\n"
                "password required pam_permit.so\n"
            ),
            "/etc/security/faillock.conf": "deny = 3\nunlock_time = never\n",
            "/etc/security/pwquality.conf.d/50-site.conf": "minlen = 20\nminclass = 4\n",
            "/etc/security/pwquality.conf": "minlen = 12\n",
            "/etc/security/pwhistory.conf": "remember = 5\n",
            "/etc/login.defs": "ENCRYPT_METHOD YESCRYPT\n",
        },
    )
    assert _value(lines, "faillock.deny@login") == "10"
    assert _value(lines, "faillock.unlock_time@login") == "0"
    assert _value(lines, "pwquality.minlen@passwd") == "12"
    assert _value(lines, "pwquality.classes@passwd") == "minclass=2 dcredit=0 ucredit=0 lcredit=0 ocredit=0"
    assert _value(lines, "history.remember@passwd") == "30"  # pam_unix's remember is larger than 5
    assert _value(lines, "unix.hash@passwd") == "sha512"
    assert _value(lines, "encrypt_method") == "YESCRYPT"


def test_commented_absent_and_missing_service_files(tmp_path: Path) -> None:
    lines = _run(
        tmp_path,
        {
            "/etc/pam.d/sshd": "#auth required pam_faillock.so authfail\nauth required pam_unix.so # pam_faillock.so\n",
            "/etc/pam.d/other": "auth required pam_deny.so\npassword required pam_deny.so\n",
            "/etc/pam.d/passwd": "password required pam_unix.so\n",
        },
    )
    assert _value(lines, "faillock.deny@sshd") == "commented out (sshd)"
    assert _value(lines, "faillock.deny@login") == "absent (login)"  # login falls back to "other"
    assert any(
        line.startswith("# service login: ") and line.endswith("login is missing, PAM uses /etc/pam.d/other")
        for line in lines
    )
    assert _value(lines, "unix.hash@passwd") == "des"  # no login.defs, no hash argument
    assert _value(lines, "pwquality.minlen@passwd") == "absent (passwd)"


def test_include_loops_end(tmp_path: Path) -> None:
    lines = _run(
        tmp_path,
        {
            "/etc/pam.d/sshd": "auth include a\n",
            "/etc/pam.d/a": "auth include b\nauth required pam_faillock.so authfail deny=5\n",
            "/etc/pam.d/b": "auth include a\n",
            "/etc/pam.d/login": "auth include sshd\n",
            "/etc/pam.d/passwd": "password required pam_unix.so\n",
        },
    )
    assert _value(lines, "faillock.deny@sshd") == "5"
    assert any(line.startswith("# auth@sshd: included files missing: loop:") for line in lines)


def test_password_modules_count_only_on_the_path_of_a_change_that_goes_through(tmp_path: Path) -> None:
    lines = _run(
        tmp_path,
        {
            "/etc/pam.d/sshd": DEBIAN_LOGIN,
            "/etc/pam.d/login": DEBIAN_LOGIN,
            "/etc/pam.d/passwd": "@include common-password\n",
            "/etc/pam.d/common-password": (
                "password requisite pam_pwhistory.so remember=24\n"
                "password [success=2 default=ignore] pam_unix.so yescrypt\n"
                "password requisite pam_pwquality.so minlen=14\n"  # only after pam_unix failed
                "password requisite pam_deny.so\n"
                "password required pam_permit.so\n"
            ),
        },
    )
    assert any(
        line.startswith("password@passwd reachable-only-after-a-failure requisite pam_pwquality.so minlen=14")
        for line in lines
    )
    not_counted = "not on the path of a successful change, or not installed (passwd)"
    assert _value(lines, "pwquality.minlen@passwd") == not_counted
    assert _value(lines, "history.remember@passwd") == "24"
    assert _value(lines, "unix.hash@passwd") == "yescrypt"


# Debian's shape from pam_faillock(8): pam_unix's success jumps over the authfail line only
COMMON_AUTH = (
    "auth required pam_faillock.so preauth\n"
    "auth [success=1 default=ignore] pam_unix.so\n"
    "auth [default=die] pam_faillock.so authfail deny=4\n"
    "auth sufficient pam_faillock.so authsucc\n"
    "auth requisite pam_deny.so\n"
    "auth required pam_permit.so\n"
)
SU_HEAD = "auth sufficient pam_rootok.so\n"


def test_su_and_sudo_are_judged_only_where_installed(tmp_path: Path) -> None:
    files = {"/etc/pam.d/common-auth": COMMON_AUTH, "/etc/pam.d/su": SU_HEAD + "@include common-auth\n"}
    lines = _run(tmp_path, files)
    assert _value(lines, "wheel@su") == "not installed (no su program)"
    assert _value(lines, "auth.credentials@sudo") == "not installed (no sudo program)"
    assert not any(line.startswith("faillock.deny@su") for line in lines)
    lines = _run(tmp_path, files, programs=("su", "sudo"))
    assert _value(lines, "faillock.deny@su") == "4"
    assert _value(lines, "wheel@su") == "absent (su)"
    assert _value(lines, "auth.credentials@su") == "required"
    # sudo without its own file falls back to "other", which has no stack here
    assert _value(lines, "auth.credentials@sudo") == "required"
    # su and sudo only contribute their auth stacks: no password or session keys
    keys = [line.split()[0] for line in lines if line and not line.startswith("#")]
    assert not [key for key in keys if key.endswith(("@su", "@sudo")) and key.startswith(("pwquality", "umask"))]


@pytest.mark.parametrize(
    ("su_lines", "expected"),
    [
        ("auth required pam_wheel.so use_uid group=sugroup\n@include common-auth\n", "restricted group=sugroup"),
        ("@include common-auth\nauth requisite pam_wheel.so use_uid\n", "unreachable"),  # after pam_deny
        ("auth requisite pam_wheel.so use_uid\n@include common-auth\n", "restricted group=wheel"),
        ("auth sufficient pam_unix.so\nauth required pam_wheel.so use_uid\n@include common-auth\n", "bypassed"),
        ("auth optional pam_wheel.so use_uid\n@include common-auth\n", "bypassed"),
        ("auth [default=1] pam_permit.so\nauth required pam_wheel.so use_uid\n@include common-auth\n", "unreachable"),
        # pam_unix's success jumps over pam_wheel; its failure reaches it
        (
            "auth [success=1 default=ignore] pam_unix.so\nauth required pam_wheel.so use_uid\n"
            "auth required pam_permit.so\n",
            "bypassed",
        ),
        ("auth required pam_wheel.so group=sugroup\n@include common-auth\n", "not restricting"),
        ("auth required pam_wheel.so use_uid deny group=nosu\n@include common-auth\n", "not restricting"),
        ("# auth required pam_wheel.so use_uid\n@include common-auth\n", "commented out (su)"),
        ("auth sufficient pam_permit.so\nauth required pam_wheel.so use_uid\n@include common-auth\n", "unreachable"),
    ],
)
def test_pam_wheel_must_be_passed_on_every_path_to_success(tmp_path: Path, su_lines: str, expected: str) -> None:
    files = {"/etc/pam.d/common-auth": COMMON_AUTH, "/etc/pam.d/su": SU_HEAD + su_lines}
    assert _value(_run(tmp_path, files, programs=("su",)), "wheel@su").startswith(expected)


@pytest.mark.parametrize(
    ("sudo_lines", "skippable"),
    [
        ("@include common-auth\n", False),
        ("auth required pam_succeed_if.so uid >= 1000\n@include common-auth\n", False),
        ("auth [success=ok default=bad] pam_unix.so\nauth required pam_permit.so\n", False),
        ("auth sufficient pam_succeed_if.so user ingroup admins\n@include common-auth\n", True),
        ("auth [success=done default=ignore] pam_permit.so\n@include common-auth\n", True),
        ("auth [success=1 default=ignore] pam_succeed_if.so user ingroup admins\nauth required pam_unix.so\n", True),
        ("auth required pam_permit.so\n", True),
        ("auth optional pam_unix.so\nauth required pam_permit.so\n", True),
        ("auth sufficient pam_wheel.so trust use_uid\n@include common-auth\n", True),
        # a die after every success of pam_succeed_if: no way through without pam_unix
        ("auth [success=die default=ignore] pam_succeed_if.so user ingroup admins\n@include common-auth\n", False),
    ],
)
def test_sudo_authentication_is_walked_over_every_path(tmp_path: Path, sudo_lines: str, skippable: bool) -> None:
    files = {"/etc/pam.d/common-auth": COMMON_AUTH, "/etc/pam.d/sudo": sudo_lines}
    value = _value(_run(tmp_path, files, programs=("sudo",)), "auth.credentials@sudo")
    assert value.startswith("skippable") == skippable, value


def test_sshd_with_usepam_no_applies_no_pam_control(tmp_path: Path) -> None:
    files = {
        "/etc/pam.d/common-auth": COMMON_AUTH,
        "/etc/pam.d/common-session": "session optional pam_umask.so\n",
        "/etc/pam.d/common-password": "password requisite pam_pwquality.so\npassword required pam_unix.so\n",
        "/etc/pam.d/sshd": "@include common-auth\n@include common-session\n@include common-password\n",
        "/etc/pam.d/login": DEBIAN_LOGIN,
        "/etc/login.defs": "UMASK 027\n",
    }
    lines = _run(tmp_path, files, usepam="yes")
    assert _value(lines, "faillock.deny@sshd") == "4"
    assert _value(lines, "umask.session@sshd").startswith("027 pam_umask")
    lines = _run(tmp_path, files, usepam="no")
    assert _value(lines, "faillock.deny@sshd") == "not applied (sshd has UsePAM no)"
    assert _value(lines, "umask.pam@sshd") == "not applied (sshd has UsePAM no)"
    assert _value(lines, "umask.session@sshd") == "022 inherited by sshd (UsePAM no)"
    assert not any(line.startswith("pwquality.minlen@sshd") for line in lines)
    # the console is not sshd: its stack still applies
    assert _value(lines, "faillock.deny@login") == "4"
