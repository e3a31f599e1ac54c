"""Opening one SSH connection: the private key, strict host-key checking, and a handshake that ends in time."""

from __future__ import annotations

import io
import os
import socket
import time
from pathlib import Path
from typing import NoReturn

import paramiko
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from auditor.collectors.ssh.known_hosts import KnownHostsIndex, fingerprint
from auditor.collectors.ssh.transport import ParamikoTransport, Watchdog, clip, cut_socket
from auditor.errors import AuthError, CollectorError, ConnectError, HostKeyError
from auditor.foreign import connection_error_said, foreign, os_error_said, verbatim
from auditor.inventory import Host


class _RejectUnknownHost(paramiko.RejectPolicy):
    """RejectPolicy that says *why*: the host is not in the tool's known-hosts file at all."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> NoReturn:
        raise HostKeyError(
            foreign("ssh_host_key_untrusted", host=hostname, host_key=f"{key.get_name()} {fingerprint(key)}"),
            reason="host_key_unknown",
        )


# ---------------------------------------------------------------------------------------------- keys


def _is_encrypted(data: bytes) -> bool:
    """Whether a private key file needs a passphrase (OpenSSH format, or PEM: traditional or PKCS#8)."""
    for load in (serialization.load_ssh_private_key, serialization.load_pem_private_key):
        try:
            load(data, None)
        except TypeError:  # cryptography's way of saying "password-protected, none given"
            return True
        except (ValueError, UnsupportedAlgorithm):
            continue  # another format, or not a key it reads: paramiko will say
        return False
    return False


def _decrypted(data: bytes, passphrase: bytes | None) -> PrivateKeyTypes | None:
    for load in (serialization.load_ssh_private_key, serialization.load_pem_private_key):
        try:
            return load(data, passphrase)
        except (TypeError, ValueError, UnsupportedAlgorithm):
            continue
    return None


_PARAMIKO_KEYS: tuple[tuple[type, type[paramiko.PKey]], ...] = (
    (ed25519.Ed25519PrivateKey, paramiko.Ed25519Key),
    (ec.EllipticCurvePrivateKey, paramiko.ECDSAKey),
    (rsa.RSAPrivateKey, paramiko.RSAKey),
)


def _as_paramiko(key: PrivateKeyTypes) -> paramiko.PKey | None:
    """A key paramiko cannot read in its file format (PKCS#8), handed over in OpenSSH format in memory."""
    for crypto_type, paramiko_type in _PARAMIKO_KEYS:
        if isinstance(key, crypto_type):
            text = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
            )
            return paramiko_type.from_private_key(io.StringIO(text.decode("ascii")))
    return None


def _passphrase(host: Host, path: Path) -> bytes:
    name = host.key_passphrase_env
    if name is None:
        raise AuthError(
            foreign("ssh_key_file_encrypted", host=host.name, path=path),
            reason="auth_failed",
        )
    if name not in os.environ:
        raise AuthError(
            foreign("ssh_key_passphrase_unset", host=host.name, path=path, name=name),
            reason="auth_failed",
        )
    return os.environ[name].encode("utf-8")


# Keys already loaded, by what decides them: the file's bytes, and the passphrase setting and value. A fleet's
# hosts mostly share one key: it is parsed (and decrypted) once, while the file is still read at each connection.
_LOADED: dict[tuple[bytes, str | None, str | None, bool], paramiko.PKey | None] = {}
_LOADED_MAX = 16


def load_private_key(host: Host) -> paramiko.PKey | None:
    """The host's private key, decrypted with its ``key_passphrase_env`` if it is encrypted.

    None when there is no key file, or when the file is encrypted, no passphrase is named and
    ``use_agent`` is set: the agent then holds the key.
    """
    path = host.key_file
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AuthError(foreign("ssh_key_missing", host=host.name, path=path), reason="auth_failed") from None
    except OSError as exc:
        unreadable = foreign("ssh_key_unreadable", host=host.name, path=path, cause=os_error_said(exc))
        raise AuthError(unreadable, reason="auth_failed") from None
    env = host.key_passphrase_env
    cache_key = (data, env, os.environ.get(env) if env is not None else None, host.use_agent)
    if cache_key in _LOADED:
        return _LOADED[cache_key]
    key = _load_key(host, path, data)  # failures raise, and are never kept
    if len(_LOADED) >= _LOADED_MAX:
        _LOADED.clear()
    _LOADED[cache_key] = key
    return key


def _load_key(host: Host, path: Path, data: bytes) -> paramiko.PKey | None:
    passphrase: bytes | None = None
    if _is_encrypted(data):
        if host.key_passphrase_env is None and host.use_agent:
            return None
        passphrase = _passphrase(host, path)
    try:
        # positional: the keyword's name changed between paramiko versions (passphrase, then password);
        # the stubs say str, but the key loader underneath (cryptography) takes bytes only
        return paramiko.PKey.from_path(path, passphrase)  # type: ignore[arg-type]
    except (OSError, paramiko.SSHException, ValueError, TypeError) as exc:
        decrypted = _decrypted(data, passphrase)
        if passphrase is not None and decrypted is None:
            message = (
                f"{host.name}: key_file {path} is encrypted and the passphrase in {host.key_passphrase_env} "
                "(key_passphrase_env) does not decrypt it"
            )
            raise AuthError(message, reason="auth_failed") from None
        converted = _as_paramiko(decrypted) if decrypted is not None else None
        if converted is not None:
            return converted
        detail = verbatim("ssh", clip(f"{type(exc).__name__}: {exc}"))
        unloadable = foreign("ssh_key_unloadable", host=host.name, path=path, cause=detail)
        raise AuthError(unloadable, reason="auth_failed") from None


