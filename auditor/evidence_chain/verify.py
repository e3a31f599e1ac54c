"""Checking a bundle offline, with no database: every problem is named by the member it concerns.

In order: the archive itself (readable, no member twice), the keys (``--pubkey``: the bundle's keys must be
among those the verifier trusts), the index's signature, the manifest (its hash as the index records it, its
signature, its form, its Merkle root), every entry (changed, missing, added), the reports, the order of the
members, and the chain (the previous manifest, or a chain file of ``SEQUENCE SHA256`` lines).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from auditor.errors import ConfigError
from auditor.evidence_chain.bundle import (
    INDEX,
    INDEX_KEY,
    INDEX_SIG,
    MANIFEST,
    MANIFEST_SIG,
    PUBLIC_KEY,
    BundleIndex,
    in_scope,
)
from auditor.evidence_chain.keys import SIGNATURE_BYTES, PublicKey, group_hex
from auditor.evidence_chain.manifest import Manifest, entries_root, parse_manifest
from auditor.foreign import theirs
from auditor.reports.models import Lang
from auditor.said import Said, said


@dataclass
class Verdict:
    """What verification found: problems (verification fails) and notes (said, not failing), each a sentence of
    auditor/locale/cli.yml (``verify_*``) shown in the reader's language."""

    problems: list[Said] = field(default_factory=list)
    notes: list[Said] = field(default_factory=list)
    manifest: Manifest | None = None

    @property
    def verified(self) -> bool:
        return not self.problems

    def problem(self, where: str, key: str, **values: object) -> None:
        """A problem with a member (or a row) named first: ``manifest.sig: bad signature``."""
        self.problems.append(said(key, where=where, **values))

    def problem_texts(self, lang: Lang) -> list[str]:
        return [problem.text(lang) for problem in self.problems]

    def note_texts(self, lang: Lang) -> list[str]:
        return [note.text(lang) for note in self.notes]


def short(sha: str) -> str:
    return sha[:16] + "…"


