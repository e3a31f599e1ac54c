"""Where the tool keeps its own state, overridable by environment variables."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB_URL = "sqlite:///auditor.db"  # a file in the working directory; AUDITOR_DB overrides


def default_known_hosts() -> Path:
    configured = os.environ.get("AUDITOR_KNOWN_HOSTS")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "auditor" / "known_hosts"
