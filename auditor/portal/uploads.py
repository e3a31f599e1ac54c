"""What agencies may upload: documents for their own manual items, within the size limit, under a clean name."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from auditor.content.loader import Content
from auditor.governance.records import MAX_DOCUMENT_BYTES
from auditor.portal.context import Portal
from auditor.portal.web import Lang

NAME_MAX = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def agency_items(content: Content, lang: Lang) -> list[tuple[str, str]]:
    """The manual items an agency answers itself (agency scope): (id, title), by id."""
    return sorted(
        (check.id, check.title.get(lang))
        for check in content.checks.values()
        if check.is_manual and check.scope == "agency"
    )


def upload_limit(portal: Portal) -> int:
    return min(MAX_DOCUMENT_BYTES, portal.config.upload_max_bytes)


def clean_file_name(name: str) -> str:
    """The name the browser gave, without any folder, control or invisible character, at most NAME_MAX long."""
    base = PurePosixPath(name.replace("\\", "/")).name
    base = _CONTROL.sub("", base).strip()
    if len(base) > NAME_MAX:
        suffix = PurePosixPath(base).suffix[:10]
        base = base[: NAME_MAX - len(suffix)] + suffix
    return base
