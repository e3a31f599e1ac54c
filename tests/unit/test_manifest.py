"""Manifests: canonical bytes, the Merkle root, the installation key, sealing every closed run and governance
record into one signed chain, and `verify --db` naming rows edited behind the tool's back."""

from __future__ import annotations

import hashlib
import json
import logging
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from auditor.errors import ConfigError, StoreError
from auditor.evidence_chain.canonical import canonical_json
from auditor.evidence_chain.db_verify import verify_store
from auditor.evidence_chain.entries import EntryDigests
from auditor.evidence_chain.keys import (
    PublicKey,
    SigningKey,
    create_key,
    installation_key,
    load_key,
    public_key_of,
    retired_public_keys,
)
from auditor.evidence_chain.manifest import digests_root, parse_manifest, parse_manifest_digests, sealer
from auditor.evidence_chain.merkle import leaf_hash, merkle_root, node_hash
from auditor.evidence_chain.sealing import ChainSealer, seal_attestations, seal_waiver
from auditor.governance.records import Answer, AttestationEntry, PreparedAttestation, PreparedDocument, WaiverRequest
from auditor.reports.models import Lang
from auditor.service.audit import AuditService
from auditor.store import RunStatus, Store, open_store
from auditor.store.manifests import ChainHead
from tests.unit.test_service import CONTENT, OPTIONS, FakeCollector, FakeNetwork, _scope

SHA_A, SHA_B, SHA_C = (hashlib.sha256(c).hexdigest() for c in (b"a", b"b", b"c"))


# -- canonical bytes and the Merkle root -----------------------------------------------------------------------


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": ["Việt", 2.5, None]}) == '{"a":["Việt",2.5,null],"b":1}'.encode()
    assert (
        canonical_json({"t": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}) == b'{"t":"2026-01-02T03:04:05.000000+00:00"}'
    )
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_merkle_root_follows_rfc6962_with_domain_separation() -> None:
    a, b, c = leaf_hash("a", SHA_A), leaf_hash("b", SHA_B), leaf_hash("c", SHA_C)
    assert a == hashlib.sha256(b"\x00a\x00" + bytes.fromhex(SHA_A)).digest()
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()
    assert merkle_root([("a", SHA_A)]) == a.hex()
    assert merkle_root([("a", SHA_A), ("b", SHA_B), ("c", SHA_C)]) == node_hash(node_hash(a, b), c).hex()
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    # order, names and digests all count
    assert merkle_root([("b", SHA_B), ("a", SHA_A)]) != merkle_root([("a", SHA_A), ("b", SHA_B)])
    assert merkle_root([("a", SHA_B)]) != merkle_root([("a", SHA_A)])
    with pytest.raises(ValueError, match="NUL"):
        leaf_hash("a\x00b", SHA_A)


# -- the installation key --------------------------------------------------------------------------------------


def test_key_is_private_refuses_overwrite_and_prints_a_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "signing_key.pem"
    key = create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key.public.fingerprint == hashlib.sha256(key.public.raw).hexdigest()
    assert key.public.fingerprint_grouped.split() == [key.public.fingerprint[i : i + 4] for i in range(0, 64, 4)]
    assert public_key_of(path) == key.public == PublicKey.parse(key.public.raw_base64.encode())
    with pytest.raises(ConfigError, match="already exists"):
        create_key(path)
    path.chmod(0o640)
    with pytest.raises(ConfigError, match="readable by group or others"):
        load_key(path)


def test_encrypted_key_needs_its_passphrase_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "k.pem"
    create_key(path, b"mat-khau-dai")
    assert b"ENCRYPTED" in path.read_bytes()
    with pytest.raises(ConfigError, match="is encrypted"):
        load_key(path)
    with pytest.raises(ConfigError, match="wrong passphrase"):
        load_key(path, b"sai")
    monkeypatch.setenv("SIGNING_PASS", "mat-khau-dai")
    assert installation_key(path, "SIGNING_PASS") is not None
    monkeypatch.delenv("SIGNING_PASS")
    with pytest.raises(ConfigError, match="SIGNING_PASS"):
        installation_key(path, "SIGNING_PASS")
    assert installation_key(tmp_path / "absent.pem") is None


def test_rotation_keeps_the_old_public_key(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    old = create_key(path)
    new = create_key(path, rotate=True)
    assert new.public != old.public and load_key(path).public == new.public
    assert retired_public_keys(path) == [old.public]
    with pytest.raises(ConfigError, match="no signing key"):
        create_key(tmp_path / "none.pem", rotate=True)


# -- sealing ---------------------------------------------------------------------------------------------------


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return create_key(tmp_path / "keys" / "signing_key.pem")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'audit.db'}")


