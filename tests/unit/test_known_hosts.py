"""The tool's own known-hosts file, and strict host-key checking against a local paramiko server."""

from __future__ import annotations

import io
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from auditor.collectors.ssh.collector import SshCollector
from auditor.collectors.ssh.known_hosts import KnownHostsStore, fingerprint, host_spec
from auditor.errors import AuthError, ConnectError, HostKeyError
from auditor.evaluation.observations import ProbeRequest
from auditor.inventory import Host


def ed25519_key() -> paramiko.Ed25519Key:
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
        .decode()
    )
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem))


def ecdsa_key() -> paramiko.ECDSAKey:
    return paramiko.ECDSAKey.generate()


# ------------------------------------------------------------------------------------------ the file


def test_round_trip_and_file_modes(tmp_path: Path) -> None:
    path = tmp_path / "state" / "known_hosts"
    store = KnownHostsStore(path)
    key = ed25519_key()
    assert store.lookup("10.0.0.5", 22) is None
    assert store.trust("10.0.0.5", 22, key) is True
    assert store.trust("10.0.0.5", 22, key) is False  # same key again: nothing to do
    found = store.lookup("10.0.0.5", 22)
    assert found is not None and found == key and found.get_name() == "ssh-ed25519"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert path.read_text() == f"10.0.0.5 ssh-ed25519 {key.get_base64()}\n"
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_non_default_port_uses_bracket_form(tmp_path: Path) -> None:
    store = KnownHostsStore(tmp_path / "known_hosts")
    key22, key2222 = ed25519_key(), ecdsa_key()
    store.trust("srv.example.vn", 22, key22)
    store.trust("srv.example.vn", 2222, key2222)
    assert host_spec("srv.example.vn", 2222) == "[srv.example.vn]:2222"
    assert host_spec("2001:db8::1", 22) == "2001:db8::1"
    assert store.lookup("srv.example.vn", 22) == key22
    assert store.lookup("srv.example.vn", 2222) == key2222
    assert store.lookup("srv.example.vn", 2200) is None
    text = (tmp_path / "known_hosts").read_text()
    assert f"[srv.example.vn]:2222 ecdsa-sha2-nistp256 {key2222.get_base64()}\n" in text
    # paramiko (what SSHClient.load_host_keys uses) reads the same file the same way
    loaded = paramiko.HostKeys(str(tmp_path / "known_hosts"))
    assert loaded.lookup("[srv.example.vn]:2222")["ecdsa-sha2-nistp256"] == key2222  # type: ignore[index]
    assert loaded.lookup("srv.example.vn")["ssh-ed25519"] == key22  # type: ignore[index]


@pytest.mark.parametrize("bad", ["a b", "x,y", "", "h\nevil ssh-ed25519 AAAA"])
def test_addresses_that_would_corrupt_the_file_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        KnownHostsStore(tmp_path / "kh").trust(bad, 22, ed25519_key())


def test_fingerprint_is_openssh_style(tmp_path: Path) -> None:
    key = ed25519_key()
    fp = fingerprint(key)
    assert re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}", fp)
    keygen = shutil.which("ssh-keygen")
    if keygen:
        pub = tmp_path / "k.pub"
        pub.write_text(f"ssh-ed25519 {key.get_base64()} test\n")
        out = subprocess.run([keygen, "-l", "-E", "sha256", "-f", str(pub)], capture_output=True, text=True, check=True)
        assert out.stdout.split()[1] == fp


def test_silent_replacement_is_refused(tmp_path: Path) -> None:
    store = KnownHostsStore(tmp_path / "known_hosts")
    old, new, other = ed25519_key(), ed25519_key(), ecdsa_key()
    store.trust("10.0.0.1", 22, old)
    store.trust("10.0.0.2", 22, other)
    with pytest.raises(HostKeyError) as caught:
        store.trust("10.0.0.1", 22, new)
    assert caught.value.reason == "host_key_changed"
    assert fingerprint(old) in str(caught.value) and fingerprint(new) in str(caught.value)
    with pytest.raises(HostKeyError):  # a different key TYPE is a different key too
        store.trust("10.0.0.1", 22, ecdsa_key())
    assert store.lookup("10.0.0.1") == old
    assert store.trust("10.0.0.1", 22, new, replace=True) is True
    assert store.lookup_all("10.0.0.1") == [new]
    assert store.lookup("10.0.0.2") == other  # other hosts untouched


