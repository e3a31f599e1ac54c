"""Where mail goes and how it is sent. Credentials only by reference: the password is read from the
environment variable the settings name, never written in a file or the database."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from auditor.inventory import EnvVarName


class MailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    smtp_host: str = Field(min_length=1)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True  # refuse to send in clear text unless explicitly turned off (a local relay)
    username: str | None = None
    password_env: EnvVarName | None = None  # the NAME of the variable holding the password
    sender: str = Field(min_length=3)  # the From address
    department_to: tuple[str, ...] = ()  # who receives the department summary
    portal_url: str | None = None  # links in mails point here
    reporting_day: str = Field(default="11-25", pattern=r"^\d{2}-\d{2}$")  # MM-DD of the yearly report
    reminder_days: int = Field(default=14, ge=1, le=120)  # remind agencies with open items this early