def _service(store: Store, key: SigningKey | None, network: FakeNetwork | None = None) -> AuditService:
    return AuditService(
        store,
        CONTENT,
        collector=lambda _options: FakeCollector(),
        network=network or FakeNetwork(),
        sealer=ChainSealer(lambda: key),
    )


def test_every_closed_run_is_sealed_signed_and_chained(store: Store, key: SigningKey) -> None:
    first = _service(store, key).start_audit(_scope(), OPTIONS)
    with pytest.raises(StoreError):
        _service(store, key, FakeNetwork(raise_after=StoreError("gone"))).start_audit(_scope(), OPTIONS)
    rows = store.list_manifests()
    assert [(r.sequence, r.kind) for r in rows] == [(0, "run"), (1, "run")]
    assert rows[0].subject == first and store.get_run(rows[1].subject).status is RunStatus.failed
    one, two = (parse_manifest(r.body) for r in rows)
    assert two.previous_sha256 == rows[0].sha256 and one.previous_sha256 is None
    assert rows[1].signature is not None and key.public.verifies(rows[1].signature, rows[1].body)
    assert one.key_fingerprint == key.public.fingerprint and one.content_version == "test-1"
    assert one.profile_inputs is not None and "defaults" in one.profile_inputs
    names = [e.name for e in one.entries]
    assert names == sorted(names) and names[0].startswith("agencies/bst/") and "run.json" in names
    assert _problems(store, key.public) == []


def test_without_a_key_the_manifest_is_stored_unsigned_and_said_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    sealer = ChainSealer(lambda: None)
    service = AuditService(store, CONTENT, collector=lambda _o: FakeCollector(), network=FakeNetwork(), sealer=sealer)
    with caplog.at_level(logging.WARNING):
        service.start_audit(_scope(), OPTIONS)
        service.start_audit(_scope(), OPTIONS)
    rows = store.list_manifests()
    assert len(rows) == 2 and all(r.signature is None and r.key_fingerprint is None for r in rows)
    said = [r.message for r in caplog.records if "unsigned" in r.message]
    assert len(said) == 1 and "auditor keys init" in said[0]
    verdict = verify_store(store, [])
    assert verdict.problems == [] and any("unsigned" in note for note in verdict.note_texts("en"))
    assert any("chưa được ký" in note for note in verdict.note_texts("vi"))


