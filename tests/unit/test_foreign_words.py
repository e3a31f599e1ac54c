"""Other programs' error texts said in the auditor's own words, fed with real exceptions: a missing file, broken
YAML, SQLite and PostgreSQL connections that fail, cron expressions croniter refuses, a closed loopback port.
A Vietnamese sentence keeps none of the English words of a message it maps; a message it cannot map is quoted
as the other program's own words, escaped and cut short."""

from __future__ import annotations

import fcntl
import re
import socket
import sqlite3
import string
import termios
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
import yaml
from croniter import croniter
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError

from auditor.collectors.network import sshalgos
from auditor.collectors.ssh.connect import _handshake_error, _open_socket, load_private_key
from auditor.collectors.ssh.known_hosts import KnownHostsStore
from auditor.content.loader import load_content
from auditor.errors import CollectorError, ConfigError, StoreError
from auditor.evaluation.evaluate import host_error_finding
from auditor.foreign import (
    ansible_error_said,
    db_error_said,
    in_words,
    os_error_said,
    verbatim,
    yaml_problem_said,
)
from auditor.inventory import Host
from auditor.reports.locale import catalogue
from auditor.said import Said
from auditor.scheduler.cron import validate_cron
from auditor.store.db import open_store
from auditor.yamlio import load_yaml_file

OWN_WORDS_VI = "thông báo gốc của"
OWN_WORDS_EN = "own message"


def english_words(message: str) -> set[str]:
    """The words of another program's message a translation must not keep (short ones such as 'to' aside)."""
    return {word.lower() for word in re.findall(r"[A-Za-z]{4,}", message)}


def kept(message: str, said: str) -> set[str]:
    words = {word.lower() for word in re.findall(r"[A-Za-z]+", said)}
    return english_words(message) & words


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- the words themselves -------------------------------------------------------------------------------------


