"""Rules for portal accounts that both the command line and the pages apply."""

from __future__ import annotations

import re

from auditor.errors import ConfigError

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


def valid_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise ConfigError(f"username {username!r}: 2-64 lower-case letters, digits, '.', '_' or '-'")
    return username