def test_attestations_and_waivers_join_the_same_chain(
    store: Store, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITOR_SIGNING_KEY", str(key.path))
    _service(store, key).start_audit(_scope(), OPTIONS)
    now = datetime.now(UTC)
    entry = AttestationEntry(
        agency="bst",
        item="mgmt_policy_doc",
        answer=Answer.met,
        justification="Quyết định 12/QĐ",
        attested_by="Nguyễn Văn A",
        attested_at=date(2026, 10, 30),
        valid_until=date(2027, 10, 30),
        documents=("quy-che.pdf",),
    )
    document = PreparedDocument(file_name="quy-che.pdf", content=b"%PDF-1.4 quy che", media_type="application/pdf")
    ids = store.record_attestations([PreparedAttestation(entry=entry, documents=(document,))], "a.yml", now)
    sealed = seal_attestations(store, ids)
    request = WaiverRequest(
        agency_id="bst",
        check_id="sshd_root_login_off",
        justification="legacy tool needs it",
        compensating_control="firewall allow-list",
        requested_by="An",
        approved_by="Bình",
        expires_on=(now + timedelta(days=30)).date(),
    )
    waiver_id = store.add_waiver(request, now)
    seal_waiver(store, waiver_id)
    store.revoke_waiver(waiver_id, "Cường", "control failed", now)
    seal_waiver(store, waiver_id, revoked=True)
    rows = store.list_manifests()
    assert [(r.kind, r.subject) for r in rows][1:] == [
        ("attestation", f"attestations {ids[0]}"),
        ("waiver", f"waiver {waiver_id}"),
        ("waiver", f"waiver {waiver_id} revoked"),
    ]
    assert sealed is not None and sealed.key_fingerprint == key.public.fingerprint
    names = [e.name for e in parse_manifest(rows[1].body).entries]
    digest = hashlib.sha256(b"%PDF-1.4 quy che").hexdigest()
    assert names == [f"attestations/{ids[0]}.json", f"documents/{digest}"]
    assert _problems(store, key.public) == []
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE attestations SET answer = 'not_met' WHERE id = :id"), {"id": ids[0]})
        conn.execute(text("UPDATE waivers SET approved_by = 'Ai đó' WHERE id = :id"), {"id": waiver_id})
    assert _problems(store, key.public) == [
        f"attestations {ids[0]}: attestation row {ids[0]} changed (attestations/{ids[0]}.json)",
        f"waiver {waiver_id}: waiver row {waiver_id} changed (waivers/{waiver_id}.json)",
    ]


# -- verify --db -----------------------------------------------------------------------------------------------


def _problems(store: Store, trusted: PublicKey, lang: Lang = "en") -> list[str]:
    """What `auditor verify --db` finds, as a reader of `lang` sees it."""
    return verify_store(store, [trusted]).problem_texts(lang)


def _sealed_run(store: Store, key: SigningKey) -> tuple[str, int, int]:
    run_id = _service(store, key).start_audit(_scope(), OPTIONS)
    with store.engine.connect() as conn:
        finding = (
            conn.execute(
                text("SELECT id FROM findings WHERE run_id = :r AND evidence_id IS NOT NULL ORDER BY id"), {"r": run_id}
            )
            .scalars()
            .first()
        )
        evidence = conn.execute(text("SELECT evidence_id FROM findings WHERE id = :f"), {"f": finding}).scalar_one()
    return run_id, int(finding), int(evidence)


def test_verify_db_names_an_edited_finding_row(store: Store, key: SigningKey) -> None:
    run_id, finding, _evidence = _sealed_run(store, key)
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE findings SET status = CASE status WHEN 'pass' THEN 'fail' ELSE 'pass' END WHERE id = :f"),
            {"f": finding},
        )
    assert _problems(store, key.public) == [
        f"run {run_id}: finding row {finding} changed (agencies/bst/findings/{finding}.json)"
    ]
    assert _problems(store, key.public, "vi") == [
        f"lượt {run_id}: dòng kết quả {finding} đã bị sửa (agencies/bst/findings/{finding}.json)"
    ]


def test_verify_db_names_edited_evidence_bytes_even_with_a_matching_hash(store: Store, key: SigningKey) -> None:
    run_id, _finding, evidence = _sealed_run(store, key)
    with store.engine.begin() as conn:  # the bytes and their hash edited together
        conn.execute(
            text("UPDATE evidence SET stdout = :b, sha256 = :h WHERE id = :e"),
            {"b": b"permitrootlogin no\n", "h": "f" * 64, "e": evidence},
        )
    problems = _problems(store, key.public)
    base = f"agencies/bst/evidence/{evidence}"
    assert f"run {run_id}: evidence row {evidence} changed ({base}/record.json)" in problems
    assert f"run {run_id}: evidence row {evidence} (stdout bytes) changed ({base}/stdout)" in problems


def test_verify_db_names_rows_removed_and_added(store: Store, key: SigningKey) -> None:
    run_id, finding, _evidence = _sealed_run(store, key)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM findings WHERE id = :f"), {"f": finding})
        conn.execute(
            text(
                "INSERT INTO findings (run_id, run_host_id, check_id, status, severity, observed, expected, "
                "reason_vi, reason_en, requirements) SELECT run_id, run_host_id, 'forged_check', 'pass', 'low', '', "
                "'', '', '', '[]' FROM findings WHERE run_id = :r LIMIT 1"
            ),
            {"r": run_id},
        )
        added = conn.execute(text("SELECT id FROM findings WHERE check_id = 'forged_check'")).scalar_one()
    assert _problems(store, key.public) == [
        f"run {run_id}: finding row {finding} removed (agencies/bst/findings/{finding}.json)",
        f"run {run_id}: finding row {added} added, not in the manifest (agencies/bst/findings/{added}.json)",
    ]