def test_foreign_lines_survive_and_multi_host_lines_are_split_on_replace(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    shared = ed25519_key()
    path.write_text(f"# comment\n|1|hashed|entry ssh-ed25519 AAAA\na,b ssh-ed25519 {shared.get_base64()}")
    store = KnownHostsStore(path)
    assert store.lookup("a") == shared and store.lookup("b") == shared
    new = ed25519_key()
    store.trust("a", 22, new, replace=True)
    assert store.lookup("a") == new and store.lookup("b") == shared
    assert path.read_text().startswith("# comment\n|1|hashed|entry ssh-ed25519 AAAA\n")


# ------------------------------------------------------------------------------------------ a local SSH server


class _NoLogin(paramiko.ServerInterface):
    def __init__(self, owner: LocalSshServer) -> None:
        self.owner = owner

    def get_allowed_auths(self, username: str) -> str:
        return "publickey,password"

    def check_auth_none(self, username: str) -> int:
        self.owner.auth_attempts += 1
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username: str, password: str) -> int:
        self.owner.auth_attempts += 1
        return paramiko.AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        self.owner.auth_attempts += 1
        return paramiko.AUTH_FAILED


class LocalSshServer:
    """A paramiko server on 127.0.0.1 that completes handshakes and refuses every login."""

    def __init__(self, host_keys: list[paramiko.PKey]) -> None:
        self.host_keys = host_keys
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.auth_attempts = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            transport = paramiko.Transport(conn)
            for key in self.host_keys:
                transport.add_server_key(key)
            try:
                transport.start_server(server=_NoLogin(self))
            except (paramiko.SSHException, EOFError, OSError):
                transport.close()
                continue
            threading.Thread(target=self._watch, args=(transport,), daemon=True).start()

    def _watch(self, transport: paramiko.Transport) -> None:
        transport.join(timeout=10)
        transport.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def server() -> Iterator[LocalSshServer]:
    srv = LocalSshServer([ecdsa_key(), ed25519_key()])
    yield srv
    srv.close()


def _host(port: int, **kw: object) -> Host:
    data: dict[str, object] = {"name": "local", "address": "127.0.0.1", "port": port, "user": "auditor"}
    data.update(kw or {"password_env": "AUDITOR_TEST_PW"})
    return Host.model_validate(data)


def test_fetch_host_key_prefers_ed25519(tmp_path: Path, server: LocalSshServer) -> None:
    key = KnownHostsStore(tmp_path / "kh").fetch_host_key("127.0.0.1", server.port, timeout=5)
    assert key.get_name() == "ssh-ed25519" and key == server.host_keys[1]
    assert not (tmp_path / "kh").exists()  # fetching trusts nothing


