"""Where mail goes and how it is sent. Credentials only by reference: the password is read from the
environment variable the settings name, never written in a file or the database."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from auditor.inventory import EnvVarName


class MailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    smtp_host: str = Field(min_length=1)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True  # refuse to send in clear text unless explicitly turned off (a local relay)
    tls_ca_file: Path | None = None  # trust this CA bundle (PEM) for STARTTLS instead of the system's
    username: str | None = None
    password_env: EnvVarName | None = None  # the NAME of the variable holding the password
    sender: str = Field(min_length=3)  # the From address
    department_to: tuple[str, ...] = ()  # who receives the department summary
    portal_url: str | None = None  # links in mails point here
    reporting_day: str = Field(default="11-25", pattern=r"^\d{2}-\d{2}$")  # MM-DD of the yearly report
    reminder_days: int = Field(default=14, ge=1, le=120)  # remind agencies with open items this early
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)  # of each SMTP connection

    @field_validator("reporting_day")
    @classmethod
    def _real_day(cls, value: str) -> str:
        month, day = (int(part) for part in value.split("-"))
        try:
            date(2000, month, day)  # a leap year: 02-29 is allowed (the 28th in other years)
        except ValueError:
            raise ValueError(f"reporting day {value!r} is not a day of the year (MM-DD)") from None
        return value

    @field_validator("portal_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
            raise ValueError(f"portal URL {value!r} must be an http(s):// address")
        return value.rstrip("/")

    @field_validator("sender", "department_to")
    @classmethod
    def _addresses(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        for address in (value,) if isinstance(value, str) else value:
            if not is_address(address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value

    @model_validator(mode="after")
    def _login_pair(self) -> MailSettings:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("an SMTP login needs both the user name and the password variable's name")
        return self

    def reporting_date(self, year: int) -> date:
        month, day = (int(part) for part in self.reporting_day.split("-"))
        try:
            return date(year, month, day)
        except ValueError:  # 02-29 in a common year
            return date(year, month, day - 1)


def is_address(value: str) -> bool:
    """A plain addr-spec (local@domain), nothing a header could be injected through."""
    local, at, domain = value.partition("@")
    return (
        bool(at and local and "." in domain and "@" not in domain)
        and not any(c.isspace() or c in '<>,;"()[]\\' for c in value)
        and len(value) <= 254
    )
