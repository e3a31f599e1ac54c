"""Whose fixes and which local time an agency's report shows: the inventory's agency when one is loaded, else
what the run recorded of it (the owner's name and title, the time zone; never an email or a phone), else no
owner and the profile's zone."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError

from auditor.inventory import Contact
from auditor.reports.timing import ReportSettings, agency_report_settings, report_settings

if TYPE_CHECKING:
    from auditor.content.checks import Profile
    from auditor.inventory import Agency
    from auditor.store import Store

OwnerSource = Literal["inventory", "run", "none"]


@dataclass(frozen=True)
class AgencyOwner:
    """The owner named in the fix-first plan (None: nobody known), the report settings in the agency's zone,
    and where both came from."""

    contact: Contact | None
    settings: ReportSettings
    source: OwnerSource


def agency_owner(
    store: Store, profile: Profile, run_id: str | None, agency_id: str, agency: Agency | None
) -> AgencyOwner:
    """``agency``: the inventory's record of the agency (it wins); None: what ``run_id`` recorded of it."""
    if agency is not None:
        return AgencyOwner(agency.contact, agency_report_settings(profile, agency), "inventory")
    recorded = store.run_agency(run_id, agency_id) if run_id is not None else None
    settings = report_settings(profile)
    if recorded is None or not (recorded.has_owner or recorded.timezone):
        return AgencyOwner(None, settings, "none")
    if recorded.timezone:
        with suppress(ValidationError):  # a zone this machine does not know: the profile's
            settings = ReportSettings.model_validate({**settings.model_dump(), "timezone": recorded.timezone})
    contact = Contact(name=recorded.owner_name, title=recorded.owner_title) if recorded.has_owner else None
    return AgencyOwner(contact, settings, "run")
