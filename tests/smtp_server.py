"""A local SMTP server for the tests (aiosmtpd): STARTTLS on a certificate made here and a login, or plain;
what it receives is parsed into ``Inbox.messages``."""

from __future__ import annotations

import email
import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.localnet import free_port

__all__ = ["LOGIN", "PASSWORD", "Inbox", "SmtpServer", "free_port", "self_signed"]

PASSWORD = "S3cr3t-smtp-7f3a9c"
LOGIN = "auditor"


@dataclass
class Inbox:
    """What the test server received; ``refuse`` makes it refuse every recipient (a 550)."""

    messages: list[EmailMessage] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    refuse: bool = False
    password: str = PASSWORD

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        self.logins.append((login, mechanism))
        return AuthResult(success=login == LOGIN and password == self.password, handled=False)  # 535 if not

    def by_subject(self, fragment: str) -> list[EmailMessage]:
        return [m for m in self.messages if fragment in str(m["Subject"])]


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, made here (the client trusts exactly this one)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.crt", directory / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int
    ca_file: Path | None
    controller: Controller | None = None

    def start(self, *, tls: bool = True) -> None:
        import ssl

        kwargs: dict[str, Any] = {}
        if tls and self.ca_file is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.ca_file, self.ca_file.with_suffix(".key"))
            kwargs = {
                "tls_context": context,
                "require_starttls": True,
                "authenticator": self.inbox.authenticate,
                "auth_required": True,
            }
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, server_hostname="localhost", **kwargs
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
