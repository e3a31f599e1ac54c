"""Sealing a run from streamed rows: the same manifest bytes as the whole model would give, entries in name order
whatever order the rows come in, and the stream read in batches on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json

import pytest

from auditor.evidence_chain.entries import Entry, EntryDigests, run_digests, run_entries
from auditor.evidence_chain.manifest import Manifest, ManifestEntry, digests_root, entries_root, manifest_body
from auditor.store import manifests as store_manifests
from auditor.store import open_store
from tests.unit.test_store import any_url, make_agency, ok_host, sqlite_url, start

__all__ = ["any_url", "sqlite_url"]  # the fixtures, shared with the store's own tests


def _entries(*names: str) -> list[Entry]:
    return [Entry(name, f"bytes of {name}".encode()) for name in names]


def test_digests_come_out_in_name_order_with_their_hash_and_size() -> None:
    # "10" sorts before "9" as text, and "a/b" before "a/b/c": the order of the names, not of the ids
    entries = _entries("agencies/x/findings/9.json", "agencies/x/findings/10.json", "a/b/c", "a/b", "run.json")
    listed = list(EntryDigests(entries).in_name_order())
    assert [name for name, _digest, _size in listed] == sorted(e.name for e in entries)
    by_name = {e.name: e for e in entries}
    for name, digest, size in listed:
        assert digest == hashlib.sha256(by_name[name].data).digest() and size == len(by_name[name].data)
    with pytest.raises(ValueError, match="NUL"):
        EntryDigests(_entries("a\x00b"))


def test_the_body_written_from_digests_is_the_models_canonical_body() -> None:
    entries = _entries("run.json", "agencies/bst/findings/2.json", "agencies/bst/evidence/7/stdout", "tên/việt")
    digests = EntryDigests(entries)
    listed = tuple(
        ManifestEntry(name=e.name, sha256=e.sha256, size=len(e.data)) for e in sorted(entries, key=lambda e: e.name)
    )
    fields = {
        "kind": "run",
        "subject": "r-1",
        "sequence": 3,
        "previous_sha256": "a" * 64,
        "created_at": "2026-12-01T08:00:00.000000+00:00",
        "tool_version": "1.0",
        "content_version": "c-2",
        "profile_inputs": {"profile": "p", "defaults": {"entries": []}, "agencies": {}},
        "key_fingerprint": "b" * 64,
    }
    whole = Manifest(**fields, entries=listed, merkle_root=entries_root(listed))
    header = Manifest(**fields, entries=(), merkle_root=digests_root(digests))
    assert digests_root(digests) == whole.merkle_root
    assert manifest_body(header, digests) == whole.body()
    empty = EntryDigests()
    no_entries = Manifest(**fields, entries=(), merkle_root=digests_root(empty))
    assert manifest_body(no_entries, empty) == no_entries.body()
    assert json.loads(manifest_body(header, digests))["entries"][0]["name"] == "agencies/bst/evidence/7/stdout"


def test_an_over_long_name_is_refused_as_the_model_refuses_it() -> None:
    digests = EntryDigests(_entries("x" * 301))
    header = Manifest(
        kind="run", subject="r", sequence=0, created_at="t", tool_version="1", entries=(), merkle_root="0" * 64
    )
    with pytest.raises(ValueError, match="1 to 300"):
        manifest_body(header, digests)


def test_the_run_is_streamed_in_batches_and_hashes_as_its_entries(
    any_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_manifests, "ROW_BATCH", 2)
    monkeypatch.setattr(store_manifests, "EVIDENCE_BATCH", 1)
    with open_store(any_url) as store:
        run_id = start(store)
        other_run = start(store)
        store.save_host_results(run_id, [(make_agency(), ok_host(host_name=f"web-{n}")) for n in range(3)])
        store.save_host_result(other_run, make_agency(), ok_host(host_name="web-0"))
        store.finish_run(run_id)
        rows = list(store.run_material(run_id))
        assert [kind for kind, _row in rows][:5] == ["run", "agency", "target", "target", "target"]
        findings = [row for kind, row in rows if kind == "finding"]
        evidence = [row for kind, row in rows if kind == "evidence"]
        assert len(findings) == 9 and len(evidence) == 9  # the other run's rows are not read
        assert [f["id"] for f in findings] == sorted(f["id"] for f in findings)
        sha_of = {e["id"]: e["sha256"] for e in evidence}
        assert all(f["cited_sha256"] == sha_of.get(f["evidence_id"]) for f in findings)
        assert any(f["evidence_id"] is None and f["cited_sha256"] is None for f in findings)
        entries = run_entries(store.run_material(run_id))
        digests = list(run_digests(store.run_material(run_id)).in_name_order())
        assert [(name, digest, size) for name, digest, size in digests] == [
            (e.name, hashlib.sha256(e.data).digest(), len(e.data)) for e in entries
        ]
        assert len(entries) == 1 + 1 + 3 + 9 + 9 * 3  # the run, its record of the agency, targets, findings, …
        by_name = {e.name: e.data for e in entries}
        for row in evidence:
            assert by_name[f"agencies/vtv/evidence/{row['id']}/stdout"] == row["stdout"]
