"""Canonical JSON: the one byte form a value hashes and signs as, wherever it is made.

Keys sorted, no insignificant whitespace, UTF-8 (no ``\\u`` escapes for non-ASCII text), no NaN or
infinity. Datetimes become ISO 8601 in UTC and bytes are refused: a model is dumped in pydantic's JSON
mode first.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_text(value)
    raise TypeError(f"not canonical JSON: {type(value).__name__}")


def utc_text(moment: datetime) -> str:
    """A timestamp as ISO 8601 in UTC with microseconds, the same text on SQLite and PostgreSQL."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


# One encoder for every call: a run's seal encodes hundreds of thousands of rows, and json.dumps with options
# builds a new encoder each time.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
)


def canonical_json(value: Any) -> bytes:
    """The canonical bytes of a JSON-like value (a pydantic model is dumped in JSON mode first)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return _ENCODER.encode(value).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
