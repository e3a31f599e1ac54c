"""How the portal hands over a file to save."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def attachment(file_name: str) -> str:
    """A Content-Disposition that saves the file under its name: an ASCII fallback for old clients and the exact
    name percent-encoded (RFC 6266), so no quote, control character or path in a name can reach the header."""
    ascii_name = unicodedata.normalize("NFKD", file_name).encode("ascii", "ignore").decode()
    fallback = _UNSAFE.sub("_", ascii_name).strip("._") or "download"
    return f"attachment; filename=\"{fallback[:120]}\"; filename*=UTF-8''{quote(file_name[:200], safe='')}"
