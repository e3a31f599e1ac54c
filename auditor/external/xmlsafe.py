"""Reading XML from another tool safely: a size limit, no DTD, no entities, no external resources.

Results files come from the audited systems' side, so they are treated as hostile: a DTD (the carrier of
"billion laughs" and external entities) is refused outright rather than expanded, and the file is never read
past the limit.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from auditor.errors import ImportFileError
from auditor.foreign import theirs
from auditor.said import said

DEFAULT_SIZE_LIMIT = 64 * 1024 * 1024  # bytes: a full ARF of a large profile stays well below this


def read_limited(path: Path, limit: int) -> bytes:
    """The file's bytes, refused (ImportFileError naming the file) when it cannot be read or exceeds ``limit``."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        problem = theirs("os", exc.strerror or str(exc))
        raise ImportFileError(said("err_import_unreadable", path=path, problem=problem)) from None
    if len(data) > limit:
        raise ImportFileError(said("err_import_too_large", path=path, limit=limit, option="--max-size"))
    return data


def parse_xml(path: Path, data: bytes) -> Element:
    """The document's root element; a DTD, an entity, or malformed XML is an ImportFileError naming the file."""
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)  # type: ignore[no-any-return]
    except DefusedXmlException as exc:
        raise ImportFileError(said("err_import_xml_dtd", path=path, name=type(exc).__name__)) from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        where = said("err_import_xml_at", line=line, column=column) if line is not None else ""
        raise ImportFileError(said("err_import_xml_malformed", path=path, where=where)) from None


def local_name(element: Element) -> str:
    """The tag without its namespace: ``{ns}rule-result`` → ``rule-result``."""
    return element.tag.rsplit("}", 1)[-1]


def namespace(element: Element) -> str:
    return element.tag[1:].split("}", 1)[0] if element.tag.startswith("{") else ""
