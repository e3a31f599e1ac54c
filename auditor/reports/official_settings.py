"""Who issues and signs the official yearly reports, and who receives them: a small YAML settings file laid over
the defaults in auditor/locale/official.yml (the Vietnamese defaults are text, so they live there, not here)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from auditor.errors import ConfigError
from auditor.foreign import foreign
from auditor.yamlio import read_yaml_file, validation_problems_said


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Issuer(_Settings):
    """The body that issues one kind of report, and its signer; ``number`` is left blank for the registry."""

    parent_body: str = Field(min_length=1)
    number: str = ""
    symbol: str = Field(min_length=1)
    signer_authority: str = ""  # e.g. "KT. GIÁM ĐỐC" when a deputy signs
    signer_title: str = Field(min_length=1)
    signer_name: str = ""
    recipients: tuple[str, ...] = Field(min_length=1)


class Department(Issuer):
    name: str = Field(min_length=1)


class AgencyOverride(_Settings):
    """What one agency's own report changes from the agency defaults (its name comes from the store)."""

    name: str | None = None
    parent_body: str | None = None
    number: str | None = None
    symbol: str | None = None
    signer_authority: str | None = None
    signer_title: str | None = None
    signer_name: str | None = None
    recipients: tuple[str, ...] | None = None


class OfficialSettings(_Settings):
    place: str = Field(min_length=1)  # written before the date: "<place>, ngày … tháng … năm …"
    province: str = Field(min_length=1)
    timezone: str = Field(min_length=1)
    plan_reference: str = Field(min_length=1)
    legal_bases: tuple[str, ...] = Field(min_length=1)
    department: Department
    agency: Issuer  # defaults of every agency's own report
    agencies: dict[str, AgencyOverride] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Ho_Chi_Minh)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def agency_issuer(self, agency_id: str) -> tuple[Issuer, str | None]:
        """The issuer of one agency's report (defaults with its overrides) and the name it overrides, if any."""
        override = self.agencies.get(agency_id)
        if override is None:
            return self.agency, None
        changes = override.model_dump(exclude_none=True, exclude={"name"})
        return self.agency.model_copy(update=changes), override.name


@cache
def _defaults() -> dict[str, Any]:
    text = (files("auditor.locale") / "official.yml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)["defaults"]
    return data


def _merged(defaults: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` over ``defaults``: mappings merge key by key, anything else is replaced."""
    merged = dict(defaults)
    for key, value in given.items():
        base = merged.get(key)
        merged[key] = _merged(base, value) if isinstance(base, Mapping) and isinstance(value, Mapping) else value
    return merged


def default_settings() -> OfficialSettings:
    return OfficialSettings.model_validate(_defaults())


def load_settings(path: Path | None) -> OfficialSettings:
    """The defaults, or the file at ``path`` laid over them; every problem names the file, line and field."""
    if path is None:
        return default_settings()
    parsed = read_yaml_file(path)
    given = parsed.data if parsed.data is not None else {}
    if not isinstance(given, Mapping):
        raise ConfigError(foreign("official_settings_not_mapping", path=path))
    try:
        return OfficialSettings.model_validate(_merged(_defaults(), given))
    except ValidationError as exc:
        raise ConfigError(validation_problems_said(path, exc, given, line_of=parsed.line_of)) from None
