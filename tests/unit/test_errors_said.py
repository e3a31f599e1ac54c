"""Errors of the signing key, the portal's secret, a governance import, the evidence store and its migrations are
said in either language: the Vietnamese keeps none of the English sentence, the English reads as it always has."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from auditor.errors import AuditorError, ConfigError, NotFoundError, StoreError
from auditor.evidence_chain.keys import PublicKey, create_key, load_key
from auditor.governance.records import WaiverRequest, prepare_import
from auditor.portal.security import load_secret
from auditor.schema_said import error_said
from auditor.store.db import migrate, open_store

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
# Words that are the same in both languages: commands, file formats, field names of the import file.
SHARED = {
    "chmod",
    "auditor",
    "keys",
    "init",
    "rotate",
    "attestations",
    "item",
    "agency",
    "valid_until",
    "base",
    "mgmt_nope",
}


def english_left(vietnamese: str, english: str) -> set[str]:
    """Words of four letters or more of the English sentence that the Vietnamese still has: file names and
    paths, and the words both languages share, aside."""

    def words(sentence: str) -> set[str]:
        bare = re.sub(r"\S*[/.]\S*", " ", sentence)  # paths and file names are values, not words
        return {word.lower() for word in re.findall(r"[A-Za-z_]{4,}", bare)}

    return (words(english) & words(vietnamese)) - SHARED


def both(exc: AuditorError, path: Path | None = None) -> tuple[str, str]:
    vi, en = exc.text("vi"), exc.text("en")
    if path is not None:  # the test's own directory, shorter
        vi, en = vi.replace(str(path), "<path>"), en.replace(str(path), "<path>")
    assert english_left(vi, en) == set(), (vi, en)
    return vi, en


def test_signing_key_errors(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    with pytest.raises(ConfigError) as caught:
        load_key(path)
    vi, en = both(caught.value, tmp_path)
    assert (
        vi.startswith("không có khóa ký tại")
        and en == "no signing key at <path>/signing.pem (create one: auditor keys init)"
    )
    create_key(path)
    with pytest.raises(ConfigError) as caught:
        create_key(path)
    vi, en = both(caught.value, tmp_path)
    assert "đã có khóa ký" in vi and en.startswith("a signing key already exists at")
    path.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        load_key(path)
    vi, en = both(caught.value, tmp_path)
    assert "chmod 600" in vi and en.endswith("is readable by group or others: chmod 600 <path>/signing.pem")
    path.chmod(0o600)
    with pytest.raises(ConfigError) as caught:
        load_key(path, b"a passphrase")
    vi, en = both(caught.value, tmp_path)
    assert "không mã hóa" in vi and en.endswith("is not encrypted: leave out the passphrase")


@pytest.mark.parametrize(
    ("data", "english"),
    [
        (b"not base64 at all!", "not a public key: expected PEM or the raw key in base64"),
        (b"AAAA", "not an Ed25519 public key: 3 bytes, expected 32"),
    ],
)
def test_public_key_errors(data: bytes, english: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PublicKey.parse(data)
    vi, en = both(caught.value)
    assert en == english and "khóa công khai" in vi


def test_a_pem_error_is_quoted_in_vietnamese_and_kept_in_english() -> None:
    with pytest.raises(ConfigError) as caught:
        PublicKey.parse(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    vi, en = caught.value.text("vi"), caught.value.text("en")
    assert en.startswith("not a PEM public key: ") and "own message" not in en
    assert vi.startswith("không phải khóa công khai PEM: (thông báo gốc của Python:")


def test_portal_secret_errors(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("short\n")
    secret.chmod(0o600)
    with pytest.raises(ConfigError) as caught:
        load_secret(secret)
    vi, en = both(caught.value, tmp_path)
    assert "ít nhất 32 ký tự" in vi and en == "<path>/secret: the portal secret must hold at least 32 characters"
    secret.write_text("x" * 40)
    secret.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        load_secret(secret)
    vi, en = both(caught.value, tmp_path)
    assert "chmod 600" in vi and en.endswith("must be readable by its owner only (chmod 600)")
    with pytest.raises(ConfigError) as caught:
        load_secret(tmp_path)  # a directory
    vi, en = both(caught.value)
    assert "đây là một thư mục" in vi and en.endswith(": cannot read the portal secret (Is a directory)")


def test_governance_import_problems(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "folder.pdf").mkdir()
    path = tmp_path / "attest.csv"
    path.write_text(
        "agency,item,answer,justification,attested_by,attested_at,valid_until,documents\n"
        "b,mgmt_nope,met,Quyết định 12,Nguyễn Văn A,2025-01-01,2025-10-30,docs/folder.pdf\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        prepare_import(path, {"mgmt_policy_document"}, {"a"}, NOW)
    vi, en = both(caught.value, tmp_path)
    assert en.splitlines() == [
        "nothing was imported:",
        "<path>/attest.csv: line 2: attestations[0] (item=mgmt_nope, agency=b): unknown agency 'b'"
        " (audit it first, or check the id)",
        "<path>/attest.csv: line 2: attestations[0] (item=mgmt_nope, agency=b): 'mgmt_nope' is not a manual"
        " evidence item of the checklists",
        "<path>/attest.csv: line 2: attestations[0] (item=mgmt_nope, agency=b): already expired"
        " (valid_until 2025-10-30)",
        "<path>/attest.csv: line 2: attestations[0] (item=mgmt_nope, agency=b): document docs/folder.pdf:"
        " cannot read (Is a directory)",
    ]
    assert vi.splitlines()[0] == "không nhập gì:" and len(vi.splitlines()) == 5 and "dòng 2" in vi


def test_evidence_and_migration_errors() -> None:
    store = open_store("sqlite://")
    with pytest.raises(NotFoundError) as found:
        store.get_evidence(999, verify=True)
    vi, en = both(found.value)
    assert (vi, en) == ("không có kết quả 999", "no finding 999")
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00000000000'"))
    with pytest.raises(StoreError) as caught:
        migrate(store.engine)
    vi, en = both(caught.value)
    assert "hãy nâng cấp auditor" in vi and en.startswith("the database schema (revision f00000000000) is newer")


def test_the_rules_of_a_waiver_and_an_attestation_have_their_sentences() -> None:
    with pytest.raises(ValidationError) as caught:
        WaiverRequest(
            agency_id="a",
            check_id="sshd_port_not_default",
            justification="a legacy tool needs the port",
            compensating_control="a firewall rule in front",
            requested_by="An",
            approved_by="an",
            expires_on=date(2027, 1, 1),
        )
    (error,) = caught.value.errors()
    words = error_said(error)
    assert words.key == "err_schema_waiver_approver" and words.text("en") == error["msg"]
    assert english_left(words.text("vi"), words.text("en")) == {"approved_by", "requested_by"}