def test_verify_db_finds_a_deleted_manifest_a_forged_one_and_an_unknown_key(
    store: Store, key: SigningKey, tmp_path: Path
) -> None:
    runs = [_sealed_run(store, key)[0] for _ in range(3)]
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM manifests WHERE sequence = 1"))
    problems = _problems(store, key.public)
    assert problems[0] == "chain: #1 missing (deleted?)"
    assert _problems(store, key.public, "vi")[0] == "chuỗi: thiếu #1 (bị xóa?)"
    assert f"run {runs[1]}: no manifest, though it ended after manifests began" in problems
    other = create_key(tmp_path / "other.pem")
    assert f"manifest #0 ({runs[0]}): signed by key {other.public.fingerprint_grouped}" not in problems
    stranger = _problems(store, other.public)
    assert f"manifest #0 ({runs[0]}): signed by key {key.public.fingerprint_grouped}, which is not a trusted key" in (
        stranger
    )
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE manifests SET body = body || x'20' WHERE sequence = 2"))
    assert f"manifest #2 ({runs[2]}): its bytes do not match its stored SHA-256 (edited)" in _problems(
        store, key.public
    )
    assert f"bản kê #2 ({runs[2]}): nội dung không khớp SHA-256 đã lưu (bị sửa)" in _problems(store, key.public, "vi")


def test_verify_db_cli_exit_codes(store: Store, key: SigningKey, tmp_path: Path) -> None:
    from auditor.cli.app import run as cli

    _run_id, finding, _evidence = _sealed_run(store, key)
    url = str(store.engine.url)
    pub = str(key.path) + ".pub"
    assert cli(["verify", "--db", url, "--pubkey", pub]) == 0
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE findings SET observed = 'no' WHERE id = :f"), {"f": finding})
    assert cli(["verify", "--db", url, "--pubkey", pub]) == 1
    assert cli(["verify", "--db", url, str(tmp_path / "x.zip")]) == 3


def _sealed_body(names: list[str]) -> bytes:
    digests = EntryDigests()
    for index, name in enumerate(names):
        digests.add_digest(name, hashlib.sha256(name.encode()).digest(), index)
    return sealer("run", "r-1", digests, None)(ChainHead(sequence=0, previous_sha256=None)).body


def test_the_lean_parse_reads_what_the_complete_parse_reads() -> None:
    body = _sealed_body(["run.json", "agencies/a/findings/2.json", "agencies/a/findings/10.json"])
    whole = parse_manifest(body)
    header, digests = parse_manifest_digests(body)
    assert header == whole.model_copy(update={"entries": ()})
    assert [(n, d.hex(), s) for n, d, s in digests.in_name_order()] == [
        (e.name, e.sha256, e.size) for e in whole.entries
    ]
    assert digests_root(digests) == whole.merkle_root


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda d: d["entries"].reverse(), "not in name order"),
        (lambda d: d["entries"][0].update(sha256="A" * 64), "not SHA-256 hex"),
        (lambda d: d["entries"][0].update(size=True), "size"),
        (lambda d: d["entries"][0].update(extra=1), "a name, a sha256 and a size"),
        (lambda d: d["entries"][0].update(name=""), "name is not valid"),
        (lambda d: d.update(sequence=-1), "validation error"),
    ],
)
def test_the_lean_parse_refuses_what_sealing_never_writes(edit: Any, problem: str) -> None:
    data = json.loads(_sealed_body(["a.json", "b.json", "c.json"]))
    edit(data)
    with pytest.raises((ValueError, ValidationError), match=problem):
        parse_manifest_digests(canonical_json(data))


def test_the_lean_parse_refuses_bytes_out_of_canonical_form() -> None:
    body = _sealed_body(["a.json"])
    with pytest.raises(ValueError):
        parse_manifest_digests(body.replace(b'{"', b'{ "', 1))
    data = json.loads(body)
    reordered = json.dumps(dict(reversed(data.items())), separators=(",", ":"), ensure_ascii=False).encode()
    with pytest.raises(ValueError, match="canonical"):
        parse_manifest_digests(reordered)
    with pytest.raises(ValueError, match="not a manifest"):
        parse_manifest_digests(body + b" ")


def test_differences_walk_both_lists_in_name_order() -> None:
    def digests(pairs: dict[str, bytes]) -> EntryDigests:
        made = EntryDigests()
        for name, content in reversed(pairs.items()):  # added out of order: compared sorted all the same
            made.add_digest(name, hashlib.sha256(content).digest(), len(content))
        return made

    sealed = digests({"a": b"1", "b": b"2", "c": b"3", "e": b"5"})
    now = digests({"b": b"2", "c": b"changed", "d": b"4", "e": b"5", "f": b"6"})
    assert list(sealed.differences(now)) == [("removed", "a"), ("changed", "c"), ("added", "d"), ("added", "f")]
    assert list(now.differences(now)) == []
    assert list(sealed.differences(EntryDigests())) == [("removed", n) for n in "abce"]