def test_every_foreign_sentence_has_both_languages_with_the_same_placeholders() -> None:
    def placeholders(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    entries = catalogue("foreign")
    assert len(entries) > 50
    for key, entry in entries.items():
        assert placeholders(entry.vi) == placeholders(entry.en), key
        assert "key" not in placeholders(entry.en), key  # the name of the sentence's own key when it is said


def test_verbatim_text_is_marked_escaped_on_one_line_and_capped() -> None:
    hostile = "\x1b[31mred\x1b[0m\nsecond line " + "x" * 500
    said = verbatim("ansible", hostile)
    vi, en = said.text("vi"), said.text("en")
    assert vi.startswith("(thông báo gốc của Ansible: “") and vi.endswith("…”)")
    assert en.startswith("(Ansible's own message: “")
    assert "\x1b" not in vi and "\\x1b[31mred" in vi and "\n" not in vi
    assert len(vi) < 260


# -- the operating system -------------------------------------------------------------------------------------


def _raised(action: object) -> OSError:
    try:
        action()  # type: ignore[operator]
    except OSError as exc:
        return exc
    raise AssertionError("no OSError")


def test_os_errors_are_said_from_their_errno(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    cases = {
        "không có tệp hoặc thư mục này": _raised(lambda: open(tmp_path / "missing.yml")),  # noqa: SIM115
        "đây là một thư mục": _raised(lambda: open(tmp_path)),  # noqa: SIM115
        "một phần của đường dẫn không phải là thư mục": _raised(lambda: open(tmp_path / "file" / "x")),  # noqa: SIM115
    }
    for expected, exc in cases.items():
        vi, en = os_error_said(exc).text("vi"), os_error_said(exc).text("en")
        assert expected in vi
        assert not kept(str(exc.strerror), vi), vi
        assert OWN_WORDS_VI not in vi and OWN_WORDS_EN not in en


def test_an_errno_without_words_is_quoted_as_the_systems_own(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("x")
    with plain.open() as handle:
        exc = _raised(lambda: fcntl.ioctl(handle, termios.TIOCGWINSZ, b"\0" * 8))  # ENOTTY: not a terminal
    vi = os_error_said(exc).text("vi")
    assert vi == f"(thông báo gốc của hệ điều hành: “{exc.strerror}”)"
    assert os_error_said(exc).text("en") == f"(the operating system's own message: “{exc.strerror}”)"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_file_the_loader_cannot_read_is_said_in_words(tmp_path: Path, lang: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_yaml_file(tmp_path)  # a directory
    text = raised.value.text(lang)  # type: ignore[arg-type]
    if lang == "vi":
        assert "không đọc được (đây là một thư mục, không phải một tệp)" in text
        assert not kept("Is a directory", text)
    else:
        assert text.endswith("cannot read (it is a directory, not a file)")


def test_text_that_is_not_utf8_is_said_in_words(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes("café: 1\n".encode("latin-1"))
    with pytest.raises(ConfigError) as raised:
        load_yaml_file(path)
    vi = raised.value.text("vi")
    assert "không phải văn bản UTF-8 (byte tiếp theo của ký tự không hợp lệ tại byte 3)" in vi
    assert not kept("invalid continuation", vi), vi
    assert str(raised.value).endswith("not UTF-8 text (invalid continuation byte at byte 3)")


# -- sockets and SSH ------------------------------------------------------------------------------------------


def test_a_refused_connection_is_said_in_words() -> None:
    port = closed_port()
    exc = _raised(lambda: socket.create_connection(("127.0.0.1", port), timeout=2))
    assert isinstance(exc, ConnectionRefusedError)
    vi = os_error_said(exc).text("vi")
    assert vi == "kết nối bị từ chối (không có dịch vụ nào nhận kết nối ở cổng này)"
    assert not kept(str(exc), vi)
    assert os_error_said(exc).text("en").startswith("connection refused")


def test_a_name_that_does_not_resolve_is_said_in_words() -> None:
    exc = _raised(lambda: socket.getaddrinfo("no-such-host.invalid", 22))
    assert isinstance(exc, socket.gaierror)
    vi = os_error_said(exc).text("vi")
    assert "tên máy chủ" in vi or "phân giải tên" in vi, vi
    assert not kept(str(exc.strerror), vi)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_an_ssh_host_on_a_closed_port_gets_findings_in_words(lang: str) -> None:
    port = closed_port()
    host = Host.model_validate({"name": "web", "address": "127.0.0.1", "port": port, "key_file": "k"})
    with pytest.raises(CollectorError) as raised:
        _open_socket(host, f"web (127.0.0.1:{port})", 2.0)
    exc = raised.value
    assert exc.reason == "unreachable" and exc.said is not None
    finding = host_error_finding(
        load_content().checks["sshd_permit_root_login_disabled"], exc.reason, in_words(exc.said)
    )
    reason = finding.reason.get(lang)
    if lang == "vi":
        assert reason == (
            f"Lỗi: không kết nối được tới máy chủ (“web (127.0.0.1:{port}): kết nối bị từ chối (không có dịch vụ "
            "nào nhận kết nối ở cổng này)”)."
        )
        assert "Connection" not in reason and "refused" not in reason
    else:
        assert "connection refused (nothing accepts connections on that port)" in reason
    assert finding.observed.startswith(f"web (127.0.0.1:{port}): connection refused")


def test_network_and_host_key_probes_say_a_closed_port_in_words(tmp_path: Path) -> None:
    port = closed_port()
    with pytest.raises(CollectorError) as algos:
        sshalgos.read_algorithms("127.0.0.1", port, timeout=2.0)
    with pytest.raises(CollectorError) as fetch:
        KnownHostsStore(tmp_path / "known_hosts").fetch_host_key("127.0.0.1", port, timeout=2.0)
    for exc in (algos.value, fetch.value):
        assert exc.text("vi") == f"127.0.0.1:{port}: kết nối bị từ chối (không có dịch vụ nào nhận kết nối ở cổng này)"
        assert str(exc) == f"127.0.0.1:{port}: connection refused (nothing accepts connections on that port)"


def test_a_key_file_that_cannot_be_read_is_said_in_words(tmp_path: Path) -> None:
    host = Host.model_validate({"name": "web", "address": "127.0.0.1", "key_file": tmp_path})
    with pytest.raises(CollectorError) as raised:
        load_private_key(host)  # a directory
    vi = raised.value.text("vi")
    assert vi == f"web: không đọc được tệp khóa {tmp_path} (key_file): đây là một thư mục, không phải một tệp"
    assert str(raised.value) == f"web: key_file {tmp_path} cannot be read (it is a directory, not a file)"


def test_ssh_library_failures_are_in_words_or_quoted() -> None:
    host = Host.model_validate({"name": "web", "address": "127.0.0.1", "key_file": "k", "user": "audit"})
    refused = _handshake_error(paramiko.AuthenticationException("Authentication failed."), "web", host, False, 5.0)
    assert refused.text("vi") == "web: máy chủ từ chối đăng nhập của người dùng audit"
    assert refused.reason == "auth_failed"
    odd = _handshake_error(paramiko.SSHException("Error reading SSH protocol banner"), "web", host, False, 5.0)
    assert odd.text("vi") == (
        "web: (thông báo gốc của thư viện SSH (paramiko): “SSHException: Error reading SSH protocol banner”)"
    )


# -- YAML -----------------------------------------------------------------------------------------------------

BROKEN_YAML = {
    "a: b: c\n": "dấu ':' không được đặt ở đây",
    "a:\n  - b\n  c\n": "không thấy dấu ':' sau một khóa",
    "a:\n\tb: 1\n": "ký tự tab không được dùng để thụt lề",
    "a: @x\n": "ký tự '@' không được mở đầu một giá trị",
    "a: 'abc\n": "tệp kết thúc giữa chừng",
    "a: [1, 2\n": "thiếu dấu ',' hoặc ']'",
    "a: 'x' y\n": "ở đây cần một khóa",
    "- a\nb: 1\n": "ở đây cần một mục danh sách bắt đầu bằng '-'",
    "a: *x\n": "tham chiếu (*) tới một neo (&) chưa được đặt",
    'a: "\\q"\n': "ký tự thoát",
    "a: 1\n---\nb: 2\n": "nhiều hơn một tài liệu YAML",
    "a: !foo 1\n": "không hỗ trợ thẻ !foo",
    "a: \x07\n": "ký tự điều khiển không được phép",
}


def _parser_problem(text: str) -> str:
    """PyYAML's own account of what is wrong with ``text``."""
    try:
        yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        return str(getattr(exc, "problem", None) or getattr(exc, "reason", None))
    raise AssertionError(f"{text!r} parsed")


@pytest.mark.parametrize(("text", "expected"), BROKEN_YAML.items())
def test_yaml_problems_are_said_in_words(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "inventory.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_yaml_file(path)
    vi, en = raised.value.text("vi"), raised.value.text("en")
    assert "YAML không hợp lệ: " in vi and expected in vi
    assert re.search(r"dòng \d+", vi)
    problem = _parser_problem(text)
    assert not kept(problem, vi), (problem, vi)
    assert OWN_WORDS_VI not in vi and OWN_WORDS_EN not in en
    assert "invalid YAML: " in en


def test_the_loaders_own_checks_are_said_in_words(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yml"
    path.write_text("hosts: 1\nhosts: 2\nwhen: 2026-02-30\n")
    with pytest.raises(ConfigError) as raised:
        load_yaml_file(path)
    assert raised.value.text("vi").endswith(
        "dòng 2, cột 1: YAML không hợp lệ: khóa 'hosts' xuất hiện hai lần (lần đầu ở dòng 1)"
    )
    assert str(raised.value).endswith("line 2, column 1: invalid YAML: duplicate key 'hosts' (first on line 1)")
    path.write_text("when: 2026-02-30\n")
    with pytest.raises(ConfigError) as raised:
        load_yaml_file(path)
    vi = raised.value.text("vi")
    assert "giá trị '2026-02-30' không hợp lệ cho kiểu !!timestamp (thông báo gốc của Python: “day is out" in vi


def test_an_unmapped_yaml_problem_is_quoted_as_pyyamls_own(tmp_path: Path) -> None:
    text = "%YAML 1.1\n%YAML 1.1\n---\na\n"
    problem = _parser_problem(text)
    path = tmp_path / "inventory.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_yaml_file(path)
    assert raised.value.text("vi").endswith(f"YAML không hợp lệ: (thông báo gốc của PyYAML: “{problem}”)")
    assert str(raised.value).endswith(f"invalid YAML: (PyYAML's own message: “{problem}”)")


def test_yaml_problem_said_reads_the_character_at_the_mark() -> None:
    try:
        yaml.load("a: `x\n", Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        said = yaml_problem_said(exc, "a: `x\n")
    assert said.text("vi") == "ký tự '`' không được mở đầu một giá trị (hãy đặt giá trị trong dấu nháy)"


# -- databases ------------------------------------------------------------------------------------------------


def _sqlalchemy_error(url: str, sql: str = "SELECT 1", **connect_args: object) -> DBAPIError:
    engine = create_engine(url, connect_args=connect_args)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(sql)
    except DBAPIError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError("no error")


@pytest.fixture
def locked_db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    yield path
    holder.close()


def test_sqlite_errors_are_said_by_their_error_name(tmp_path: Path, locked_db: Path) -> None:
    (tmp_path / "garbage.db").write_bytes(b"not a database at all" * 100)
    ro = tmp_path / "ro.db"
    sqlite3.connect(ro).close()
    cases = {
        "db_cannot_open": _sqlalchemy_error(f"sqlite:///{tmp_path}/no/such/dir/a.db"),
        "db_locked": _sqlalchemy_error(f"sqlite:///{locked_db}", "INSERT INTO t VALUES (1)", timeout=0),
        "db_read_only": _sqlalchemy_error(f"sqlite:///file:{ro}?mode=ro&uri=true", "CREATE TABLE t (x)"),
        "db_not_a_database": _sqlalchemy_error(f"sqlite:///{tmp_path}/garbage.db", "SELECT * FROM sqlite_master"),
    }
    for key, exc in cases.items():
        said = db_error_said(exc)
        assert said.key == key, (key, str(exc.orig))
        assert not kept(str(exc.orig), said.text("vi")), said.text("vi")
        assert OWN_WORDS_EN not in said.text("en")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_store_in_a_missing_folder_is_said_in_words(tmp_path: Path, lang: str) -> None:
    with pytest.raises(StoreError) as raised:
        open_store(f"sqlite:///{tmp_path}/no/such/dir/audit.db")
    text = raised.value.text(lang)  # type: ignore[arg-type]
    if lang == "vi":
        assert text.endswith(
            "không mở được tệp cơ sở dữ liệu (thư mục chứa nó không tồn tại hoặc không có quyền truy cập)"
        )
        assert not kept("unable to open database file", text)
    else:
        assert text.endswith("the database file cannot be opened (its folder does not exist or cannot be accessed)")


def test_a_postgresql_server_that_refuses_is_said_in_words_without_the_password() -> None:
    port = closed_port()
    with pytest.raises(StoreError) as raised:
        open_store(f"postgresql://auditor:s3cret-pw@127.0.0.1:{port}/audit?connect_timeout=3")
    vi = raised.value.text("vi")
    assert vi.endswith("máy chủ cơ sở dữ liệu từ chối kết nối (không có dịch vụ nào nhận kết nối ở cổng này)")
    assert "s3cret-pw" not in vi and "s3cret-pw" not in str(raised.value)
    assert not kept("connection failed: connection to server failed: Connection refused running", vi)


def test_an_unmapped_database_error_is_quoted_as_the_drivers_own(tmp_path: Path) -> None:
    exc = _sqlalchemy_error(f"sqlite:///{tmp_path}/a.db", "SELEC 1")
    said = db_error_said(exc)
    assert said.text("vi") == f"(thông báo gốc của trình điều khiển cơ sở dữ liệu: “{exc.orig}”)"
    assert said.text("en") == f"(the database driver's own message: “{exc.orig}”)"


# -- cron -----------------------------------------------------------------------------------------------------


def _croniter_message(expression: str) -> str:
    try:
        croniter(expression)
    except (ValueError, KeyError) as exc:
        return str(exc)
    raise AssertionError(f"croniter accepted {expression!r}")


@pytest.mark.parametrize(
    ("expression", "vi", "en"),
    [
        ("61 2 * * *", "trường phút: giá trị 61 nằm ngoài khoảng cho phép 0–59", "minute 61 is outside 0-59"),
        ("0 24 * * *", "trường giờ: giá trị 24 nằm ngoài khoảng cho phép 0–23", "hour 24 is outside 0-23"),
        ("0 2 * 13 *", "trường tháng: giá trị 13 nằm ngoài khoảng cho phép 1–12", "month 13 is outside 1-12"),
        ("0 2 * * 8", "trường thứ-trong-tuần: giá trị 8 nằm ngoài", "day-of-week 8 is outside 0-7"),
        ("*/0 * * * *", "trường phút: bước nhảy '0' không hợp lệ", "minute: step '0' is not valid"),
        ("0 2 * foo *", "trường tháng: không hiểu giá trị 'foo'", "month 'foo'"),
    ],
)
def test_cron_fields_are_checked_in_words(expression: str, vi: str, en: str) -> None:
    with pytest.raises(ConfigError) as raised:
        validate_cron(expression)
    said_vi, said_en = raised.value.text("vi"), raised.value.text("en")
    assert vi in said_vi and en in said_en
    assert not kept(_croniter_message(expression), said_vi.replace(expression, "")), said_vi


def test_croniters_own_syntax_stays_accepted() -> None:
    for expression in ("0 2 L * *", "0 2 * * 5#3", "0 2 15W * *", "0 2 * jan-mar mon-fri"):
        assert validate_cron(expression) == expression


# -- Ansible --------------------------------------------------------------------------------------------------


def test_an_unreachable_hosts_cause_is_said_in_words() -> None:
    message = "Failed to connect to the host via ssh: ssh: connect to host 10.0.0.5 port 22: Connection refused"
    said = ansible_error_said(f"unreachable: {message}")
    assert (
        said.text("vi")
        == "không kết nối được tới máy chủ: kết nối bị từ chối (không có dịch vụ nào nhận kết nối ở cổng này)"
    )
    assert said.text("en").startswith("unreachable: connection refused")
    assert not kept(message, said.text("vi"))


def test_an_ansible_failure_without_words_is_quoted_as_ansibles_own() -> None:
    said = ansible_error_said("Apply the hardening: Missing sudo password")
    assert said.text("vi") == "bước “Apply the hardening” bị lỗi (thông báo gốc của Ansible: “Missing sudo password”)"
    assert said.text("en") == "Apply the hardening: (Ansible's own message: “Missing sudo password”)"
    assert isinstance(ansible_error_said("no colon at all"), Said)
    assert ansible_error_said("no colon at all").text("vi") == "(thông báo gốc của Ansible: “no colon at all”)"


def test_a_failed_batched_execution_is_said_in_vietnamese_with_the_hosts_words_quoted() -> None:
    from auditor.collectors.ssh.transport import deadline_error
    from auditor.foreign import foreign, theirs

    status = foreign("ssh_exit_code", code=1)
    host_line = "sudo: a password is required"
    cases = [
        deadline_error(60.0).said,
        foreign("ssh_sudo_refused", host="h1", status=status, line=theirs("target", host_line)),
        foreign("ssh_script_not_started", host="h1", status=foreign("ssh_exit_none"), line=foreign("ssh_no_message")),
        foreign("ssh_output_flood", host="h1", budget="8.0 MiB", done=foreign("ssh_output_flood_none")),
        foreign("ssh_exec_dropped", what=theirs("ssh", "EOFError: gone")),
        foreign("ssh_host_key_changed", where="h1", presented="ssh-ed25519 ab", trusted="ssh-rsa cd"),
        foreign("ssh_password_env_unset", host="h1", name="PW"),
    ]
    for words in cases:
        assert words is not None
        english, vietnamese = words.text("en"), words.text("vi")
        outside_quotes = re.sub(r"“[^”]*”", "", vietnamese)
        assert not kept(english, outside_quotes) - {"sudo", "password"}, vietnamese  # a command and a field name
    english = foreign("ssh_sudo_refused", host="h1", status=status, line=theirs("target", host_line)).text("en")
    assert english == f"h1: sudo -n refused to run the probes (exit 1): {host_line}"  # as it always read
