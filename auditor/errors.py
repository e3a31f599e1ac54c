"""One exception tree for the whole library; only the CLI turns these into exit codes.

AuditorError
├── ConfigError          bad user input: inventory, checklist, profile, CLI values (exit 3)
│   ├── InventoryError   a malformed inventory (names file, item, field)
│   ├── ContentError     a malformed checklist or profile (names file, check id, field)
│   └── ImportFileError  another tool's results file that cannot be read safely (names file, what is wrong)
├── StoreError           the database cannot be opened, migrated or read (exit 2)
├── CollectorError       a target could not be observed; always caught per host
│   ├── HostKeyError     unknown or changed host key (reason: host_key_unknown / host_key_changed)
│   ├── ConnectError     unreachable host, refused connection, timeout
│   ├── AuthError        login refused
│   └── ExecError        the batched execution failed as a whole (e.g. sudo refused)
└── NotFoundError        a run, finding or evidence id that does not exist (exit 3)

An error may be raised with words to be said later (an auditor.said.Said, or anything with a ``text(lang)``) instead
of a sentence: ``str()`` is then its English (logs, the portal) and the command line says it in the chosen language.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable


@runtime_checkable
class Sayable(Protocol):
    """Words put into a language when they are shown (auditor.said.Said is one)."""

    def text(self, lang: Literal["vi", "en"]) -> str: ...


class AuditorError(Exception):
    """Base of every error the library raises on purpose."""

    def __str__(self) -> str:
        said = self.said
        return said.text("en") if said is not None else super().__str__()

    @property
    def said(self) -> Sayable | None:
        first = self.args[0] if self.args else None
        return first if isinstance(first, Sayable) else None

    def text(self, lang: Literal["vi", "en"]) -> str:
        """The message in `lang` when it was raised with words to say; otherwise its own (English) text."""
        said = self.said
        return said.text(lang) if said is not None else str(self)


class ConfigError(AuditorError):
    """Bad user input: the message says which file, item and field."""


class InventoryError(ConfigError):
    pass


class ContentError(ConfigError):
    pass


class ImportFileError(ConfigError):
    """An OpenSCAP or Lynis results file that is malformed, hostile or too large: nothing of it is stored."""


class StoreError(AuditorError):
    pass


class NotFoundError(AuditorError):
    pass


class CollectorError(AuditorError):
    """A target could not be observed. `reason` is a stable machine-readable code."""

    reason = "collector_error"

    def __init__(self, message: str | Sayable, reason: str | None = None) -> None:
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
