"""Encrypted private keys: a message that names the file and the two ways out, and the passphrase taken
from the environment variable that ``key_passphrase_env`` names (never from the inventory itself)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pydantic import ValidationError

from auditor.collectors.ssh.collector import SshCollector
from auditor.collectors.ssh.connect import load_private_key
from auditor.errors import AuthError
from auditor.evaluation.observations import ProbeRequest
from auditor.inventory import Host

PASSPHRASE = "correct horse battery staple"
VAR = "AUDITOR_TEST_KEY_PASSPHRASE"

PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
FORMATS: dict[str, tuple[Callable[[], PrivateKey], serialization.PrivateFormat]] = {
    "openssh-ed25519": (ed25519.Ed25519PrivateKey.generate, serialization.PrivateFormat.OpenSSH),
    "openssh-ecdsa": (lambda: ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.OpenSSH),
    "pem-rsa": (lambda: rsa.generate_private_key(65537, 2048), serialization.PrivateFormat.TraditionalOpenSSL),
    "pem-ecdsa": (lambda: ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.TraditionalOpenSSL),
    "pkcs8-ecdsa": (lambda: ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8),
}


def _write(path: Path, key: PrivateKey, fmt: serialization.PrivateFormat, passphrase: str | None) -> Path:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    )
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, fmt, encryption))
    path.chmod(0o600)
    return path


@pytest.fixture(params=sorted(FORMATS))
def encrypted(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, paramiko.PKey]:
    """An encrypted key file in one format, and the same key loaded from an unencrypted copy."""
    generate, fmt = FORMATS[request.param]
    key = generate()
    plain = load_private_key(_host(_write(tmp_path / "plain", key, fmt, None)))
    assert plain is not None
    return _write(tmp_path / f"{request.param}.key", key, fmt, PASSPHRASE), plain


def _host(key_file: Path, **fields: object) -> Host:
    return Host.model_validate({"name": "web", "address": "127.0.0.1", "key_file": key_file, **fields})


def test_an_encrypted_key_without_a_passphrase_says_so_and_how_to_fix_it(
    encrypted: tuple[Path, paramiko.PKey],
) -> None:
    path, _ = encrypted
    with pytest.raises(AuthError) as caught:
        load_private_key(_host(path))
    message = str(caught.value)
    assert caught.value.reason == "auth_failed"
    assert str(path) in message and "is encrypted" in message
    assert "ssh-agent" in message and "use_agent: true" in message and "key_passphrase_env" in message
    assert "TypeError" not in message


def test_the_passphrase_from_the_named_variable_decrypts_the_key(
    encrypted: tuple[Path, paramiko.PKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, plain = encrypted
    monkeypatch.setenv(VAR, PASSPHRASE)
    loaded = load_private_key(_host(path, key_passphrase_env=VAR))
    assert loaded is not None and loaded.get_base64() == plain.get_base64()


def test_a_missing_variable_is_named(encrypted: tuple[Path, paramiko.PKey], monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = encrypted
    monkeypatch.delenv(VAR, raising=False)
    with pytest.raises(AuthError) as caught:
        load_private_key(_host(path, key_passphrase_env=VAR))
    assert caught.value.reason == "auth_failed"
    assert VAR in str(caught.value) and "is not set" in str(caught.value) and str(path) in str(caught.value)


def test_a_wrong_passphrase_is_said_plainly(
    encrypted: tuple[Path, paramiko.PKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = encrypted
    monkeypatch.setenv(VAR, "not the passphrase")
    with pytest.raises(AuthError) as caught:
        load_private_key(_host(path, key_passphrase_env=VAR))
    assert f"the passphrase in {VAR}" in str(caught.value) and "does not decrypt" in str(caught.value)
    assert "not the passphrase" not in str(caught.value)


def test_with_use_agent_an_encrypted_key_is_left_to_the_agent(encrypted: tuple[Path, paramiko.PKey]) -> None:
    path, _ = encrypted
    assert load_private_key(_host(path, use_agent=True)) is None


def test_a_plain_key_ignores_a_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    path = _write(tmp_path / "plain", key, serialization.PrivateFormat.OpenSSH, None)
    monkeypatch.setenv(VAR, PASSPHRASE)
    assert load_private_key(_host(path, key_passphrase_env=VAR)) is not None


def test_unreadable_and_garbage_key_files(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="does not exist"):
        load_private_key(_host(tmp_path / "absent"))
    garbage = tmp_path / "garbage"
    garbage.write_text("not a key\x1b[31m\n")
    with pytest.raises(AuthError, match="cannot be loaded") as caught:
        load_private_key(_host(garbage))
    assert "\x1b" not in str(caught.value)


def test_the_collector_refuses_before_connecting(tmp_path: Path, encrypted: tuple[Path, paramiko.PKey]) -> None:
    path, _ = encrypted
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here: connecting would be "unreachable"
    host = _host(path, port=port)
    with pytest.raises(AuthError, match="is encrypted"):
        SshCollector(tmp_path / "kh", connect_timeout_s=2).collect(host, [ProbeRequest(probe_id="a", command="true")])


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"key_file": "k", "key_passphrase_env": "lower_case"}, "key_passphrase_env"),
        ({"key_file": "k", "key_passphrase_env": "correct horse"}, "key_passphrase_env"),
        ({"use_agent": True, "key_passphrase_env": "PASS"}, "give key_file too"),
    ],
)
def test_key_passphrase_env_is_a_variable_name_that_goes_with_key_file(fields: dict[str, object], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Host.model_validate({"name": "web", "address": "127.0.0.1", **fields})
    assert Host.model_validate({"name": "web", "address": "10.0.0.1", "key_file": "k", "key_passphrase_env": "PASS"})


def test_a_key_is_parsed_once_but_a_file_changed_or_a_passphrase_changed_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "id", ed25519.Ed25519PrivateKey.generate(), serialization.PrivateFormat.OpenSSH, None)
    first = load_private_key(_host(path))
    assert first is not None and load_private_key(_host(path)) is first  # a fleet's hosts share one parse
    _write(path, ed25519.Ed25519PrivateKey.generate(), serialization.PrivateFormat.OpenSSH, PASSPHRASE)
    monkeypatch.setenv(VAR, "not it")
    with pytest.raises(AuthError, match="does not decrypt"):
        load_private_key(_host(path, key_passphrase_env=VAR))
    monkeypatch.setenv(VAR, PASSPHRASE)
    second = load_private_key(_host(path, key_passphrase_env=VAR))
    assert second is not None and second.get_fingerprint() != first.get_fingerprint()
