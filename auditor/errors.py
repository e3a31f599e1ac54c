"""One exception tree for the whole library; only the CLI turns these into exit codes.

AuditorError
├── ConfigError          bad user input: inventory, checklist, profile, CLI values (exit 3)
│   ├── InventoryError   a malformed inventory (names file, item, field)
│   └── ContentError     a malformed checklist or profile (names file, check id, field)
├── StoreError           the database cannot be opened, migrated or read (exit 2)
├── CollectorError       a target could not be observed; always caught per host
│   ├── HostKeyError     unknown or changed host key (reason: host_key_unknown / host_key_changed)
│   ├── ConnectError     unreachable host, refused connection, timeout
│   ├── AuthError        login refused
│   └── ExecError        the batched execution failed as a whole (e.g. sudo refused)
└── NotFoundError        a run, finding or evidence id that does not exist (exit 3)
"""

from __future__ import annotations


class AuditorError(Exception):
    """Base of every error the library raises on purpose."""


class ConfigError(AuditorError):
    """Bad user input: the message says which file, item and field."""


class InventoryError(ConfigError):
    pass


class ContentError(ConfigError):
    pass


class StoreError(AuditorError):
    pass


class NotFoundError(AuditorError):
    pass


class CollectorError(AuditorError):
    """A target could not be observed. `reason` is a stable machine-readable code."""

    reason = "collector_error"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class HostKeyError(CollectorError):
    reason = "host_key_unknown"


class ConnectError(CollectorError):
    reason = "unreachable"


class AuthError(CollectorError):
    reason = "auth_failed"


class ExecError(CollectorError):
    reason = "exec_failed"
