"""Re-checking the store against its manifests: the chain (no manifest missing, each linked to the one before,
each hash and signature right, each signed by a trusted key) and every sealed run, attestation and waiver
re-derived from the rows as they are now, naming each row changed, removed or added behind the tool's back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from auditor.errors import NotFoundError
from auditor.evidence_chain.canonical import sha256_hex
from auditor.evidence_chain.entries import EntryDigests, governance_entries, run_digests
from auditor.evidence_chain.keys import PublicKey, group_hex
from auditor.evidence_chain.manifest import Manifest, digests_root, parse_manifest_digests
from auditor.evidence_chain.verify import Verdict, short
from auditor.said import Said, said
from auditor.store.manifests import ManifestRow

if TYPE_CHECKING:
    from auditor.store import Store


def verify_store(store: Store, trusted: Sequence[PublicKey]) -> Verdict:
    verdict = Verdict()
    rows = store.list_manifests()
    trusted_prints = {key.fingerprint for key in trusted}
    latest: dict[tuple[str, str], tuple[ManifestRow, Manifest, EntryDigests]] = {}
    before: ManifestRow | None = None
    for row in rows:
        label = said("verify_manifest_label", sequence=row.sequence, subject=row.subject)
        expected_sequence = before.sequence + 1 if before is not None else 0
        if row.sequence != expected_sequence:
            missing = ", ".join(f"#{n}" for n in range(expected_sequence, row.sequence))
            verdict.problems.append(said("verify_db_missing", missing=missing))
        if sha256_hex(row.body) != row.sha256:
            verdict.problems.append(said("verify_db_bytes_edited", where=label))
        try:
            manifest, digests = parse_manifest_digests(row.body)
        except (ValidationError, ValueError):
            verdict.problems.append(said("verify_db_invalid", where=label))
            before = row
            continue
        if manifest.sequence != row.sequence:
            verdict.problems.append(said("verify_db_moved", where=label, claimed=manifest.sequence))
        if before is not None and row.sequence == before.sequence + 1 and manifest.previous_sha256 != before.sha256:
            verdict.problems.append(
                said(
                    "verify_db_chain_broken",
                    where=label,
                    links_to=short(manifest.previous_sha256 or ""),
                    before=before.sequence,
                    before_sha=short(before.sha256),
                )
            )
        _check_signature(verdict, label, row, manifest, trusted_prints)
        if digests_root(digests) != manifest.merkle_root:
            verdict.problems.append(said("verify_merkle", where=label))
        latest[(manifest.kind, manifest.subject)] = (row, manifest, digests)
        before = row
    for (kind, subject), (_row, _manifest, digests) in latest.items():
        _check_rows(verdict, store, kind, subject, digests)
    _check_coverage(verdict, store, rows, latest)
    if before is not None:
        verdict.notes.append(said("verify_db_chain_head", sequence=before.sequence, sha=before.sha256))
    return verdict


def _check_signature(
    verdict: Verdict, label: Said, row: ManifestRow, manifest: Manifest, trusted_prints: set[str]
) -> None:
    if manifest.key_fingerprint is None:
        verdict.notes.append(said("verify_db_unsigned", where=label))
        return
    if row.signature is None or row.public_key is None:
        verdict.problems.append(said("verify_db_signature_removed", where=label))
        return
    key = PublicKey(row.public_key)
    if key.fingerprint != manifest.key_fingerprint:
        verdict.problems.append(said("verify_db_stored_key", where=label, fingerprint=group_hex(key.fingerprint)))
    elif not key.verifies(row.signature, row.body):
        verdict.problems.append(said("verify_bad_signature", where=label))
    elif trusted_prints and key.fingerprint not in trusted_prints:
        verdict.problems.append(said("verify_db_untrusted", where=label, fingerprint=group_hex(key.fingerprint)))


def _current_digests(store: Store, kind: str, subject: str, sealed: EntryDigests) -> EntryDigests:
    if kind == "run":
        return run_digests(store.run_material(subject))
    ids: dict[str, list[int]] = {"attestations": [], "waivers": [], "revocations": []}
    for name, _digest, _size in sealed.in_name_order():
        parts = name.split("/")
        if parts[0] == "attestations":
            ids["attestations"].append(int(parts[1].removesuffix(".json")))
        elif parts[0] == "waivers" and len(parts) == 3:
            ids["revocations"].append(int(parts[1]))
        elif parts[0] == "waivers":
            ids["waivers"].append(int(parts[1].removesuffix(".json")))
    material = store.governance_material(ids["attestations"], ids["waivers"], ids["revocations"])
    return EntryDigests(governance_entries(material))


def _check_rows(verdict: Verdict, store: Store, kind: str, subject: str, sealed_digests: EntryDigests) -> None:
    label = said("verify_run_label", run=subject) if kind == "run" else said("verify_subject_label", subject=subject)
    try:
        current = _current_digests(store, kind, subject, sealed_digests)
    except NotFoundError:
        verdict.problems.append(said("verify_db_removed", where=label))
        return
    except ValueError as exc:
        verdict.problems.append(said("verify_db_unreadable", where=label, problem=str(exc)))
        return
    added: list[Said] = []  # named after the sealed rows' problems
    for change, name in sealed_digests.differences(current):
        problem = said(f"verify_db_row_{change}", where=label, row=row_said(name), name=name)
        (added if change == "added" else verdict.problems).append(problem)
    verdict.problems.extend(added)


def _check_coverage(
    verdict: Verdict,
    store: Store,
    rows: list[ManifestRow],
    latest: dict[tuple[str, str], tuple[ManifestRow, Manifest, EntryDigests]],
) -> None:
    """Finished runs without a manifest: older than the chain (a note), or closed since (a problem: added behind
    the tool's back, or closed outside the audit service)."""
    first = rows[0].created_at if rows else None
    for run in store.finished_runs():
        if ("run", run["id"]) in latest:
            continue
        if first is not None and run["finished_at"] >= first and run["status"] != "interrupted":
            verdict.problems.append(said("verify_db_no_manifest_after", run=run["id"]))
        elif first is not None and run["finished_at"] >= first:  # a portal found its process gone
            verdict.notes.append(said("verify_db_no_manifest_interrupted", run=run["id"]))
        else:
            verdict.notes.append(said("verify_db_no_manifest_before", run=run["id"]))


def row_said(name: str) -> Said:
    """What stored row an entry stands for, in words: ``finding row 12``, ``evidence row 4 (stdout bytes)``."""
    parts = name.split("/")
    if name == "run.json":
        return said("verify_row_run")
    if parts[0] == "agencies" and parts[2:] == ["agency.json"]:
        return said("verify_row_run_agency", id=parts[1])
    if parts[0] == "agencies" and len(parts) >= 4:
        kind, ident = parts[2], parts[3].removesuffix(".json")
        if kind == "evidence" and len(parts) == 5:
            if parts[4] == "record.json":
                return said("verify_row_evidence", id=ident)
            return said("verify_row_evidence_bytes", id=ident, part=parts[4])
        if kind in ("targets", "findings"):
            return said(f"verify_row_{kind}", id=ident)
        return said("verify_row_other", kind=kind, id=ident)
    if parts[0] == "waivers" and len(parts) == 3:
        return said("verify_row_revocation", id=parts[1])
    if parts[0] in ("attestations", "documents", "waivers") and len(parts) == 2:
        return said(f"verify_row_{parts[0]}", id=parts[1].removesuffix(".json"))
    return said("verify_row_name", name=name)
