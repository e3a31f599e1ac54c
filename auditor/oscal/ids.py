"""Identifiers in our OSCAL documents: the project's namespace, stable UUIDs, and OSCAL ids for clauses.

UUIDs are version 5 (name-based), derived from the run id (or the catalogue) and the item they name, so exporting
the same run twice gives the same identifiers and a later document can refer to an earlier one's items."""

from __future__ import annotations

import re
import uuid

PROJECT_NS = "https://auditor.example/ns/oscal"  # the namespace of our own props and parts
_ROOT = uuid.uuid5(uuid.NAMESPACE_URL, PROJECT_NS)
_NOT_TOKEN = re.compile(r"[^a-z0-9]+")


def stable_uuid(scope: str, *item: str) -> str:
    """The same string for the same scope (a run id, a catalogue) and item, every time."""
    return str(uuid.uuid5(_ROOT, "\x1f".join((scope, *item))))


def framework_slug(framework: str) -> str:
    """'TCVN 11930:2017' → 'tcvn-11930-2017': a token (letters, digits, hyphens; starts with a letter)."""
    slug = _NOT_TOKEN.sub("-", framework.lower()).strip("-")
    return slug if slug[:1].isalpha() else f"std-{slug}"


def standard_key(framework: str) -> str:
    """'TCVN 11930:2017' → 'tcvn11930', the name the command line takes for a catalogue."""
    return _NOT_TOKEN.sub("", framework.lower().split(":")[0])


def control_id(framework: str, clause: str) -> str:
    """OSCAL ids are tokens that start with a letter, and ours must not clash between standards, so a clause
    '7.2.2.1' of TCVN 11930:2017 becomes 'tcvn-11930-2017-7.2.2.1'; its number stays as the control's label."""
    return f"{framework_slug(framework)}-{clause}"


def group_id(framework: str, group: str) -> str:
    return f"{framework_slug(framework)}-group-{group}"


def clause_prop_name(framework: str) -> str:
    """The prop that names a clause of ``framework`` on an observation or a finding."""
    return f"{framework_slug(framework)}-clause"
