"""Output from targets is hostile: make it inert before it reaches a terminal."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and C1 controls (ESC starts ANSI sequences; CSI is 0x9b).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str, limit: int | None = None) -> str:
    """Show control characters as \\xNN escapes and cut to `limit` characters with a visible note."""
    omitted = 0
    if limit is not None and len(text) > limit:
        omitted = len(text) - limit
        text = text[:limit]
    safe = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return safe + (f"\n… {omitted} characters omitted" if omitted else "")
