"""The manifest: what a run (or a governance record) is made of, as (name, SHA-256) entries in name order,
their Merkle root, the link to the previous manifest of the installation's chain, and the fingerprint of the
key that signs it. Its canonical JSON bytes are what is hashed, signed, stored and put in bundles.

A fleet's run lists hundreds of thousands of entries: sealing writes their part of the canonical bytes straight
from the packed digests (``manifest_body``) instead of making a model object and a dict for each."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from auditor import __version__
from auditor.evidence_chain.canonical import canonical_json, sha256_hex, utc_text
from auditor.evidence_chain.entries import EntryDigests
from auditor.evidence_chain.keys import SigningKey
from auditor.evidence_chain.merkle import leaf_of_digest, merkle_root, root_of_leaves
from auditor.store.manifests import ChainHead, SealedManifest

MANIFEST_FORMAT = "auditor-manifest/1"
ManifestKind = Literal["run", "attestation", "waiver"]
Hex64 = Field(pattern=r"^[0-9a-f]{64}$")
NAME_MAX = 300


class ManifestEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=NAME_MAX)
    sha256: str = Hex64
    size: int = Field(ge=0)


class Manifest(BaseModel):
    """One link of the chain. ``sequence`` counts from 0; ``previous_sha256`` is the SHA-256 of the previous
    manifest's bytes (None for the first)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["auditor-manifest/1"] = "auditor-manifest/1"
    kind: ManifestKind
    subject: str = Field(min_length=1, max_length=200)
    sequence: int = Field(ge=0)
    previous_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    created_at: str
    tool_version: str
    content_version: str | None = None  # the checklist content loaded when the run ended
    profile_inputs: dict[str, Any] | None = None  # the profile's thresholds and each agency's overrides
    entries: tuple[ManifestEntry, ...]
    merkle_root: str = Hex64
    key_fingerprint: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @property
    def signed(self) -> bool:
        return self.key_fingerprint is not None

    def body(self) -> bytes:
        return canonical_json(self)


def digests_root(digests: EntryDigests) -> str:
    """The Merkle root over entries given as packed digests, in name order."""
    return root_of_leaves([leaf_of_digest(name, digest) for name, digest, _size in digests.in_name_order()])


def _write_entries(out: io.BytesIO, digests: EntryDigests) -> None:
    """The canonical JSON of the ``entries`` list, as ``ManifestEntry`` objects would dump it."""
    out.write(b"[")
    for index, (name, digest, size) in enumerate(digests.in_name_order()):
        if not 1 <= len(name) <= NAME_MAX:
            raise ValueError(f"a manifest entry's name has 1 to {NAME_MAX} characters: {name!r}")
        if index:
            out.write(b",")
        text = json.dumps(name, ensure_ascii=False)
        out.write(f'{{"name":{text},"sha256":"{digest.hex()}","size":{size}}}'.encode())
    out.write(b"]")


def manifest_body(header: Manifest, digests: EntryDigests) -> bytes:
    """The canonical bytes of ``header`` with ``digests`` as its entries (``header`` lists none): the same bytes
    as the complete model's ``body()``, made without an object per entry."""
    if header.entries:
        raise ValueError("the header of a manifest lists no entries")
    fields = header.model_dump(mode="json")
    out = io.BytesIO()
    out.write(b"{")
    for index, key in enumerate(sorted(fields)):
        if index:
            out.write(b",")
        out.write(canonical_json(key) + b":")
        if key == "entries":
            _write_entries(out, digests)
        else:
            out.write(canonical_json(fields[key]))
    out.write(b"}")
    return out.getvalue()


def entries_root(entries: Sequence[ManifestEntry]) -> str:
    return merkle_root([(e.name, e.sha256) for e in entries])


def parse_manifest(body: bytes) -> Manifest:
    """The manifest in ``body``; ValueError when it is not one, or not in canonical form."""
    manifest = Manifest.model_validate_json(body)
    if manifest.body() != body:
        raise ValueError("not in canonical form")
    return manifest