# ---------------------------------------------------------------------------------------------- connecting


def _password(host: Host) -> str | None:
    if host.password_env is None:
        return None
    if host.password_env not in os.environ:
        raise AuthError(foreign("ssh_password_env_unset", host=host.name, name=host.password_env), reason="auth_failed")
    return os.environ[host.password_env]


def _open_socket(host: Host, where: str, timeout_s: float) -> socket.socket:
    try:
        return socket.create_connection((host.address, host.port), timeout=timeout_s)
    except TimeoutError:
        raise ConnectError(foreign("ssh_timed_out", where=where), reason="timeout") from None
    except OSError as exc:
        failed = foreign("ssh_cannot_connect", where=where, cause=os_error_said(exc))
        raise ConnectError(failed, reason="unreachable") from None


def _handshake_error(exc: Exception, where: str, host: Host, cut: bool, timeout_s: float) -> CollectorError:
    """What a failed handshake means; ``cut``: the watchdog ended it, whatever paramiko then raised."""
    if cut:
        return ConnectError(foreign("ssh_handshake_slow", where=where, seconds=f"{timeout_s:.1f}"), reason="timeout")
    if isinstance(exc, HostKeyError):
        return HostKeyError(foreign("ssh_at", where=where, said=exc.said or str(exc)), reason=exc.reason)
    if isinstance(exc, paramiko.BadHostKeyException):
        return HostKeyError(
            foreign(
                "ssh_host_key_changed",
                where=where,
                presented=f"{exc.key.get_name()} {fingerprint(exc.key)}",
                trusted=f"{exc.expected_key.get_name()} {fingerprint(exc.expected_key)}",
            ),
            reason="host_key_changed",
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return AuthError(foreign("ssh_login_refused", where=where, user=host.user), reason="auth_failed")
    if isinstance(exc, TimeoutError):
        return ConnectError(foreign("ssh_timed_out", where=where), reason="timeout")
    text = str(exc)
    lowered = text.lower()
    if "indecipherable protocol version" in lowered:  # line after line, never an SSH banner
        detail = verbatim("ssh", clip(text))
        return ConnectError(foreign("ssh_no_banner", where=where, detail=detail), reason="timeout")
    reason = "timeout" if "timeout" in lowered or "timed out" in lowered else "unreachable"
    return ConnectError(foreign("ssh_other", where=where, detail=connection_error_said(exc)), reason=reason)


def connect_client(host: Host, known_hosts: Path | KnownHostsIndex, connect_timeout_s: float) -> paramiko.SSHClient:
    """An authenticated SSHClient, after strict host-key checking against the tool's own file only.

    ``known_hosts``: the file, or its index read once for a whole run (a fleet's connections then never
    read the file again).

    The whole handshake (TCP connect, banner, key exchange, authentication) ends within
    ``connect_timeout_s``: a watchdog cuts the socket there, whatever the server does (a banner that
    never comes or never ends, a key exchange left hanging).

    paramiko's SSHClient puts the key type recorded for the host first in its host-key preferences,
    so the server presents the recorded key; a host that presents another type is treated as changed.
    """
    password = _password(host)
    pkey = load_private_key(host)
    began = time.monotonic()
    client = paramiko.SSHClient()
    index = known_hosts if isinstance(known_hosts, KnownHostsIndex) else KnownHostsIndex(Path(known_hosts))
    try:
        # Only this host's keys, only from the tool's file: never load_system_host_keys().
        index.fill(client.get_host_keys(), host.address, host.port)
    except HostKeyError as exc:
        raise HostKeyError(foreign("ssh_at", where=host.name, said=exc.said or str(exc)), reason=exc.reason) from None
    client.set_missing_host_key_policy(_RejectUnknownHost())
    where = f"{host.name} ({host.address}:{host.port})"
    sock = _open_socket(host, where, connect_timeout_s)
    watchdog = Watchdog(lambda: cut_socket(sock))
    watchdog.arm(connect_timeout_s - (time.monotonic() - began))
    try:
        client.connect(
            hostname=host.address,
            port=host.port,
            username=host.user,
            pkey=pkey,
            password=password,
            allow_agent=host.use_agent,
            look_for_keys=False,
            sock=sock,
            timeout=connect_timeout_s,
            banner_timeout=connect_timeout_s,
            auth_timeout=connect_timeout_s,
            channel_timeout=connect_timeout_s,
        )
        watchdog.disarm()
        if watchdog.fired:  # cut just as the handshake ended: the connection is gone
            raise EOFError("the connection was cut")
    except Exception as exc:
        watchdog.disarm()
        client.close()
        sock.close()
        raise _handshake_error(exc, where, host, watchdog.fired, connect_timeout_s) from None
    except BaseException:
        watchdog.disarm()
        client.close()
        sock.close()
        raise
    return client


def paramiko_transport(host: Host, known_hosts: Path | KnownHostsIndex, connect_timeout_s: float) -> ParamikoTransport:
    """A connected, authenticated transport for one host (see :func:`connect_client`)."""
    return ParamikoTransport(connect_client(host, known_hosts, connect_timeout_s))
