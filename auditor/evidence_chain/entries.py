"""The entries of a manifest: the files a run (or an attestation, a waiver) is made of, derived from its stored
rows. The same function makes them when a run is sealed, when a bundle is written and when the store is
re-checked, so a row edited afterwards yields a different file under the same name.

A run:

    run.json                                       the run row (status, versions, inventory hash, options)
    agencies/<agency>/agency.json                  what the run recorded of the agency (owner, time zone);
                                                   none for a run recorded before migration 0010
    agencies/<agency>/targets/<id>.json            each target with its status
    agencies/<agency>/findings/<id>.json           each finding's stored fields, with its evidence's SHA-256
    agencies/<agency>/evidence/<id>/record.json    each evidence row (probe, command, outcome, SHA-256, …)
    agencies/<agency>/evidence/<id>/stdout|stderr  the bytes the target sent

A run's rows are read as a stream and each entry is made, hashed and dropped in turn: sealing keeps only
each entry's name, SHA-256 and size (``EntryDigests``), never the bytes of the whole run.

Governance: ``attestations/<id>.json``, ``documents/<sha256>`` (the document's bytes), ``waivers/<id>.json``
and ``waivers/<id>/revocation.json``. Each field list is fixed here, so a column added later does not change
what an old manifest covers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from auditor.evidence_chain.canonical import canonical_json, sha256_hex
from auditor.store.manifests import GovernanceMaterial, Row, RunRow

RUN_FIELDS = (
    "id",
    "started_at",
    "finished_at",
    "status",
    "status_detail",
    "tool_version",
    "checklist_version",
    "inventory_sha256",
    "options",
)
RUN_AGENCY_FIELDS = ("run_id", "agency_id", "owner_name", "owner_title", "timezone")
TARGET_FIELDS = (
    "id",
    "run_id",
    "agency_id",
    "host_name",
    "kind",
    "address",
    "status",
    "error_reason",
    "error_detail",
    "facts",
    "exec_requests",
    "started_at",
    "finished_at",
)
FINDING_FIELDS = (
    "id",
    "run_id",
    "run_host_id",
    "check_id",
    "status",
    "severity",
    "observed",
    "expected",
    "expected_vi",
    "expected_en",
    "configured",
    "reason_vi",
    "reason_en",
    "requirements",
    "evidence_id",
)
EVIDENCE_FIELDS = (
    "id",
    "run_host_id",
    "probe_id",
    "command",
    "outcome",
    "exit_code",
    "sha256",
    "duration_s",
    "truncated",
    "collected_at",
)
ATTESTATION_FIELDS = (
    "id",
    "agency_id",
    "check_id",
    "answer",
    "justification",
    "attested_by",
    "attested_at",
    "valid_until",
    "recorded_at",
    "source",
    "documents",
)
WAIVER_FIELDS = (
    "id",
    "agency_id",
    "host_pattern",
    "check_id",
    "justification",
    "compensating_control",
    "requested_by",
    "approved_by",
    "expires_at",
    "recorded_at",
)
REVOCATION_FIELDS = ("id", "waiver_id", "revoked_by", "reason", "revoked_at")

_SAFE_PART = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class Entry:
    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return sha256_hex(self.data)


def _pick(row: Row, fields: Iterable[str], **extra: Any) -> bytes:
    picked = {field: row.get(field) for field in fields}
    picked.update(extra)
    return canonical_json(picked)


def _part(value: object) -> str:
    """A path part made of stored text: only ids of safe characters get here, anything else is refused."""
    text = str(value)
    if not _SAFE_PART.fullmatch(text) or text in {".", ".."}:
        raise ValueError(f"cannot name a manifest entry after {text!r}")
    return text


def iter_run_entries(rows: Iterable[RunRow]) -> Iterator[Entry]:
    """The entries of one run, one at a time in the order its rows come (the run, targets, findings, evidence)."""
    agency_of_target: dict[int, str] = {}
    for kind, row in rows:
        if kind == "run":
            yield Entry("run.json", _pick(row, RUN_FIELDS))
        elif kind == "agency":
            yield Entry(f"agencies/{_part(row['agency_id'])}/agency.json", _pick(row, RUN_AGENCY_FIELDS))
        elif kind == "target":
            agency_of_target[row["id"]] = row["agency_id"]
            name = f"agencies/{_part(row['agency_id'])}/targets/{_part(row['id'])}.json"
            yield Entry(name, _pick(row, TARGET_FIELDS))
        elif kind == "finding":
            agency = _part(agency_of_target.get(row["run_host_id"], "unknown"))
            name = f"agencies/{agency}/findings/{_part(row['id'])}.json"
            yield Entry(name, _pick(row, FINDING_FIELDS, evidence_sha256=row["cited_sha256"]))
        else:
            agency = _part(agency_of_target.get(row["run_host_id"], "unknown"))
            base = f"agencies/{agency}/evidence/{_part(row['id'])}"
            yield Entry(f"{base}/record.json", _pick(row, EVIDENCE_FIELDS))
            yield Entry(f"{base}/stdout", bytes(row["stdout"]))
            yield Entry(f"{base}/stderr", bytes(row["stderr"]))


def run_entries(rows: Iterable[RunRow]) -> list[Entry]:
    """The entries of one run with their bytes, sorted by name (for a bundle, which carries them)."""
    return sorted(iter_run_entries(rows), key=lambda entry: entry.name)


def run_digests(rows: Iterable[RunRow]) -> EntryDigests:
    """The name, SHA-256 and size of each entry of one run; each entry's bytes are dropped once hashed."""
    digests = EntryDigests()
    for entry in iter_run_entries(rows):
        digests.add(entry)
    return digests


