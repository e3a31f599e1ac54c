"""`auditor serve` refuses what would expose the portal: running as root, plain HTTP beyond loopback, half a TLS
pair, mail options without a server; and hands a sound configuration to uvicorn (the server itself is exercised
by the lab tests, which run it for real)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditor.cli import serve as serve_cli
from auditor.vocabulary import ExitCode
from tests.portal.support import write_inventory

BEYOND_LOOPBACK = "192.0.2.10"  # a documentation address: nothing is bound, uvicorn is not started


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What uvicorn would have been started with (nothing listens)."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **options: calls.append({"app": app, **options}))
    return calls


def _serve(
    tmp_path: Path, *args: str, euid: int = 1000, monkeypatch: pytest.MonkeyPatch, lang: str = "en"
) -> tuple[int, str]:
    monkeypatch.setattr(serve_cli.os, "geteuid", lambda: euid)
    inventory = write_inventory(tmp_path / "inventory.yml")
    result = CliRunner().invoke(
        serve_cli.app,
        [
            "--inventory", str(inventory),
            "--db", f"sqlite:///{tmp_path / 'portal.db'}",
            "--known-hosts", str(tmp_path / "known_hosts"),
            "--secret-file", str(tmp_path / "portal.key"),
            "--no-scheduler",
            "--lang", lang,
            *args,
        ],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    return result.exit_code, " ".join(result.output.split())


def _pem(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "portal.crt", tmp_path / "portal.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    key.write_text("-----BEGIN PRIVATE KEY-----\n", encoding="ascii")
    return cert, key


def test_root_is_refused_unless_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: list[dict[str, Any]]
) -> None:
    code, output = _serve(tmp_path, euid=0, monkeypatch=monkeypatch)
    assert code == ExitCode.config and "not root" in output and started == []
    code, output = _serve(tmp_path, euid=0, monkeypatch=monkeypatch, lang="vi")
    assert code == ExitCode.config and output.startswith("lỗi: cổng thông tin là một dịch vụ mạng") and started == []
    assert "không chạy bằng root" in output
    code, _output = _serve(tmp_path, "--allow-root", euid=0, monkeypatch=monkeypatch)
    assert code == 0 and len(started) == 1


def test_plain_http_is_served_on_loopback_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: list[dict[str, Any]]
) -> None:
    code, output = _serve(tmp_path, "--host", BEYOND_LOOPBACK, monkeypatch=monkeypatch)
    assert code == ExitCode.config and "plain HTTP only on a loopback address" in output and started == []
    # behind the reverse proxy (which speaks TLS) the portal may listen beyond loopback, with secure cookies
    code, _output = _serve(tmp_path, "--host", BEYOND_LOOPBACK, "--behind-proxy", monkeypatch=monkeypatch)
    assert code == 0
    (call,) = started
    assert call["host"] == BEYOND_LOOPBACK and call["proxy_headers"] is True and call["ssl_certfile"] is None
    assert call["app"].state.portal.config.secure_cookies is True
    assert call["server_header"] is False


def test_tls_needs_both_the_certificate_and_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: list[dict[str, Any]]
) -> None:
    cert, key = _pem(tmp_path)
    code, output = _serve(tmp_path, "--host", BEYOND_LOOPBACK, "--tls-cert", str(cert), monkeypatch=monkeypatch)
    assert code == ExitCode.config and "--tls-cert and --tls-key go together" in output and started == []
    code, _output = _serve(
        tmp_path, "--host", BEYOND_LOOPBACK, "--tls-cert", str(cert), "--tls-key", str(key), monkeypatch=monkeypatch
    )
    assert code == 0
    (call,) = started
    assert (call["ssl_certfile"], call["ssl_keyfile"]) == (str(cert), str(key))
    assert call["app"].state.portal.config.secure_cookies is True


def test_mail_options_need_a_server_and_a_sender(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: list[dict[str, Any]]
) -> None:
    code, output = _serve(tmp_path, "--smtp-host", "127.0.0.1", monkeypatch=monkeypatch)
    assert code == ExitCode.config and "--smtp-host and --mail-from go together" in output
    code, output = _serve(
        tmp_path,
        "--smtp-host", "127.0.0.1", "--mail-from", "kiemtra@stttt.example", "--smtp-user", "kiemtra",
        "--smtp-password-env", "NO_SUCH_VARIABLE",
        monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == ExitCode.config and "NO_SUCH_VARIABLE is not set" in output
    assert started == []
