"""The installation's Ed25519 signing key: where it lives, creating it (once), loading it, rotating it, and the
public key with the fingerprint the department records.

The key file is PKCS#8 PEM, mode 0600, optionally encrypted with a passphrase that only ever comes from an
environment variable. Its place: ``--key FILE``, else ``$AUDITOR_SIGNING_KEY``, else
``$XDG_CONFIG_HOME/auditor/signing_key.pem`` (``~/.config/auditor/``, beside the tool's known-hosts file).
A rotated key's public half is kept in ``retired-keys/`` beside it, so old manifests still verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auditor.errors import ConfigError
from auditor.foreign import in_english_as_is, os_error_as_is
from auditor.said import said

KEY_ENV = "AUDITOR_SIGNING_KEY"
PASSPHRASE_ENV = "AUDITOR_SIGNING_KEY_PASSPHRASE"  # noqa: S105 - a variable name: read when no other is named
RETIRED_DIR = "retired-keys"
SIGNATURE_BYTES = 64


def default_key_path() -> Path:
    configured = os.environ.get(KEY_ENV)
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "auditor" / "signing_key.pem"


def group_hex(hex_text: str, size: int = 4) -> str:
    """``ab12cd34…`` as ``ab12 cd34 …``, for reading aloud and comparing by eye."""
    return " ".join(hex_text[i : i + size] for i in range(0, len(hex_text), size))


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key (32 raw bytes)."""

    raw: bytes

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the raw public key, hex."""
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def fingerprint_grouped(self) -> str:
        return group_hex(self.fingerprint)

    @property
    def raw_base64(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    def pem(self) -> bytes:
        return Ed25519PublicKey.from_public_bytes(self.raw).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verifies(self, signature: bytes, data: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def parse(cls, data: bytes) -> PublicKey:
        """A PEM public key, or the raw key in base64 (what ``auditor keys show --format raw`` prints)."""
        text = data.strip()
        if text.startswith(b"-----BEGIN"):
            try:
                key = serialization.load_pem_public_key(text)
            except ValueError as exc:
                raise ConfigError(said("key_not_pem_public", problem=in_english_as_is("python", str(exc)))) from None
            if not isinstance(key, Ed25519PublicKey):
                raise ConfigError(said("key_not_ed25519_public"))
            return cls(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(said("key_not_public")) from None
        if len(raw) != 32:
            raise ConfigError(said("key_public_length", n=len(raw)))
        return cls(raw)


@dataclass(frozen=True)
class SigningKey:
    """The installation key, loaded: it signs manifests and bundles."""

    private: Ed25519PrivateKey
    path: Path

    @property
    def public(self) -> PublicKey:
        return PublicKey(
            self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)


def passphrase_from_env(name: str | None) -> bytes | None:
    """The passphrase held in environment variable ``name``; None when no name is given. A named variable
    that is unset or empty is an error: the officer meant to use one."""
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise ConfigError(said("key_passphrase_unset", name=name))
    return value.encode("utf-8")


def _write_private(path: Path, key: Ed25519PrivateKey, passphrase: bytes | None) -> None:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others, not even briefly
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def create_key(path: Path, passphrase: bytes | None = None, *, rotate: bool = False) -> SigningKey:
    """Create the installation key at ``path``. An existing key is never overwritten; with ``rotate`` the old
    key's public half goes to ``retired-keys/<fingerprint>.pem`` beside it, then the old key is replaced."""
    exists = path.exists() or path.is_symlink()
    if exists and not rotate:
        raise ConfigError(said("key_exists", path=path))
    if rotate and not exists:
        raise ConfigError(said("key_none_to_rotate", path=path))
    key = Ed25519PrivateKey.generate()
    if not rotate:
        _write_private(path, key, passphrase)
        _write_public(path, SigningKey(key, path).public)
        return SigningKey(key, path)
    old = public_key_of(path, passphrase)
    retired = path.parent / RETIRED_DIR
    retired.mkdir(parents=True, exist_ok=True, mode=0o700)
    (retired / f"{old.fingerprint}.pem").write_bytes(old.pem())
    fresh = path.with_name(path.name + ".new")
    fresh.unlink(missing_ok=True)
    _write_private(fresh, key, passphrase)
    os.replace(fresh, path)
    _write_public(path, SigningKey(key, path).public)
    return SigningKey(key, path)


def public_key_path(path: Path) -> Path:
    """Beside the key, its public half: read without the passphrase (``keys show``, ``verify --db``)."""
    return path.with_name(path.name + ".pub")


def _write_public(path: Path, public: PublicKey) -> None:
    public_key_path(path).write_bytes(public.pem())


def _read_private(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(said("keys_none", path=path)) from None
    except OSError as exc:
        raise ConfigError(said("key_unreadable", path=path, problem=os_error_as_is(exc))) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(said("key_not_private", path=path))
    return data


def load_key(path: Path, passphrase: bytes | None = None) -> SigningKey:
    data = _read_private(path)
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:  # encrypted without a passphrase, or a passphrase for a plain key
        if passphrase is None:
            raise ConfigError(said("key_encrypted", path=path, env=PASSPHRASE_ENV)) from None
        raise ConfigError(said("key_not_encrypted", path=path)) from None
    except ValueError:
        raise ConfigError(said("key_unloadable", path=path)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(said("key_not_ed25519", path=path))
    return SigningKey(key, path)


def public_key_of(path: Path, passphrase: bytes | None = None) -> PublicKey:
    """The public half of the key at ``path``: from the ``.pub`` file beside it, else from the key itself (the
    passphrase is needed only then, and only when the key is encrypted)."""
    public = public_key_path(path)
    if public.is_file():
        return PublicKey.parse(public.read_bytes())
    return load_key(path, passphrase).public


def installation_key(path: Path | None = None, passphrase_env: str | None = None) -> SigningKey | None:
    """The installation key when one is configured, None when there is none. ``passphrase_env`` names the
    variable holding the passphrase; by default ``AUDITOR_SIGNING_KEY_PASSPHRASE`` is read when it is set.
    Raises ConfigError when a key exists but cannot be used."""
    where = path or default_key_path()
    if not (where.exists() or where.is_symlink()):
        return None
    if passphrase_env is not None:
        return load_key(where, passphrase_from_env(passphrase_env))
    fallback = os.environ.get(PASSPHRASE_ENV)
    return load_key(where, fallback.encode("utf-8") if fallback else None)


def retired_public_keys(path: Path) -> list[PublicKey]:
    """Public keys of the keys this installation used before its latest rotation."""
    retired = path.parent / RETIRED_DIR
    if not retired.is_dir():
        return []
    return [PublicKey.parse(item.read_bytes()) for item in sorted(retired.glob("*.pem"))]
