"""Shared sources that judge effective state: keys seen under a condition, and the inputs a source reads."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from auditor.content.loader import load_content
from auditor.content.select import Selection, select_text, source_lines

CONTENT = load_content()
SSHD = CONTENT.sources["sshd_effective"]

# Stands in for sshd: root from 10.0.0.5 and alice get their own values, as a Match block would give.
FAKE_SSHD = """#!/bin/sh
case "$3" in
  *user=root,host=10.0.0.5*) root_login=yes ;;
  *) root_login=no ;;
esac
case "$3" in *user=alice*) tries=10 ;; *) tries=3 ;; esac
printf 'port 22\\npermitrootlogin %s\\nmaxauthtries %s\\n' "$root_login" "$tries"
printf 'clientaliveinterval 100\\nclientalivecountmax 3\\nbanner none\\n'
"""


def _run_source(tmp_path: Path, inputs: dict[str, str]) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "sshd"
    fake.write_text(FAKE_SSHD)
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "LC_ALL": "C"}
    command = SSHD.request({**CONTENT.profile.values(), **inputs}).command
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env, check=False)


def test_a_key_under_a_condition_is_the_same_key() -> None:
    text = "permitrootlogin@user=root,addr=203.0.113.7 no\npermitrootlogin@user=root,addr=10.0.0.5 yes\n"
    assert select_text(Selection(key=("permitrootlogin",)), text) == "no\nyes"
    shown = select_text(Selection(key=("permitrootlogin",), show_key=True), text)
    assert shown.splitlines()[1] == "permitrootlogin@user=root,addr=10.0.0.5 yes"
    assert source_lines(Selection(key=("permitrootlogin",)), text)[1].startswith(
        "permitrootlogin@user=root,addr=10.0.0.5"
    )


def test_source_inputs_travel_as_quoted_environment_variables() -> None:
    command = SSHD.request({"ssh_admin_user": "x'; reboot", "ssh_management_address": ""}).command
    assert "AUDITOR_INPUT_SSH_ADMIN_USER='x'\\''; reboot'" in command


def test_sshd_connections_report_the_differences_of_each_connection(tmp_path: Path) -> None:
    done = _run_source(tmp_path, {"ssh_admin_user": "alice", "ssh_management_address": "10.0.0.5"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "permitrootlogin@user=root,addr=203.0.113.7 no" in lines
    assert "permitrootlogin@user=root,addr=10.0.0.5 yes" in lines
    assert "maxauthtries@user=alice,addr=203.0.113.7 10" in lines
    assert "idlesessiontimeout@user=root,addr=203.0.113.7 300" in lines
    assert "bannerfile@user=root,addr=203.0.113.7 none" in lines
    # an unchanged setting is printed once, for the first connection only
    assert sum(line.startswith("port@") for line in lines) == 1
    assert select_text(Selection(key=("permitrootlogin",)), done.stdout).splitlines() == ["no", "yes"]


def test_a_hostile_management_address_is_refused(tmp_path: Path) -> None:
    done = _run_source(tmp_path, {"ssh_management_address": "10.0.0.5,user=nobody"})
    assert done.returncode == 2 and "not an IP address" in done.stderr


def test_without_sshd_the_checks_are_not_applicable(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "LC_ALL": "C"}
    command = SSHD.request(CONTENT.profile.values()).command
    sh = "/bin/sh" if os.path.exists("/bin/sh") else "/usr/bin/sh"
    done = subprocess.run([sh, "-c", command], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 100
