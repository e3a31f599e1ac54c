"""Errors of the network collectors, the SSH key files, the audit service, zones, reports and the portal said in
both languages: the English reads as it always has, the Vietnamese keeps none of its words, and a network
collector's failure reaches a finding's Vietnamese reason in Vietnamese."""

from __future__ import annotations

import re
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from auditor.collectors.network import sshalgos
from auditor.collectors.network.nmap import ScriptPolicyError, check_scripts, parse_xml
from auditor.errors import AuditorError, CollectorError, ConfigError
from auditor.foreign import in_words
from auditor.portal.accounts import valid_username
from auditor.zones.broker import broker_url

PROPER = {"nmap", "chmod", "vuln"}  # programs and a script by name, as written
WRITTEN = re.compile(r"--[\w-]+|[\w.:/-]*[_/][\w.:/-]*")  # options, variables, paths and URLs stay as written


def english_words(message: str) -> set[str]:
    return {word.lower() for word in re.findall(r"[A-Za-z]{4,}", WRITTEN.sub(" ", message))} - PROPER


def kept(english: str, vietnamese: str) -> set[str]:
    return english_words(english) & {word.lower() for word in re.findall(r"[A-Za-z]+", WRITTEN.sub(" ", vietnamese))}


def raised(call: Callable[[], object]) -> AuditorError:
    with pytest.raises(AuditorError) as info:
        call()
    return info.value


def truncated_kexinit() -> None:
    sshalgos.parse_kexinit(bytes([20]) + bytes(16) + struct.pack(">I", 50))


def not_kexinit() -> None:
    sshalgos.parse_kexinit(bytes([21]) + bytes(16))


CASES: list[tuple[Callable[[], object], str]] = [
    (not_kexinit, "the first SSH packet was not KEXINIT"),
    (truncated_kexinit, "truncated KEXINIT"),
    (
        lambda: check_scripts(["ssl-cert", "vuln", "*"], categories={"ssl-cert": {"safe"}}),
        "NSE scripts refused: vuln: category refused; *: only plain script names are accepted "
        "(no categories, globs, paths, expressions)",
    ),
    (
        lambda: broker_url(""),
        "no broker: give --broker or set AUDITOR_BROKER_URL (e.g. rediss://broker.example:6379/0)",
    ),
    (
        lambda: broker_url("http://broker.example:6379/0"),
        "the broker URL must be redis://HOST:PORT/DB or rediss://HOST:PORT/DB (TLS)",
    ),
    (
        lambda: broker_url("rediss://:secret@broker.example:6379/0", password_env="AUDITOR_BROKER_PASSWORD"),
        "put the broker's password in AUDITOR_BROKER_PASSWORD, not in the URL",
    ),
    (lambda: valid_username("A"), "username 'A': 2-64 lower-case letters, digits, '.', '_' or '-'"),
]


@pytest.mark.parametrize(("call", "english"), CASES)
def test_english_unchanged_and_vietnamese_keeps_none_of_its_words(
    call: Callable[[], object], english: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUDITOR_BROKER_URL", raising=False)
    error = raised(call)
    assert str(error) == english
    assert error.text("en") == english
    vietnamese = error.text("vi")
    assert vietnamese != english
    assert not kept(english, vietnamese), kept(english, vietnamese)


def test_refused_scripts_are_each_named_in_vietnamese() -> None:
    with pytest.raises(ScriptPolicyError) as info:
        check_scripts(["vuln", "not-a-script"], categories={})
    vietnamese = info.value.text("vi")
    assert "vuln: " in vietnamese and "not-a-script: " in vietnamese
    assert vietnamese.count("; ") == 1


def test_broken_xml_quotes_the_parser_in_english_as_it_was() -> None:
    error = raised(lambda: parse_xml(b"<nmaprun><host>"))
    assert isinstance(error, CollectorError) and error.reason == "scan_failed"
    assert str(error).startswith("nmap output is not valid XML: ")
    assert "kết quả nmap" in error.text("vi")


@pytest.fixture
def closing_server() -> Iterator[int]:
    """A loopback server that accepts one connection and closes it at once."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        connection, _ = server.accept()
        connection.recv(64)  # the client's banner, read so that closing sends no reset
        connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    thread.join(timeout=5)
    server.close()


def test_a_closed_ssh_connection_reaches_the_vietnamese_reason_in_vietnamese(closing_server: int) -> None:
    error = raised(lambda: sshalgos.read_algorithms("127.0.0.1", closing_server, timeout=5))
    assert isinstance(error, CollectorError)
    assert error.said is not None
    reason = in_words(error.said)
    english = "the SSH server closed the connection"
    assert reason.en == english
    assert not kept(english, reason.vi)


def test_settings_not_a_mapping_said_in_vietnamese(tmp_path: Path) -> None:
    from auditor.reports.official_settings import load_settings

    path = tmp_path / "official.yml"
    path.write_text("- a list\n", encoding="utf-8")
    error = raised(lambda: load_settings(path))
    assert isinstance(error, ConfigError)
    english = f"{path}: expected a mapping of settings (place, department, agency, …)"
    assert str(error) == english
    assert not kept("expected a mapping of settings", error.text("vi"))  # the settings' own names stay


def test_a_zone_key_file_others_can_read_said_in_vietnamese(tmp_path: Path) -> None:
    import yaml

    from auditor.zones.worker_config import load_zone_config

    (tmp_path / "known_hosts").write_text("", encoding="utf-8")
    key = tmp_path / "id_zone"
    key.write_text("not a real key\n", encoding="utf-8")
    key.chmod(0o644)
    path = tmp_path / "zone.yml"
    path.write_text(yaml.safe_dump({"zone": "north", "known_hosts": "known_hosts", "key_file": "id_zone"}))
    error = raised(lambda: load_zone_config(path))
    english = f"{path}: key file {key} can be read by other users: chmod 600 {key}"
    assert str(error) == english
    assert not kept(english, error.text("vi"))