def read_previous(path: Path) -> bytes:
    """A previous manifest: its JSON, or the bundle it came in."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return archive.read(MANIFEST)
        return path.read_bytes()
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ConfigError(
            said("err_chain_previous_unreadable", option="--previous", path=path, problem=theirs("python", str(exc)))
        ) from None


def read_chain_file(path: Path) -> dict[int, str]:
    """A chain file: one ``SEQUENCE SHA256`` per line (what ``auditor verify --db`` writes and the department
    keeps); anything after the hash on a line is a comment."""
    chain: dict[int, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            said("err_chain_file_unreadable", option="--chain", path=path, problem=theirs("python", str(exc)))
        ) from None
    for number, line in enumerate(lines, 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) < 2 or not parts[0].isdigit() or len(parts[1]) != 64:
            raise ConfigError(
                said("err_chain_line_malformed", option="--chain", path=path, number=number, form="'SEQUENCE SHA256'")
            )
        chain[int(parts[0])] = parts[1].lower()
    return chain


def verify_bundle(
    path: Path,
    trusted: Sequence[PublicKey] = (),
    previous: bytes | None = None,
    chain: dict[int, str] | None = None,
) -> Verdict:
    verdict = Verdict()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        verdict.problem(path.name, "verify_not_zip")
        return verdict
    with archive:
        names = [info.filename for info in archive.infolist()]
        for name in sorted({n for n in names if names.count(n) > 1}):
            verdict.problem(name, "verify_twice")
        members = {name: archive.read(name) for name in dict.fromkeys(names)}
    _verify_members(verdict, names, members, trusted, previous, chain)
    return verdict


def _key(verdict: Verdict, members: dict[str, bytes], name: str) -> PublicKey | None:
    if name not in members:
        return None
    try:
        return PublicKey.parse(members[name])
    except ConfigError as exc:
        verdict.problem(name, "verify_unreadable_key", problem=exc.said if isinstance(exc.said, Said) else str(exc))
        return None


def _check_trusted(verdict: Verdict, name: str, key: PublicKey | None, trusted: Sequence[PublicKey]) -> None:
    if key is None or not trusted or key.fingerprint in {t.fingerprint for t in trusted}:
        return
    found = group_hex(key.fingerprint)
    if len(trusted) == 1:
        verdict.problem(name, "verify_wrong_key", found=found, expected=group_hex(trusted[0].fingerprint))
    else:
        verdict.problem(name, "verify_wrong_key_of_many", found=found)


def _signature(members: dict[str, bytes], name: str, verdict: Verdict) -> bytes | None:
    data = members.get(name)
    if data is not None and len(data) != SIGNATURE_BYTES:
        verdict.problem(name, "verify_not_signature", size=len(data), expected=SIGNATURE_BYTES)
        return None
    return data


def _verify_members(
    verdict: Verdict,
    names: list[str],
    members: dict[str, bytes],
    trusted: Sequence[PublicKey],
    previous: bytes | None,
    chain: dict[int, str] | None,
) -> None:
    for required in (MANIFEST, INDEX):
        if required not in members:
            verdict.problem(required, "verify_missing")
    if MANIFEST not in members:
        return
    body = members[MANIFEST]
    manifest_key = _key(verdict, members, PUBLIC_KEY)
    index_key = _key(verdict, members, INDEX_KEY) or manifest_key
    _check_trusted(verdict, PUBLIC_KEY, manifest_key, trusted)
    if INDEX_KEY in members:
        _check_trusted(verdict, INDEX_KEY, index_key, trusted)

    # the index: signed when the bundle was written, it vouches for the manifest's hash and the reports
    index: BundleIndex | None = None
    index_trusted = False
    if INDEX in members:
        try:
            index = BundleIndex.model_validate_json(members[INDEX])
        except ValidationError:
            verdict.problem(INDEX, "verify_bad_index")
        index_sig = _signature(members, INDEX_SIG, verdict)
        if INDEX_SIG not in members:
            verdict.problem(INDEX, "verify_index_unsigned")
        elif index_sig is not None and index_key is not None:
            index_trusted = index_key.verifies(index_sig, members[INDEX])
            if not index_trusted:
                verdict.problem(INDEX, "verify_index_bad_signature")

    # the manifest: its hash as the index records it, then its own signature
    manifest_hash = hashlib.sha256(body).hexdigest()
    manifest_changed = index is not None and index_trusted and index.manifest_sha256 != manifest_hash
    if manifest_changed:
        verdict.problem(MANIFEST, "verify_manifest_changed")
    try:
        manifest = parse_manifest(body)
    except (ValidationError, ValueError):
        if not manifest_changed:
            verdict.problem(MANIFEST, "verify_bad_manifest")
        return
    verdict.manifest = manifest
    if not manifest.signed:
        verdict.problem(MANIFEST, "verify_manifest_unsigned")
    else:
        manifest_sig = _signature(members, MANIFEST_SIG, verdict)
        if MANIFEST_SIG not in members:
            verdict.problem(MANIFEST_SIG, "verify_missing")
        if PUBLIC_KEY not in members:
            verdict.problem(PUBLIC_KEY, "verify_missing")
        if manifest_key is not None and manifest_key.fingerprint != manifest.key_fingerprint:
            verdict.problem(
                MANIFEST,
                "verify_signed_by_other",
                signer=group_hex(manifest.key_fingerprint or ""),
                carried=group_hex(manifest_key.fingerprint),
            )
        elif manifest_sig is not None and manifest_key is not None and not manifest_key.verifies(manifest_sig, body):
            if not manifest_changed and index_trusted:
                verdict.problem(MANIFEST_SIG, "verify_bad_signature")
            elif not manifest_changed:
                verdict.problem(MANIFEST, "verify_manifest_bad_signature")
    if entries_root(manifest.entries) != manifest.merkle_root:
        verdict.problem(MANIFEST, "verify_merkle")
    if index is not None and index.run_id != manifest.subject:
        verdict.problem(INDEX, "verify_index_other_run", run=index.run_id, subject=manifest.subject)

    _verify_entries(verdict, names, members, manifest, index)
    _verify_chain(verdict, manifest, body, previous, chain)
    if not trusted and manifest.key_fingerprint:
        verdict.notes.append(said("verify_compare_key", fingerprint=group_hex(manifest.key_fingerprint)))


def _verify_entries(
    verdict: Verdict, names: list[str], members: dict[str, bytes], manifest: Manifest, index: BundleIndex | None
) -> None:
    agency = index.agency if index is not None else None
    expected = [e for e in manifest.entries if in_scope(e.name, agency)]
    for entry in expected:
        data = members.get(entry.name)
        if data is None:
            verdict.problem(entry.name, "verify_missing")
        elif hashlib.sha256(data).hexdigest() != entry.sha256:
            verdict.problem(entry.name, "verify_entry_changed")
    reports = index.reports if index is not None else ()
    for report in reports:
        data = members.get(report.name)
        if data is None:
            verdict.problem(report.name, "verify_missing")
        elif hashlib.sha256(data).hexdigest() != report.sha256:
            verdict.problem(report.name, "verify_report_changed")
    head = [MANIFEST, MANIFEST_SIG, PUBLIC_KEY, INDEX, INDEX_SIG, INDEX_KEY]
    known = set(head) | {e.name for e in expected} | {r.name for r in reports}
    for name in dict.fromkeys(names):
        if name not in known:
            verdict.problem(name, "verify_added")
    order = [n for n in head if n in members] + [e.name for e in expected] + [r.name for r in reports]
    present = [n for n in dict.fromkeys(names) if n in known]
    wanted = [n for n in order if n in members]
    for position, (found, should) in enumerate(zip(present, wanted, strict=False), 1):
        if found != should:
            verdict.problem(found, "verify_out_of_order", expected=should, position=position)
            break


def _verify_chain(
    verdict: Verdict, manifest: Manifest, body: bytes, previous: bytes | None, chain: dict[int, str] | None
) -> None:
    own = hashlib.sha256(body).hexdigest()
    if previous is not None:
        try:
            before = parse_manifest(previous)
        except (ValidationError, ValueError):
            verdict.problems.append(said("verify_chain_previous_invalid"))
            return
        if before.sequence + 1 != manifest.sequence:
            verdict.problems.append(
                said("verify_chain_previous_sequence", previous=before.sequence, sequence=manifest.sequence)
            )
        elif hashlib.sha256(previous).hexdigest() != manifest.previous_sha256:
            verdict.problems.append(
                said(
                    "verify_chain_previous_link",
                    sequence=manifest.sequence,
                    links_to=short(manifest.previous_sha256 or ""),
                    actual=short(hashlib.sha256(previous).hexdigest()),
                )
            )
    if chain is not None:
        recorded_own = chain.get(manifest.sequence)
        recorded_before = chain.get(manifest.sequence - 1)
        if recorded_own is not None and recorded_own != own:
            verdict.problems.append(said("verify_chain_file_own", sequence=manifest.sequence))
        if recorded_before is not None and recorded_before != manifest.previous_sha256:
            verdict.problems.append(
                said(
                    "verify_chain_file_link",
                    sequence=manifest.sequence,
                    links_to=short(manifest.previous_sha256 or ""),
                    before=manifest.sequence - 1,
                    recorded=short(recorded_before),
                )
            )
        if recorded_own is None and recorded_before is None:
            verdict.notes.append(said("verify_chain_file_short", sequence=manifest.sequence))
