"""The portal's dependencies, made once per process and shared by every request (``app.state.portal``, read
with ``portal_of``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from auditor.content.loader import Content
from auditor.errors import AuditorError
from auditor.inventory import Agency, Inventory, load_inventory
from auditor.portal.config import PortalConfig
from auditor.portal.security import CookieSigner
from auditor.reports.owner import AgencyOwner, agency_owner
from auditor.reports.timing import ReportSettings, agency_report_settings
from auditor.store import Store
from auditor.vocabulary import LocalizedText


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Portal:
    config: PortalConfig
    store: Store
    content: Content
    signer: CookieSigner
    clock: Callable[[], datetime] = utcnow
    # The portal meets the thresholds it audits: the profile's lockout and idle-session values.
    lockout_attempts: int = 5
    lockout_seconds: int = 900  # 0: only an officer unlocks
    idle_seconds: int = 300
    services: dict[str, Any] = field(default_factory=dict)  # background workers (scheduler, mail) by name
    # Called with (run id, agency ids) when a run the portal started (scheduled or "audit now") has ended:
    # mail delivery hangs itself here.
    after_run_hooks: list[Callable[[str, tuple[str, ...]], None]] = field(default_factory=list)

    @classmethod
    def make(
        cls, config: PortalConfig, store: Store, content: Content, secret: bytes, clock: Callable[[], datetime] = utcnow
    ) -> Portal:
        values = content.profile.values()
        return cls(
            config=config,
            store=store,
            content=content,
            signer=CookieSigner(secret),
            clock=clock,
            lockout_attempts=int(values["lockout_attempts"]),
            lockout_seconds=int(values["lockout_unlock_seconds"]),
            idle_seconds=int(values["idle_timeout_seconds"]),
        )

    def now(self) -> datetime:
        return self.clock()

    def inventory(self) -> Inventory:
        """Read on each use: the officer edits the file, the portal follows without a restart."""
        return load_inventory(self.config.inventory)

    def agency(self, agency_id: str) -> Agency | None:
        """The agency as the inventory describes it (its contact, its time zone); None when the inventory does not
        list it or cannot be read (its pages still open, with the profile's time zone and no owner)."""
        try:
            agencies = self.inventory().agencies
        except (AuditorError, OSError):
            return None
        return next((agency for agency in agencies if agency.id == agency_id), None)

    def agency_owner(self, agency_id: str, run_id: str | None) -> AgencyOwner:
        """The agency's owner and report settings: the inventory's when it lists the agency, else what ``run_id``
        recorded of it (the owner's name and title, the time zone), else no owner and the profile's zone."""
        return agency_owner(self.store, self.content.profile, run_id, agency_id, self.agency(agency_id))

    def report_settings(self, agency: Agency | None = None) -> ReportSettings:
        """The report settings of ``agency`` (its own time zone when the inventory gives one), else the
        profile's: the zone of the department's pages."""
        return agency_report_settings(self.content.profile, agency)

    def agency_names(self) -> dict[str, LocalizedText]:
        """The inventory's agencies by id; none when it cannot be read (pages still open, with the agencies the
        store knows)."""
        try:
            return {agency.id: agency.name for agency in self.inventory().agencies}
        except (AuditorError, OSError):
            return {}

    def client_addr(self, request: Request) -> str | None:
        if self.config.trust_proxy:
            forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
            if forwarded:
                return forwarded[:64]
        return request.client.host if request.client else None

    def log(
        self,
        request: Request,
        action: str,
        target: str,
        *,
        agency_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> None:
        """One activity-log entry: who (the signed-in user unless ``actor`` says), what, from where."""
        principal = getattr(request.state, "principal", None)
        self.store.log_activity(
            actor or (principal.user.username if principal else "anonymous"),
            action,
            target,
            self.now(),
            role=principal.role if principal else None,
            agency_id=agency_id,
            detail=detail,
            remote_addr=self.client_addr(request),
        )


def portal_of(request: Request) -> Portal:
    """The portal serving a request."""
    portal: Portal = request.app.state.portal
    return portal
