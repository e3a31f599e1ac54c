"""Direct TLS observations with Python's ssl module: one handshake per protocol version, a few
handshakes offering only a weak cipher family, and the certificate (chain, dates, name, key).

This is the cross-check beside nmap's ssl-enum-ciphers, which misses TLS 1.3 and non-standard
ports in some versions. Only ordinary handshakes are made; nothing is sent after them.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import warnings
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from pydantic import BaseModel, ConfigDict

PROTOCOLS: dict[str, ssl.TLSVersion] = {
    "TLSv1.0": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
# OpenSSL cipher strings naming families we call weak; a family the local OpenSSL lacks is "not testable".
WEAK_FAMILIES = ("3DES", "RC4", "DES", "NULL", "EXPORT", "aNULL", "MD5")
_ANY_CIPHER = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"
# NIST SP 800-57 Part 1: EC key size → RSA-equivalent strength
_EC_STRENGTH = ((512, 15360), (384, 7680), (256, 3072), (224, 2048))


class ProtocolResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: str
    offered: bool | None  # None: this client cannot test it
    cipher: str = ""
    detail: str = ""


class CertificateInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    san_dns: tuple[str, ...]
    san_ip: tuple[str, ...]
    key_type: str
    key_bits: int
    strength_bits: int  # RSA-equivalent strength, to compare RSA, DSA and EC keys on one scale
    chain_verified: bool
    chain_detail: str


class TlsReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str
    port: int
    server_name: str
    protocols: tuple[ProtocolResult, ...]
    weak_ciphers: tuple[ProtocolResult, ...]  # protocol field holds the family tried
    certificate: CertificateInfo | None
    error: str = ""


def _context(minimum: ssl.TLSVersion, maximum: ssl.TLSVersion, ciphers: str = _ANY_CIPHER) -> ssl.SSLContext:
    """A permissive client context: it must be able to see what a weak server offers."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the chain is judged separately, by _verify_chain
    with (
        warnings.catch_warnings()
    ):  # TLS 1.0/1.1 are deprecated: seeing whether a server still offers them is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = minimum
        context.maximum_version = maximum
    context.set_ciphers(ciphers)
    return context


def _handshake(address: str, port: int, server_name: str, context: ssl.SSLContext, timeout: float) -> ssl.SSLSocket:
    sock = socket.create_connection((address, port), timeout=timeout)
    try:
        return context.wrap_socket(sock, server_hostname=_sni(server_name))
    except BaseException:
        sock.close()
        raise


def _sni(name: str) -> str | None:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name or None
    return None  # no SNI for IP addresses


def probe_protocol(address: str, port: int, server_name: str, name: str, timeout: float = 5.0) -> ProtocolResult:
    version = PROTOCOLS[name]
    try:
        context = _context(version, version)
    except (ValueError, ssl.SSLError) as exc:
        return ProtocolResult(protocol=name, offered=None, detail=f"client cannot test: {exc}")
    try:
        with _handshake(address, port, server_name, context, timeout) as tls:
            cipher = tls.cipher()
            return ProtocolResult(protocol=name, offered=True, cipher=cipher[0] if cipher else "")
    except ssl.SSLError as exc:
        if "no protocols available" in str(exc).lower():
            return ProtocolResult(protocol=name, offered=None, detail="client library lacks this protocol")
        return ProtocolResult(protocol=name, offered=False, detail=exc.reason or str(exc))
    except OSError as exc:
        return ProtocolResult(protocol=name, offered=False, detail=f"{type(exc).__name__}: {exc}")