def test_unknown_host_is_rejected_before_authentication(
    tmp_path: Path, server: LocalSshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITOR_TEST_PW", "s3cret-value")
    collector = SshCollector(tmp_path / "known_hosts", connect_timeout_s=5)
    with pytest.raises(HostKeyError) as caught:
        collector.collect(_host(server.port), [ProbeRequest(probe_id="a", command="true")])
    assert caught.value.reason == "host_key_unknown"
    assert fingerprint(server.host_keys[1]) in str(caught.value)
    assert "s3cret-value" not in str(caught.value)
    assert not (tmp_path / "known_hosts").exists()  # never learned (no AutoAddPolicy)
    assert server.auth_attempts == 0  # nothing but the handshake happened


def test_changed_key_is_rejected(tmp_path: Path, server: LocalSshServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_TEST_PW", "s3cret-value")
    store = KnownHostsStore(tmp_path / "known_hosts")
    store.trust("127.0.0.1", server.port, ed25519_key())  # not the server's key
    with pytest.raises(HostKeyError) as caught:
        SshCollector(store.path, connect_timeout_s=5).collect(_host(server.port), [])
    assert caught.value.reason == "host_key_changed"
    assert "s3cret-value" not in str(caught.value)
    assert server.auth_attempts == 0


def test_recorded_key_type_is_negotiated(
    tmp_path: Path, server: LocalSshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server has ecdsa and ed25519; only its ecdsa key is trusted: the client must ask for ecdsa."""
    monkeypatch.setenv("AUDITOR_TEST_PW", "wrong")
    store = KnownHostsStore(tmp_path / "known_hosts")
    store.trust("127.0.0.1", server.port, server.host_keys[0])
    with pytest.raises(AuthError) as caught:  # host key accepted; the login itself is refused
        SshCollector(store.path, connect_timeout_s=5).collect(_host(server.port), [])
    assert caught.value.reason == "auth_failed"
    assert server.auth_attempts > 0
    assert "wrong" not in str(caught.value)


def test_missing_password_variable_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDITOR_TEST_PW", raising=False)
    with pytest.raises(AuthError) as caught:
        SshCollector(tmp_path / "kh").collect(_host(22), [])
    assert "AUDITOR_TEST_PW" in str(caught.value) and caught.value.reason == "auth_failed"


def test_refused_port_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    with pytest.raises(ConnectError) as caught:
        SshCollector(tmp_path / "kh", connect_timeout_s=3).collect(_host(free_port, use_agent=True), [])
    assert caught.value.reason == "unreachable"
    with pytest.raises(ConnectError):
        KnownHostsStore(tmp_path / "kh").fetch_host_key("127.0.0.1", free_port, timeout=3)


# ------------------------------------------------------------------------------------------ the index, read once


def test_the_index_finds_what_paramiko_finds_in_the_whole_file(tmp_path: Path) -> None:
    from auditor.collectors.ssh.known_hosts import KnownHostsIndex

    first, second, other, hashed_key = ed25519_key(), ecdsa_key(), ed25519_key(), ed25519_key()
    hashed_name = paramiko.HostKeys.hash_host("[10.0.0.9]:2222")
    path = tmp_path / "known_hosts"
    path.write_text(
        "# a comment\n"
        f"[10.0.0.1]:2222,10.0.0.2 {first.get_name()} {first.get_base64()}\n"
        f"[10.0.0.1]:2222 {second.get_name()} {second.get_base64()}\n"
        f"[10.0.0.1]:2222 {other.get_name()} {other.get_base64()}\n"  # a second ed25519: paramiko keeps the first
        f"{hashed_name} {hashed_key.get_name()} {hashed_key.get_base64()}\n"
        "not a key line\n",
        encoding="utf-8",
    )
    index = KnownHostsIndex(path)
    whole = paramiko.HostKeys()  # paramiko itself refuses the whole file for its garbled last line
    for line in path.read_text(encoding="utf-8").splitlines()[1:-1]:
        entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
        assert entry is not None
        for name in entry.hostnames:
            if whole.lookup(name) is None or entry.key.get_name() not in whole.lookup(name):  # type: ignore[operator]
                whole.add(name, entry.key.get_name(), entry.key)
    for address, port in (("10.0.0.1", 2222), ("10.0.0.2", 22), ("10.0.0.9", 2222), ("10.0.0.3", 22)):
        name = address if port == 22 else f"[{address}]:{port}"
        mine = paramiko.HostKeys()
        index.fill(mine, address, port)
        expected = whole.lookup(name)
        found = mine.lookup(name)
        if expected is None:
            assert found is None
            continue
        assert found is not None
        assert {t: found[t] for t in found} == {t: expected[t] for t in expected}
    assert index.keys_for("[10.0.0.9]:2222") == [hashed_key]


def test_the_index_reads_the_file_once_for_every_connection_of_a_run(tmp_path: Path) -> None:
    from auditor.collectors.ssh.known_hosts import KnownHostsIndex

    key = ed25519_key()
    path = tmp_path / "known_hosts"
    lines = [f"[127.0.0.1]:{port} {key.get_name()} {key.get_base64()}\n" for port in range(20000, 22000)]
    path.write_text("".join(lines), encoding="utf-8")
    index = KnownHostsIndex(path)
    assert index.keys_for("[127.0.0.1]:20000") == [key]
    path.write_text("", encoding="utf-8")  # read once: later lookups use what was read
    assert index.keys_for("[127.0.0.1]:21999") == [key]
    assert index.keys_for("[127.0.0.1]:22000") == []


def test_an_unreadable_file_makes_every_lookup_a_host_key_error(tmp_path: Path) -> None:
    from auditor.collectors.ssh.known_hosts import KnownHostsIndex

    path = tmp_path / "known_hosts"
    path.write_bytes(b"\xff\xfe not utf-8\n")
    index = KnownHostsIndex(path)
    for _ in range(2):
        with pytest.raises(HostKeyError, match="cannot read the known-hosts file") as caught:
            index.keys_for("10.0.0.1")
        assert caught.value.reason == "host_key_unknown"
    assert KnownHostsIndex(tmp_path / "missing").keys_for("10.0.0.1") == []
