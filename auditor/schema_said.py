"""A pydantic error in plain words in either language. Its type names the sentence (``err_schema_<type>`` in
auditor/locale/cli.yml, a validator's own PydanticCustomError type included); the English is pydantic's own
message, so logs and English screens read as before."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_core import ErrorDetails

from auditor.said import Said, said
from auditor.yamlio import error_message, shown

SCHEMA_PREFIX = "err_schema_"
_VALUE_CHARS = 200  # of a value pydantic's message names (a pattern, a bound)
_OTHER = "err_schema_other"  # a type without a sentence of its own: pydantic's message, said as a problem


def error_said(error: ErrorDetails) -> Said:
    """The error's sentence; pydantic's own message (in English) when the type has none, or when the sentence's
    English would not read exactly as pydantic's message."""
    from auditor.reports.locale import catalogue

    message = error_message(error)
    key = SCHEMA_PREFIX + error["type"]
    values: dict[str, object] = {
        name: shown(str(value), _VALUE_CHARS) for name, value in (error.get("ctx") or {}).items()
    }
    known = catalogue("cli")
    bound = next((values[name] for name in ("min_length", "max_length") if name in values), None)
    if bound is not None and f"{key}_one" in known:  # English says "1 item" but "2 items"
        key += "_one" if bound == "1" else "_many"
    if key in known:
        sentence = Said(key, values)
        if sentence.text("en") == message:
            return sentence
    return Said(_OTHER, {"message": message})


def errors_said(errors: Sequence[ErrorDetails]) -> Said:
    """The errors at one place: one, or each of a union's branches joined by "or"."""
    first, *rest = [error_said(error) for error in errors]
    for other in rest:
        first = said("err_schema_either", first=first, other=other)
    return first
