"""The per-account source (checklists/sources/shadow_accounts.yml) reads /etc/shadow but prints no hash.

The source reads fixed paths; here they point at a temporary copy so that the test runs without root.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from auditor.content.loader import load_content

PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000::/home/alice:/bin/bash
bob:x:1001:1001::/home/bob:/bin/sh
carol:x:1002:1002::/home/carol:/bin/bash
svc:x:1003:1003::/srv:/usr/sbin/nologin
dana:x:1004:1004::/home/dana:/bin/bash
eve:x:1005:1005::/home/eve:/bin/bash
"""
SALT_AND_HASH = "j9T$Zx0lKq2D4mQw8rN1sT5u0.$TheHashItselfMustNeverLeaveTheHost0123456789ab"
SHADOW = f"""root:$6$rootsalt$AnotherHashThatMustStayOnTheHost0123456789abcdefghijklmnopq:19700:0:99999:7:::
daemon:*:19700:0:99999:7:::
alice:$y${SALT_AND_HASH}:19700:1:90:7:45::
bob:$1$bobsalt1$Md5HashMustStay012345:19700::::::
carol:!$6$locked$LockedHashMustStayToo0123456789:19700:0:99999:7:::
svc:abJnggxhB/yWI:19700:0:99999:7:::
dana::19700:0:99999:7:::
eve:$weird$payload$with$dollars:19700:0:99999:7:::
"""


def _run(tmp_path: Path, login_defs: str = "UID_MIN 1000\n") -> str:
    (tmp_path / "passwd").write_text(PASSWD, encoding="utf-8")
    (tmp_path / "shadow").write_text(SHADOW, encoding="utf-8")
    (tmp_path / "login.defs").write_text(login_defs, encoding="utf-8")
    command = load_content().sources["shadow_accounts"].command
    for name in ("/etc/passwd", "/etc/shadow", "/etc/login.defs"):
        command = command.replace(name, str(tmp_path / name.rsplit("/", 1)[1]))
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_no_hash_material_in_the_output(tmp_path: Path) -> None:
    out = _run(tmp_path)
    assert "$" not in out
    for secret in ("rootsalt", "TheHashItself", "Md5HashMustStay", "LockedHash", "abJnggxhB", "payload", "j9T"):
        assert secret not in out


def test_algorithm_ids_and_aging_per_account(tmp_path: Path) -> None:
    lines = set(_run(tmp_path).splitlines())
    assert {
        "algorithm@root 6",
        "algorithm@alice y",
        "algorithm@bob 1",
        "algorithm@svc des",  # no login shell, but a usable password
        "algorithm@eve unknown",
        "max_days@alice 90",
        "inactive_days@alice 45",
        "max_days@bob 99999",  # empty maximum: no expiry
        "min_days@bob unset",
        "account@carol uid=1002 shell=login password=locked",
        "account@dana uid=1004 shell=login password=empty",
    } <= lines
    assert not any(line.startswith("account@daemon") for line in lines)  # system account, locked
    assert not any(line.startswith(("algorithm@carol", "algorithm@dana")) for line in lines)


def test_human_accounts_follow_uid_min(tmp_path: Path) -> None:
    lines = _run(tmp_path, login_defs="UID_MIN 1003\n").splitlines()
    assert "account@carol uid=1002 shell=login password=locked" not in lines  # below UID_MIN, locked
    assert "account@dana uid=1004 shell=login password=empty" in lines
