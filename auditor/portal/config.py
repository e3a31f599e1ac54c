"""What a portal process needs to know: where the store, inventory and keys are, and its own settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from auditor.mail.settings import MailSettings


class PortalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    db_url: str
    inventory: Path  # what "audit now" and schedules audit
    known_hosts: Path
    secret_file: Path  # signs cookies; created (0600) on first start when missing
    content_dirs: tuple[Path, ...] = ()
    secure_cookies: bool = True  # cookies only over HTTPS (off for plain-HTTP local use and tests)
    trust_proxy: bool = False  # take the client address from X-Forwarded-For (behind the reverse proxy)
    scheduler: bool = True  # run due schedules in this process
    concurrency: int = Field(default=8, ge=1, le=256)  # hosts audited at once by runs this process starts
    trust_ca: Path | None = None  # a CA file trusted for TLS by those runs, besides the system store
    upload_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    mail: MailSettings | None = None  # None: no mail is queued or sent
