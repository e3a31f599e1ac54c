"""Content is tested like code: every shipped file is valid, and bad files get precise errors."""

import re
from functools import cache
from pathlib import Path

import pytest

from auditor.content.loader import Content, builtin_content_dir, load_content
from auditor.errors import ContentError

# `> file` or `>> file`, except to /dev/null and to other descriptors (>&2, 2>&1)
WRITES_A_FILE = re.compile(r">{1,2}\s*(?!&|/dev/null\b)[^\s&|;)]")
# a state-changing command at the start of a pipeline segment
CHANGES_STATE = re.compile(
    r"(^|[;&|(`]|\$\(|\bthen\b|\bdo\b|\belse\b)\s*(sudo\s+)?"
    r"(rm|mv|cp|tee|chmod|chown|chgrp|truncate|dd|touch|mkdir|install|ln|useradd|usermod|userdel|passwd|chage|"
    r"sed\s+-i|apt-get\s+(install|remove|purge|upgrade)|dnf\s+(install|remove|upgrade)|yum\s+(install|remove)|"
    r"systemctl\s+(start|stop|restart|reload|enable|disable)|kill|pkill|sysctl\s+-w|iptables\s+-[AIDF]|nft\s+(add|delete|flush))\b",
    re.MULTILINE,
)


@cache
def shipped() -> Content:
    return load_content()


CHECK_FILES = sorted(p for p in (builtin_content_dir() / "linux").glob("*.yml"))


def test_builtin_content_loads() -> None:
    content = load_content()
    assert len(content.checks) >= 15
    assert content.profile.id == "level3"
    assert content.version.startswith("level3-")


@pytest.mark.parametrize("path", CHECK_FILES, ids=lambda p: p.stem)
def test_every_check_is_complete(path: Path) -> None:
    check = shipped().checks[path.stem]
    assert check.title.vi and check.title.en
    assert check.rationale.vi and check.remediation.vi and check.remediation.en
    assert check.probe is not None and check.expect is not None
    if check.probe.command is None:  # reads a shared source, whose command test_every_source_is_read_only guards
        assert check.probe.source in shipped().sources
        return
    _assert_read_only(check.id, check.probe.command)


@pytest.mark.parametrize("source_id", sorted(shipped().sources))
def test_every_source_is_read_only(source_id: str) -> None:
    source = shipped().sources[source_id]
    assert source.title.vi and source.title.en
    _assert_read_only(f"source {source_id}", source.command)


def _assert_read_only(label: str, command: str) -> None:
    # Probes are read-only: no redirection into files, no command that changes state.
    command = _strip_data(command)  # awk/sed programs, quoted strings and comments are data
    assert not WRITES_A_FILE.search(command), f"{label}: redirects output into a file"
    found = CHANGES_STATE.search(command)
    assert found is None, f"{label}: runs {found.group(0).strip()!r}"


def _strip_data(command: str) -> str:
    command = re.sub(r"'[^']*'", "''", command)
    command = re.sub(r'"(\\.|[^"\\])*"', '""', command)
    return re.sub(r"(^|\s)#[^\n]*", "", command)


@pytest.mark.parametrize(
    ("command", "writes"),
    [
        ("echo x > /etc/motd", True),
        ("cat /etc/passwd >> out.txt", True),
        ("x=1; rm -f /tmp/x", True),
        ("grep y f | tee /tmp/copy", True),
        ("[ -f f ] && sed -i s/a/b/ f", True),
        ("awk '$1 > 0 { print }' /etc/login.defs", False),
        ("sshd -T 2>/dev/null | grep -i permitrootlogin >&2", False),
        ('echo "running $a >= $b"', False),
        ("grep -- '-S chmod' /etc/audit/audit.rules", False),
    ],
)
def test_read_only_guard_itself(command: str, writes: bool) -> None:
    stripped = _strip_data(command)
    assert bool(WRITES_A_FILE.search(stripped) or CHANGES_STATE.search(stripped)) is writes


def _write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


GOOD_CHECK = """\
id: org_motd_present
title: {vi: "Có thông báo đăng nhập", en: "A login banner exists"}
severity: low
probe: {command: "cat /etc/motd"}
expect: {empty: false}
rationale: {vi: "Lý do", en: "Why"}
remediation: {vi: "Cách sửa", en: "How"}
"""


def test_content_dir_adds_an_organisations_checks(tmp_path: Path) -> None:
    _write(tmp_path, "linux/org_motd_present.yml", GOOD_CHECK)
    content = load_content([tmp_path])
    assert "org_motd_present" in content.checks
    assert content.version != shipped().version  # the version covers added content


def test_error_names_file_check_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "linux/org_motd_present.yml", GOOD_CHECK.replace("severity: low", "severity: huge"))
    with pytest.raises(ContentError) as caught:
        load_content([tmp_path])
    message = str(caught.value)
    assert str(path) in message and "check org_motd_present" in message and "severity" in message


