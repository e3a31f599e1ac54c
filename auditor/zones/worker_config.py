"""A zone worker's own configuration: its zone, and the only SSH keys and known-hosts entries it holds.

zone: north
known_hosts: known_hosts          # the zone's hosts only, enrolled with `auditor hosts trust`
key_file: id_ed25519              # private (mode 600); relative paths are read from this file's folder
key_passphrase_env: ZONE_KEY_PASS # optional: names the variable holding key_file's passphrase
host_keys:                        # optional: another key for some hosts, by inventory name
  db-01: id_ed25519_db
"""

from __future__ import annotations

import stat
from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from auditor.errors import ConfigError
from auditor.foreign import foreign, joined, os_error_as_is
from auditor.inventory import EnvVarName, Host
from auditor.said import Said
from auditor.vocabulary import Slug, StrictModel
from auditor.yamlio import read_yaml_file, shown, validation_problems_said
from auditor.zones.payload import ZoneHost


class ZoneConfig(StrictModel):
    zone: Slug
    known_hosts: Path
    key_file: Path | None = None
    key_passphrase_env: EnvVarName | None = None
    use_agent: bool = False
    host_keys: dict[Slug, Path] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_a_key(self) -> ZoneConfig:
        if self.key_file is None and not self.use_agent and not self.host_keys:
            raise ValueError("give key_file, host_keys or use_agent: true")
        return self

    def host(self, zone_host: ZoneHost) -> Host:
        """The host as the SSH collector takes it, with this zone's key for it."""
        return Host(
            name=zone_host.name,
            address=zone_host.address,
            port=zone_host.port,
            user=zone_host.user,
            sudo=zone_host.sudo,
            os_family=zone_host.os_family,
            probe_jobs=zone_host.probe_jobs,
            key_file=self.host_keys.get(zone_host.name, self.key_file),
            key_passphrase_env=self.key_passphrase_env,
            use_agent=self.use_agent,
        )


def load_zone_config(path: Path) -> ZoneConfig:
    """Read and check a zone file: the schema, then that every key is there and private and the known-hosts
    file exists. Every problem is one ConfigError naming the file, before the worker connects to anything."""
    document = read_yaml_file(path, ConfigError)
    try:
        config = ZoneConfig.model_validate(document.data)
    except ValidationError as exc:
        raise ConfigError(validation_problems_said(path, exc, document.data, line_of=document.line_of)) from None
    base = path.parent
    config = config.model_copy(
        update={
            "known_hosts": _resolved(base, config.known_hosts),
            "key_file": _resolved(base, config.key_file) if config.key_file else None,
            "host_keys": {name: _resolved(base, key) for name, key in config.host_keys.items()},
        }
    )
    keys = sorted({key for key in (config.key_file, *config.host_keys.values()) if key is not None})
    found = [_file_problem(config.known_hosts, private=False), *(_file_problem(key, private=True) for key in keys)]
    unusable = [problem for problem in found if problem is not None]
    if unusable:
        raise ConfigError(foreign("zone_file_unusable", path=path, problems=joined(unusable)))
    return config


def _resolved(base: Path, path: Path) -> Path:
    expanded = path.expanduser()
    return expanded if expanded.is_absolute() else base / expanded


def _file_problem(path: Path, *, private: bool) -> Said | None:
    named = shown(str(path), 200)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return foreign("zone_file_unreadable", named=named, error=os_error_as_is(exc))
    if not stat.S_ISREG(mode):
        return foreign("zone_file_not_regular", named=named)
    if private and mode & (stat.S_IRGRP | stat.S_IROTH):
        return foreign("zone_key_file_readable", named=named)
    return None
