"""The command line's words in the user's language. Its own titles, headers and sentences come from
auditor/locale/cli.yml; the names of statuses, clause states, run states, severities and changes come from
auditor/locale/report.yml, so the terminal and the reports call a state by the same name. Machine output (JSON,
CSV) keeps the stable machine names: only what people read is translated."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum

from auditor.errors import ConfigError

LANG_ENV = "AUDITOR_LANG"
PROFILE_INPUT = "language"  # a profile may set the default language with an input of this name


class Lang(StrEnum):
    vi = "vi"
    en = "en"


def choose_lang(option: Lang | None) -> Lang:
    """``--lang`` when given; else AUDITOR_LANG; else the profile's ``language``; else Vietnamese. A value that
    is neither vi nor en is a usage error naming where it came from."""
    if option is not None:
        return option
    configured = os.environ.get(LANG_ENV, "").strip()
    if configured:
        return _valid(configured, LANG_ENV, told_in=_safe_profile_lang())
    return _profile_lang()


def fallback_lang() -> Lang:
    """The language to report an error in when the chosen one is not known (a bad AUDITOR_LANG): never raises."""
    try:
        return choose_lang(None)
    except ConfigError:
        return _safe_profile_lang()


def _profile_lang() -> Lang:
    from auditor.cli.profile import profile_value

    value = profile_value(PROFILE_INPUT)
    return Lang.vi if value is None else _valid(value, f"profile input {PROFILE_INPUT}", told_in=Lang.vi)


def _safe_profile_lang() -> Lang:
    try:
        return _profile_lang()
    except ConfigError:
        return Lang.vi


def _valid(value: str, source: str, told_in: Lang) -> Lang:
    try:
        return Lang(value)
    except ValueError:
        raise ConfigError(Words(told_in)("bad_lang", source=source, value=value)) from None


@dataclass(frozen=True)
class Words:
    """``words("key", n=3)``: a sentence of the command line; the methods name states as the reports do."""

    lang: Lang

    def __call__(self, key: str, **values: object) -> str:
        from auditor.reports.locale import strings

        own = strings(self.lang.value, "cli")
        return own.format(key, **values) if values else own.get(key)

    def _shared(self, key: str, fallback: str) -> str:
        from auditor.reports.locale import strings

        return strings(self.lang.value, "report").table.get(key, fallback)

    def status(self, value: str) -> str:
        """A finding's status (pass, fail, error, not_applicable, manual), ``waived``, or a clause's state."""
        if value == "waived":
            return self._shared("waived", value)
        return self._shared(f"status_{value}", value)

    def run_status(self, value: str) -> str:
        return self._shared(f"run_status_{value}", value)

    def run_end(self, detail: str) -> str:
        """Why a run ended: a known reason, or the error it failed with, in this language."""
        from auditor.run_end import run_end_text

        return run_end_text(detail, self.lang.value)

    def severity(self, value: str) -> str:
        return self._shared(f"severity_{value}", value)

    def change(self, value: str) -> str:
        return self._shared(f"diff_{value}", value)

    def outcome(self, value: str) -> str:
        return self._shared(f"outcome_{value}", value)


def words(lang: Lang | None = None) -> Words:
    return Words(choose_lang(lang))
