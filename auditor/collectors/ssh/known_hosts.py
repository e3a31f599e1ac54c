"""The tool's own known-hosts file: OpenSSH format, written only by an explicit ``trust`` call.

The collector never learns keys by itself (no trust on first use). An operator fetches a host's key,
checks its fingerprint out of band and calls ``trust``; a different key for an already trusted host is
refused unless the caller passes ``replace=True``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import os
import re
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
from paramiko.hostkeys import HostKeyEntry, InvalidHostKey

from auditor.errors import ConnectError, HostKeyError
from auditor.foreign import connection_error_said, foreign, os_error_said

PREFERRED_KEY_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
)
_ADDRESS = re.compile(r"[A-Za-z0-9._:%-]+")


def host_spec(address: str, port: int = 22) -> str:
    """The name OpenSSH and paramiko use in known_hosts: ``addr`` for port 22, ``[addr]:port`` otherwise."""
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"not a host address: {address!r}")
    if not 1 <= port <= 65535:
        raise ValueError(f"not a TCP port: {port}")
    return address if port == 22 else f"[{address}]:{port}"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style fingerprint: ``SHA256:`` and the unpadded base64 of the key blob's SHA-256."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class _Entry:
    hosts: tuple[str, ...]
    key_type: str
    key_b64: str

    def line(self) -> str:
        return f"{','.join(self.hosts)} {self.key_type} {self.key_b64}\n"


def _parse_line(line: str) -> _Entry | None:
    fields = line.split()
    if len(fields) < 3 or fields[0].startswith(("#", "@", "|")):
        return None  # comments, markers and hashed names are kept verbatim but never matched
    return _Entry(tuple(fields[0].split(",")), fields[1], fields[2])


def _load_key(entry: _Entry) -> paramiko.PKey | None:
    try:
        blob = base64.b64decode(entry.key_b64, validate=True)
        key = paramiko.PKey.from_type_string(entry.key_type, blob)
    except (binascii.Error, ValueError, paramiko.SSHException, TypeError):
        return None
    return key


def paramiko_host_name(address: str, port: int) -> str:
    """The name paramiko looks a server's keys up by when connecting (no validation: any inventory address)."""
    return address if port == 22 else f"[{address}]:{port}"


