"""Sealing: when a run ends or a governance record is written, its manifest is built from what the store now
holds, signed with the installation key and appended to the chain. Sealing never fails an audit: without a
key the manifest is stored unsigned (and that is said once); an error is logged and the run stays as it is."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from auditor.errors import AuditorError
from auditor.evidence_chain.entries import EntryDigests, governance_entries, run_digests
from auditor.evidence_chain.keys import SigningKey, installation_key
from auditor.evidence_chain.manifest import ManifestKind, sealer
from auditor.store.manifests import ManifestRow, RunRow

if TYPE_CHECKING:
    from auditor.content.loader import Content
    from auditor.inventory import Inventory
    from auditor.store import Store

log = logging.getLogger(__name__)
KeySource = Callable[[], SigningKey | None]


def profile_inputs(content: Content, inventory: Inventory | None, agency_ids: Sequence[str] = ()) -> dict[str, Any]:
    """The thresholds a run judged by: the profile's defaults and each audited agency's overrides."""
    agencies = inventory.agencies if inventory is not None else ()
    wanted = set(agency_ids)
    return {
        "profile": content.profile.id,
        "defaults": {name: spec.default for name, spec in sorted(content.profile.inputs.items())},
        "agencies": {
            a.id: dict(sorted(a.inputs.items())) for a in agencies if a.inputs and (not wanted or a.id in wanted)
        },
    }


class ChainSealer:
    """Seals runs and governance records into the store's chain with the key ``key_source`` gives (None: no key,
    the manifest is stored unsigned). By default the installation key is looked up when a seal is made."""

    def __init__(self, key_source: KeySource | None = None) -> None:
        self._key_source = key_source or installation_key
        self.unsigned_said = False

    def _key(self) -> SigningKey | None:
        try:
            return self._key_source()
        except AuditorError as exc:  # a key that exists but cannot be used: still record, unsigned
            log.warning("manifests are stored unsigned: %s", exc)
            self.unsigned_said = True
            return None

    def _append(self, store: Store, kind: ManifestKind, subject: str, make: Any, **header: Any) -> ManifestRow:
        key = self._key()
        row = store.append_manifest(sealer(kind, subject, make(), key, **header))
        if key is None and not self.unsigned_said:
            log.warning(
                "manifest #%d (%s %s) stored unsigned: no signing key (create one: auditor keys init)",
                row.sequence,
                kind,
                subject,
            )
            self.unsigned_said = True
        return row

    def seal_run(self, store: Store, run_id: str, content: Content, inventory: Inventory | None) -> ManifestRow:
        audited: set[str] = set()
        digests = run_digests(_noting_agencies(store.run_material(run_id), audited))
        return self._append(
            store,
            "run",
            run_id,
            lambda: digests,
            content_version=content.version,
            profile_inputs=profile_inputs(content, inventory, sorted(audited)),
        )

    def seal_attestations(self, store: Store, ids: Sequence[int]) -> ManifestRow:
        material = store.governance_material(attestation_ids=ids)
        return self._append(
            store, "attestation", _subject("attestations", ids), lambda: EntryDigests(governance_entries(material))
        )

    def seal_waiver(self, store: Store, waiver_id: int, *, revoked: bool = False) -> ManifestRow:
        if revoked:
            material = store.governance_material(revoked_waiver_ids=[waiver_id])
            subject = f"waiver {waiver_id} revoked"
        else:
            material = store.governance_material(waiver_ids=[waiver_id])
            subject = f"waiver {waiver_id}"
        return self._append(store, "waiver", subject, lambda: EntryDigests(governance_entries(material)))


def _noting_agencies(rows: Iterable[RunRow], agencies: set[str]) -> Iterator[RunRow]:
    """The rows as they come, noting each target's agency on the way."""
    for row in rows:
        if row.kind == "target":
            agencies.add(row.row["agency_id"])
        yield row


def _subject(word: str, ids: Sequence[int]) -> str:
    ordered = sorted(ids)
    return f"{word} {ordered[0]}" if len(ordered) == 1 else f"{word} {ordered[0]}–{ordered[-1]} ({len(ordered)})"


def seal_quietly(seal: Callable[[], ManifestRow]) -> ManifestRow | None:
    """Run one seal; an error is logged, never raised: the record it covers is stored already."""
    try:
        return seal()
    except Exception:  # whatever breaks here must not undo or hide the recorded audit
        log.exception("could not store the manifest")
        return None


def seal_attestations(store: Store, ids: Sequence[int]) -> ManifestRow | None:
    """Seal attestations just recorded (the CLI's import, the portal's accepted submission); never raises."""
    return seal_quietly(lambda: ChainSealer().seal_attestations(store, ids)) if ids else None


def seal_waiver(store: Store, waiver_id: int, *, revoked: bool = False) -> ManifestRow | None:
    """Seal a waiver just recorded, or its revocation; never raises."""
    return seal_quietly(lambda: ChainSealer().seal_waiver(store, waiver_id, revoked=revoked))
