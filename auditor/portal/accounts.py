"""Rules for portal accounts that both the command line and the pages apply."""

from __future__ import annotations

import re

from auditor.errors import ConfigError
from auditor.foreign import foreign

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


def valid_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise ConfigError(foreign("portal_username_form", username=repr(username)))
    return username