def probe_weak_family(address: str, port: int, server_name: str, family: str, timeout: float = 5.0) -> ProtocolResult:
    try:
        context = _context(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_2, f"{family}:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        return ProtocolResult(protocol=family, offered=None, detail="not testable with the local OpenSSL")
    try:
        with _handshake(address, port, server_name, context, timeout) as tls:
            cipher = tls.cipher()
            return ProtocolResult(protocol=family, offered=True, cipher=cipher[0] if cipher else "")
    except (ssl.SSLError, OSError) as exc:
        return ProtocolResult(protocol=family, offered=False, detail=str(exc)[:120])


def _strength(key: object) -> tuple[str, int, int]:
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, key.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        size = key.curve.key_size  # NIST SP 800-57: 224 → 2048, 256 → 3072, 384 → 7680, 521 → 15360
        equivalent = next((bits for floor, bits in _EC_STRENGTH if size >= floor), 1024)
        return f"EC {key.curve.name}", size, equivalent
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, 3072
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, 7680
    return type(key).__name__, 0, 0


def _verify_chain(address: str, port: int, server_name: str, extra_ca: Path | None, timeout: float) -> tuple[bool, str]:
    context = ssl.create_default_context()
    context.check_hostname = False  # the name is judged on its own by the hostname check
    sources = "system trust store"
    if extra_ca is not None:
        context.load_verify_locations(cafile=str(extra_ca))
        sources += f" + {extra_ca}"
    try:
        with _handshake(address, port, server_name, context, timeout):
            return True, f"verified against the {sources}"
    except ssl.SSLCertVerificationError as exc:
        return False, f"{exc.verify_message or exc.reason} (trusted: {sources})"
    except (ssl.SSLError, OSError) as exc:
        return False, f"could not verify: {str(exc)[:160]}"


def read_certificate(
    address: str, port: int, server_name: str, extra_ca: Path | None = None, timeout: float = 5.0
) -> CertificateInfo | None:
    context = _context(ssl.TLSVersion.MINIMUM_SUPPORTED, ssl.TLSVersion.MAXIMUM_SUPPORTED)
    try:
        with _handshake(address, port, server_name, context, timeout) as tls:
            der = tls.getpeercert(binary_form=True)
    except (ssl.SSLError, OSError):
        return None
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns, ips = (), ()
    key_type, bits, strength = _strength(cert.public_key())
    verified, detail = _verify_chain(address, port, server_name, extra_ca, timeout)
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        san_dns=dns,
        san_ip=ips,
        key_type=key_type,
        key_bits=bits,
        strength_bits=strength,
        chain_verified=verified,
        chain_detail=detail,
    )


def hostname_matches(name: str, cert: CertificateInfo) -> bool:
    """RFC 6125: IP addresses against IP SANs; names against DNS SANs (one left-most wildcard label)."""
    try:
        wanted = ipaddress.ip_address(name)
    except ValueError:
        host = name.lower().rstrip(".")
        for pattern in (p.lower().rstrip(".") for p in cert.san_dns):
            if pattern == host:
                return True
            if pattern.startswith("*.") and "." in host and host.split(".", 1)[1] == pattern[2:]:
                return True
        return False
    return any(ipaddress.ip_address(ip) == wanted for ip in cert.san_ip)


def observe(
    address: str, port: int, server_name: str = "", extra_ca: Path | None = None, timeout: float = 5.0
) -> TlsReport:
    name = server_name or address
    protocols = tuple(probe_protocol(address, port, name, proto, timeout) for proto in PROTOCOLS)
    if not any(p.offered for p in protocols):
        return TlsReport(
            address=address,
            port=port,
            server_name=name,
            protocols=protocols,
            weak_ciphers=(),
            certificate=None,
            error="no TLS handshake succeeded",
        )
    weak = tuple(probe_weak_family(address, port, name, family, timeout) for family in WEAK_FAMILIES)
    return TlsReport(
        address=address,
        port=port,
        server_name=name,
        protocols=protocols,
        weak_ciphers=weak,
        certificate=read_certificate(address, port, name, extra_ca, timeout),
    )


def days_left(cert: CertificateInfo, now: datetime | None = None) -> int:
    moment = now or datetime.now(UTC)
    return int((cert.not_after - moment).total_seconds() // 86400)
