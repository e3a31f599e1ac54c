"""Writing a bundle: one zip a third party verifies offline, members in a fixed order.

    manifest.json    the run's manifest, byte for byte as stored and signed
    manifest.sig     its Ed25519 signature (64 bytes; absent when the run was sealed without a key)
    public_key.pem   the key that signed the manifest
    bundle.json      the bundle's index: run, scope (one agency or all), the manifest's SHA-256, the reports
    bundle.sig       the index's signature, made with the installation key when the bundle is written
    bundle_key.pem   that key, only when it is not the manifest's (the key was rotated in between)
    <entries>        every manifest entry in scope, in the manifest's order (findings, evidence bytes, …)
    reports/…        the reports, in the order the index lists them

The reports are made when the bundle is written, after the run was sealed: the signed index covers them.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from auditor import __version__
from auditor.evidence_chain.canonical import canonical_json, sha256_hex, utc_text
from auditor.evidence_chain.entries import Entry, agency_of
from auditor.evidence_chain.keys import PublicKey, SigningKey
from auditor.evidence_chain.manifest import Manifest
from auditor.store.manifests import ManifestRow

BUNDLE_FORMAT = "auditor-bundle/1"
MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.sig"
PUBLIC_KEY = "public_key.pem"
INDEX = "bundle.json"
INDEX_SIG = "bundle.sig"
INDEX_KEY = "bundle_key.pem"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the same bytes for the same bundle, whenever it is written


class BundleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class BundleIndex(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str = BUNDLE_FORMAT
    run_id: str
    agency: str | None  # None: every agency of the run
    manifest_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    manifest_sequence: int
    created_at: str
    tool_version: str
    reports: tuple[BundleFile, ...] = ()
    key_fingerprint: str | None = None  # the key that signs this index


def in_scope(name: str, agency: str | None) -> bool:
    owner = agency_of(name)
    return agency is None or owner is None or owner == agency


def write_bundle(
    target: Path,
    sealed: ManifestRow,
    manifest: Manifest,
    entries: Sequence[Entry],
    reports: Sequence[tuple[str, bytes]],
    *,
    agency: str | None,
    key: SigningKey | None,
    now: datetime | None = None,
) -> BundleIndex:
    """Write the bundle of a sealed run to ``target`` (entries as they are stored now: a row edited after the
    run was sealed travels as it is, and the verifier names it)."""
    by_name = {entry.name: entry for entry in entries}
    listed = [e.name for e in manifest.entries if in_scope(e.name, agency)]
    index = BundleIndex(
        run_id=manifest.subject,
        agency=agency,
        manifest_sha256=sealed.sha256,
        manifest_sequence=sealed.sequence,
        created_at=utc_text(now or datetime.now(UTC)),
        tool_version=__version__,
        reports=tuple(BundleFile(name=name, sha256=sha256_hex(data), size=len(data)) for name, data in reports),
        key_fingerprint=key.public.fingerprint if key is not None else None,
    )
    index_body = canonical_json(index)
    members: list[tuple[str, bytes]] = [(MANIFEST, sealed.body)]
    if sealed.signature is not None and sealed.public_key is not None:
        members += [(MANIFEST_SIG, sealed.signature), (PUBLIC_KEY, PublicKey(sealed.public_key).pem())]
    members.append((INDEX, index_body))
    if key is not None:
        members.append((INDEX_SIG, key.sign(index_body)))
        if sealed.public_key != key.public.raw:
            members.append((INDEX_KEY, key.public.pem()))
    members += [(name, by_name[name].data) for name in listed if name in by_name]  # a removed row: absent
    members += list(reports)
    partial = target.with_name(target.name + ".part")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    partial.replace(target)
    return index