_HEX64 = re.compile(r"[0-9a-f]{64}")


def parse_manifest_digests(body: bytes) -> tuple[Manifest, EntryDigests]:
    """The manifest in ``body`` as its header (listing no entries) and its entries as packed digests: what
    ``parse_manifest`` checks, without a model object (or a dictionary) per entry, for a fleet's run of hundreds
    of thousands of entries. The entries are read one at a time from the compact canonical text; entries out of
    name order are refused too (sealing never writes them so)."""
    text = body.decode("utf-8")
    fields: dict[str, Any] = {}
    digests = EntryDigests()
    if not text.startswith("{"):
        raise ValueError("not a manifest")
    pos = 1
    while True:
        key, pos = _DECODER.raw_decode(text, pos)
        if not isinstance(key, str) or text[pos : pos + 1] != ":":
            raise ValueError("not a manifest")
        if key == "entries":
            pos = _read_entries(text, pos + 1, digests)
            fields[key] = []
        else:
            fields[key], pos = _DECODER.raw_decode(text, pos + 1)
        pos += 1
        if text[pos - 1 : pos] == "}":
            break
        if text[pos - 1 : pos] != ",":
            raise ValueError("not a manifest")
    if pos != len(text) or "entries" not in fields:
        raise ValueError("not a manifest")
    if not digests.in_order:  # sealing writes name order: a list out of it was moved after sealing
        raise ValueError("the entries are not in name order")
    header = Manifest.model_validate(fields)
    if manifest_body(header, digests) != body:
        raise ValueError("not in canonical form")
    return header, digests


_DECODER = json.JSONDecoder()


def _read_entries(text: str, pos: int, digests: EntryDigests) -> int:
    """Reads the entries list starting at ``pos`` into ``digests``; the position after it."""
    if text[pos : pos + 1] != "[":
        raise ValueError("a manifest's entries are a list")
    pos += 1
    if text[pos : pos + 1] == "]":
        return pos + 1
    while True:
        entry, pos = _DECODER.raw_decode(text, pos)
        if not isinstance(entry, dict) or set(entry) != {"name", "sha256", "size"}:
            raise ValueError("a manifest entry has a name, a sha256 and a size")
        name, sha256, size = entry["name"], entry["sha256"], entry["size"]
        if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX:
            raise ValueError("a manifest entry's name is not valid")
        if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256):
            raise ValueError(f"the digest of {name!r} is not SHA-256 hex")
        if type(size) is not int or size < 0:
            raise ValueError(f"the size of {name!r} is not valid")
        digests.add_digest(name, bytes.fromhex(sha256), size)
        pos += 1
        if text[pos - 1 : pos] == "]":
            return pos
        if text[pos - 1 : pos] != ",":
            raise ValueError("not a manifest")


def sealer(
    kind: ManifestKind,
    subject: str,
    digests: EntryDigests,
    key: SigningKey | None,
    *,
    content_version: str | None = None,
    profile_inputs: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Callable[[ChainHead], SealedManifest]:
    """What the store calls with the chain's head to build, hash and sign the manifest it then appends."""
    root = digests_root(digests)
    moment = now or datetime.now(UTC)

    def seal(head: ChainHead) -> SealedManifest:
        header = Manifest(
            kind=kind,
            subject=subject,
            sequence=head.sequence,
            previous_sha256=head.previous_sha256,
            created_at=utc_text(moment),
            tool_version=__version__,
            content_version=content_version,
            profile_inputs=profile_inputs,
            entries=(),
            merkle_root=root,
            key_fingerprint=key.public.fingerprint if key is not None else None,
        )
        body = manifest_body(header, digests)
        return SealedManifest(
            kind=kind,
            subject=subject,
            created_at=moment,
            body=body,
            sha256=sha256_hex(body),
            signature=key.sign(body) if key is not None else None,
            key_fingerprint=key.public.fingerprint if key is not None else None,
            public_key=key.public.raw if key is not None else None,
        )

    return seal