class KnownHostsIndex:
    """The tool's known-hosts file, read once and indexed by host name, for a whole run's connections.

    paramiko's own loader checks every line against every line read before it, and a connection used to
    load the whole file: a fleet of N hosts cost N² comparisons per connection. Here the file is read once
    (at the first lookup) with paramiko's line parser, so each host's keys are found in constant time and
    a connection holds only its host's keys. What a lookup finds is what paramiko would have found in the
    whole file: the same names (hashed ``|1|`` names too), the first key of each type, in file order.
    A file that cannot be read makes every lookup raise the same HostKeyError.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._loaded = False
        self._by_name: dict[str, list[paramiko.PKey]] = {}
        self._hashed: list[tuple[str, paramiko.PKey]] = []  # (|1|salt|hash, key): rare, matched one by one
        self._error: str | None = None

    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            try:
                with self.path.open(encoding="utf-8") as lines:
                    for number, raw in enumerate(lines, start=1):
                        self._add(raw.strip(), number)
            except FileNotFoundError:
                pass  # no file yet: every host is unknown
            except (OSError, UnicodeDecodeError) as exc:
                self._error = type(exc).__name__
            self._loaded = True

    def _add(self, line: str, number: int) -> None:
        if not line or line.startswith("#"):
            return
        try:
            entry = HostKeyEntry.from_line(line, number)
        except (paramiko.SSHException, InvalidHostKey):
            return  # a garbled line can only leave its host unknown, never trust a key
        if entry is None:
            return
        for name in entry.hostnames:
            if name.startswith("|1|"):
                self._hashed.append((name, entry.key))
                continue
            keys = self._by_name.setdefault(name, [])
            if entry.key not in keys:
                keys.append(entry.key)

    def keys_for(self, name: str) -> list[paramiko.PKey]:
        """The trusted keys recorded for ``name`` (see :func:`paramiko_host_name`), in file order."""
        self._load()
        if self._error is not None:
            raise HostKeyError(
                foreign("ssh_known_hosts_unreadable", path=str(self.path), error=self._error), reason="host_key_unknown"
            )
        keys = list(self._by_name.get(name, ()))
        for hashed, key in self._hashed:
            if hmac.compare_digest(paramiko.HostKeys.hash_host(name, hashed), hashed) and key not in keys:
                keys.append(key)
        return keys

    def fill(self, host_keys: paramiko.HostKeys, address: str, port: int) -> None:
        """Add this host's trusted keys to ``host_keys`` (an SSHClient's), the first one of each type."""
        name = paramiko_host_name(address, port)
        types: set[str] = set()
        for key in self.keys_for(name):
            if key.get_name() not in types:
                types.add(key.get_name())
                host_keys.add(name, key.get_name(), key)


class KnownHostsStore:
    """Read, fetch and record host keys in one OpenSSH-format file owned by the tool."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # ------------------------------------------------------------------------------------------ reading

    def _lines(self) -> list[str]:
        try:
            return self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        except FileNotFoundError:
            return []

    def lookup(self, address: str, port: int = 22) -> paramiko.PKey | None:
        """The trusted key for this host, or None. With several key types recorded, the first one wins."""
        keys = self.lookup_all(address, port)
        return keys[0] if keys else None

    def lookup_all(self, address: str, port: int = 22) -> list[paramiko.PKey]:
        spec = host_spec(address, port)
        keys = []
        for line in self._lines():
            entry = _parse_line(line)
            if entry is not None and spec in entry.hosts:
                key = _load_key(entry)
                if key is not None:
                    keys.append(key)
        return keys

    # ------------------------------------------------------------------------------------------ fetching

    def fetch_host_key(self, address: str, port: int = 22, timeout: float = 10.0) -> paramiko.PKey:
        """The key the host presents in a bare handshake (no authentication), preferring ssh-ed25519.

        Nothing is trusted or written: the caller shows ``fingerprint(key)`` to the operator first.
        """
        host_spec(address, port)  # validates
        try:
            sock = socket.create_connection((address, port), timeout=timeout)
        except TimeoutError:
            raise ConnectError(foreign("ssh_timed_out", where=f"{address}:{port}"), reason="timeout") from None
        except OSError as exc:
            message = foreign("ssh_cannot_connect", where=f"{address}:{port}", cause=os_error_said(exc))
            raise ConnectError(message, reason="unreachable") from None
        transport = paramiko.Transport(sock)
        try:
            options = transport.get_security_options()
            offered = tuple(options.key_types)
            options.key_types = tuple(t for t in PREFERRED_KEY_TYPES if t in offered) + tuple(
                t for t in offered if t not in PREFERRED_KEY_TYPES
            )
            transport.banner_timeout = timeout
            transport.start_client(timeout=timeout)
            return transport.get_remote_server_key()
        except (paramiko.SSHException, EOFError, OSError) as exc:
            reason = "timeout" if isinstance(exc, TimeoutError) else "unreachable"
            handshake = foreign("ssh_handshake_failed", where=f"{address}:{port}", cause=connection_error_said(exc))
            raise ConnectError(handshake, reason=reason) from None
        finally:
            transport.close()
            sock.close()

    # ------------------------------------------------------------------------------------------ writing

    def trust(self, address: str, port: int, key: paramiko.PKey, *, replace: bool = False) -> bool:
        """Record ``key`` for the host. Returns True when the file changed.

        A host that already has a different key (of any type) is refused with
        ``HostKeyError(reason="host_key_changed")`` unless ``replace=True``; replacing drops every older
        key of that host (and only of that host).
        """
        spec = host_spec(address, port)
        new = _Entry((spec,), key.get_name(), key.get_base64())
        with self._locked():
            lines = self._lines()
            existing = [
                (entry, _load_key(entry))
                for entry in (_parse_line(line) for line in lines)
                if entry is not None and spec in entry.hosts
            ]
            if existing and all(old is not None and old == key for _, old in existing):
                return False
            if existing and not replace:
                olds = ", ".join(
                    f"{entry.key_type} {fingerprint(old) if old is not None else '(unreadable)'}"
                    for entry, old in existing
                )
                raise HostKeyError(
                    foreign(
                        "ssh_known_hosts_other_key", spec=spec, olds=olds, new=f"{new.key_type} {fingerprint(key)}"
                    ),
                    reason="host_key_changed",
                )
            kept: list[str] = []
            for line in lines:
                entry = _parse_line(line)
                if entry is None or spec not in entry.hosts:
                    kept.append(line if line.endswith("\n") else line + "\n")
                elif len(entry.hosts) > 1:
                    others = tuple(h for h in entry.hosts if h != spec)
                    kept.append(_Entry(others, entry.key_type, entry.key_b64).line())
            kept.append(new.line())
            self._write("".join(kept))
        return True

    def _ensure_dir(self) -> None:
        parent = self.path.parent
        if not parent.exists():
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(parent, 0o700)  # mkdir's mode is filtered by the umask

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise writers (two operators trusting at once must not lose an entry)."""
        self._ensure_dir()
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, text: str) -> None:
        """Atomic replace: a temp file (mode 600) in the same folder, fsync, rename, fsync the folder."""
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