EntryChange = Literal["removed", "changed", "added"]


class EntryDigests:
    """The (name, SHA-256, size) of many entries without their bytes, kept small for a fleet's run (about
    400,000 entries for 1,000 hosts): each entry is one packed bytes value, UTF-8 name + NUL + 32-byte digest
    + 8-byte size, about 130 bytes in all. A name holds no NUL, so sorting the packed values sorts by name."""

    _TAIL = 32 + 8

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._packed: list[bytes] = []
        self._sorted = True
        for entry in entries:
            self.add(entry)

    def add(self, entry: Entry) -> None:
        self.add_digest(entry.name, hashlib.sha256(entry.data).digest(), len(entry.data))

    def add_digest(self, name: str, digest: bytes, size: int) -> None:
        if "\x00" in name:
            raise ValueError(f"an entry name holds no NUL: {name!r}")
        if len(digest) != 32 or size < 0:
            raise ValueError(f"not a SHA-256 digest and size for {name!r}")
        packed = name.encode("utf-8") + b"\x00" + digest + size.to_bytes(8, "big")
        if self._packed and packed < self._packed[-1]:
            self._sorted = False
        self._packed.append(packed)

    def __len__(self) -> int:
        return len(self._packed)

    @property
    def in_order(self) -> bool:
        """Whether the entries were added in name order (or have been sorted since)."""
        return self._sorted

    def in_name_order(self) -> Iterator[tuple[str, bytes, int]]:
        """Each (name, 32-byte digest, size), sorted by name."""
        if not self._sorted:
            self._packed.sort()
            self._sorted = True
        tail = self._TAIL
        for packed in self._packed:
            yield packed[: -tail - 1].decode("utf-8"), packed[-tail:-8], int.from_bytes(packed[-8:], "big")

    def hex_by_name(self) -> dict[str, str]:
        """name -> SHA-256 hex, in name order."""
        return {name: digest.hex() for name, digest, _size in self.in_name_order()}

    def differences(self, now: EntryDigests) -> Iterator[tuple[EntryChange, str]]:
        """How ``now`` differs from these entries, name by name in name order: each entry removed, changed (other
        digest) or added. Both sorted lists are walked side by side, so a fleet's run is compared without a
        dictionary of its names."""
        before, after = self._sorted_packed(), now._sorted_packed()
        name_end = -self._TAIL - 1
        i = j = 0
        while i < len(before) or j < len(after):
            if j == len(after) or (i < len(before) and before[i][:name_end] < after[j][:name_end]):
                yield "removed", before[i][:name_end].decode("utf-8")
                i += 1
            elif i == len(before) or after[j][:name_end] < before[i][:name_end]:
                yield "added", after[j][:name_end].decode("utf-8")
                j += 1
            else:
                if before[i][-self._TAIL : -8] != after[j][-self._TAIL : -8]:
                    yield "changed", before[i][:name_end].decode("utf-8")
                i += 1
                j += 1

    def _sorted_packed(self) -> list[bytes]:
        if not self._sorted:
            self._packed.sort()
            self._sorted = True
        return self._packed


def governance_entries(material: GovernanceMaterial) -> list[Entry]:
    """The entries of governance records (attestations with their documents, waivers, revocations), sorted."""
    entries: list[Entry] = []
    for attestation in material.attestations:
        documents = sorted(attestation["documents"], key=lambda d: (d["sha256"], d["file_name"]))
        entries.append(
            Entry(
                f"attestations/{_part(attestation['id'])}.json",
                _pick({**attestation, "documents": documents}, ATTESTATION_FIELDS),
            )
        )
    for document in material.documents:
        entries.append(Entry(f"documents/{_part(document['sha256'])}", bytes(document["content"])))
    for waiver in material.waivers:
        entries.append(Entry(f"waivers/{_part(waiver['id'])}.json", _pick(waiver, WAIVER_FIELDS)))
    for revocation in material.revocations:
        name = f"waivers/{_part(revocation['waiver_id'])}/revocation.json"
        entries.append(Entry(name, _pick(revocation, REVOCATION_FIELDS)))
    return sorted(entries, key=lambda entry: entry.name)


def agency_of(name: str) -> str | None:
    """The agency an entry belongs to (``agencies/<id>/…``), None for run-wide and governance entries."""
    parts = name.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "agencies" else None


def describe(name: str) -> str:
    """What stored row an entry stands for, in words: ``finding row 12``, ``evidence row 4 (stdout bytes)``."""
    parts = name.split("/")
    if name == "run.json":
        return "run row"
    if parts[0] == "agencies" and parts[2:] == ["agency.json"]:
        return f"run's record of agency {parts[1]}"
    if parts[0] == "agencies" and len(parts) >= 4:
        kind, ident = parts[2], parts[3].removesuffix(".json")
        if kind == "evidence" and len(parts) == 5:
            return f"evidence row {ident}" + ("" if parts[4] == "record.json" else f" ({parts[4]} bytes)")
        return {"targets": "target", "findings": "finding"}.get(kind, kind) + f" row {ident}"
    if parts[0] == "waivers" and len(parts) == 3:
        return f"revocation of waiver {parts[1]}"
    singular = {"attestations": "attestation", "documents": "document", "waivers": "waiver"}
    if parts[0] in singular and len(parts) == 2:
        return f"{singular[parts[0]]} row {parts[1].removesuffix('.json')}"
    return name