def test_nested_expectation_error_names_the_path(tmp_path: Path) -> None:
    bad = GOOD_CHECK.replace("expect: {empty: false}", 'expect: {all: [{number: {op: "=<", value: 1}}]}')
    _write(tmp_path, "linux/org_motd_present.yml", bad)
    with pytest.raises(ContentError, match=r"expect → all\[0\] → number → op"):
        load_content([tmp_path])


@pytest.mark.parametrize(
    ("expect", "problem"),
    [
        ('{regex: "a{99999999999}"}', "the repetition number is too large"),  # re raises OverflowError
        ('{regex: "' + "(" * 2000 + ")" * 2000 + '"}', "nested too deeply"),  # re raises RecursionError
    ],
)
def test_a_regex_re_cannot_compile_is_a_content_error(tmp_path: Path, expect: str, problem: str) -> None:
    path = _write(tmp_path, "linux/org_motd_present.yml", GOOD_CHECK.replace("{empty: false}", expect))
    with pytest.raises(ContentError) as caught:
        load_content([tmp_path])
    assert f"{path}: check org_motd_present: 1 problem(s)" in str(caught.value)
    assert f"line 5: expect → regex: invalid regular expression: {problem}" in str(caught.value)


def test_schema_errors_name_the_line_and_any_extra_key(tmp_path: Path) -> None:
    bad = GOOD_CHECK.replace('probe: {command: "cat /etc/motd"}', 'probe:\n  command: "cat /etc/motd"\n  Kind: shell')
    _write(tmp_path, "linux/org_motd_present.yml", bad)
    with pytest.raises(ContentError, match=r"line 6: probe → Kind: Extra inputs are not permitted"):
        load_content([tmp_path])


def test_id_must_equal_file_name(tmp_path: Path) -> None:
    _write(tmp_path, "linux/other_name.yml", GOOD_CHECK)
    with pytest.raises(ContentError, match="id must equal the file name"):
        load_content([tmp_path])


def test_duplicate_id_names_both_files(tmp_path: Path) -> None:
    shipped = GOOD_CHECK.replace("org_motd_present", "sshd_permit_root_login_disabled")
    _write(tmp_path, "linux/sshd_permit_root_login_disabled.yml", shipped)
    with pytest.raises(ContentError, match="already defined in"):
        load_content([tmp_path])


def test_unknown_input_is_reported(tmp_path: Path) -> None:
    bad = GOOD_CHECK.replace("expect: {empty: false}", 'expect: {number: {op: "<=", value: {input: nope}}}')
    _write(tmp_path, "linux/org_motd_present.yml", bad)
    with pytest.raises(ContentError, match="unknown input"):
        load_content([tmp_path])


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    _write(tmp_path, "linux/org_motd_present.yml", "id: [unclosed\n")
    with pytest.raises(ContentError, match=r"org_motd_present.yml: line \d+"):
        load_content([tmp_path])


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    _write(tmp_path, "linux/org_a_x.yml", "id: org_a_x\n")
    _write(tmp_path, "linux/org_b_x.yml", "id: org_b_x\n")
    with pytest.raises(ContentError) as caught:
        load_content([tmp_path])
    assert "org_a_x" in str(caught.value) and "org_b_x" in str(caught.value)


def test_every_named_playbook_exists() -> None:
    playbooks = builtin_content_dir().parent / "playbooks" / "tasks"
    missing = sorted(
        f"{check.id} → {check.remediation.playbook}"
        for check in shipped().checks.values()
        if check.remediation.playbook and not (playbooks / f"{check.remediation.playbook}.yml").is_file()
    )
    assert missing == []
    assert sum(1 for check in shipped().checks.values() if check.remediation.playbook) >= 40


def test_content_problems_are_said_in_vietnamese_and_read_as_before_in_english(tmp_path: Path) -> None:
    _write(tmp_path, "linux/other_name.yml", GOOD_CHECK)
    bad = GOOD_CHECK.replace('probe: {command: "cat /etc/motd"}', 'probe:\n  command: "cat /etc/motd"\n  Kind: shell')
    _write(tmp_path, "linux/org_motd_present.yml", bad)
    with pytest.raises(ContentError) as caught:
        load_content([tmp_path])
    english, vietnamese = caught.value.text("en"), caught.value.text("vi")
    assert str(caught.value) == english and "id must equal the file name" in english and "1 problem(s)" in english
    assert "mã phải trùng tên tệp" in vietnamese and "kiểm tra org_motd_present: 1 vấn đề" in vietnamese
    assert "dòng 6:" in vietnamese and "trường này không được phép" in vietnamese
    for words in ("id must equal", "problem(s)", "line 6", "Extra inputs", "check org_motd_present"):
        assert words not in vietnamese, vietnamese
