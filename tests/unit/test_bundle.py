"""Bundles: written from a real store through the CLI, verified offline; every kind of tampering is named."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.cli.app import run as cli
from auditor.evidence_chain.bundle import in_scope
from auditor.evidence_chain.keys import PublicKey, SigningKey, create_key, group_hex
from auditor.evidence_chain.sealing import ChainSealer
from auditor.evidence_chain.verify import Verdict, verify_bundle
from auditor.reports.models import Lang
from auditor.service.audit import AuditService
from auditor.store import open_store
from tests.unit.test_service import CONTENT as SERVICE_CONTENT
from tests.unit.test_service import OPTIONS, FakeCollector, FakeNetwork, _scope

Members = list[tuple[str, bytes]]


class Built:
    def __init__(self, root: Path, key: SigningKey, other: SigningKey, runs: list[str], bundles: list[Path]) -> None:
        self.root, self.key, self.other, self.runs, self.bundles = root, key, other, runs, bundles


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("bundle")
    key = create_key(root / "keys" / "signing_key.pem")
    other = create_key(root / "other" / "signing_key.pem")
    url = f"sqlite:///{root / 'audit.db'}"
    store = open_store(url)
    service = AuditService(
        store,
        SERVICE_CONTENT,
        collector=lambda _options: FakeCollector(),
        network=FakeNetwork(),
        sealer=ChainSealer(lambda: key),
    )
    runs = [service.start_audit(_scope(), OPTIONS) for _ in range(2)]
    store.close()
    bundles = []
    for run_id in runs:
        target = root / f"{run_id}.zip"
        code = cli(["bundle", run_id, "--agency", "bst", "-o", str(target), "--db", url, "--key", str(key.path)])
        assert code == 0
        bundles.append(target)
    return Built(root, key, other, runs, bundles)


def _members(path: Path) -> Members:
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, archive.read(info.filename)) for info in archive.infolist()]


def _tampered(built: Built, tmp_path: Path, change: Callable[[Members], Members]) -> Path:
    target = tmp_path / "tampered.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in change(_members(built.bundles[1])):
            archive.writestr(name, data)
    return target


def _flip(name: str, at: int | None = None) -> Callable[[Members], Members]:
    def change(members: Members) -> Members:
        out = []
        for member, data in members:
            if member == name:
                where = len(data) // 2 if at is None else at
                data = data[:where] + bytes([data[where] ^ 0x01]) + data[where + 1 :]
            out.append((member, data))
        return out

    return change


def _first(members: Members, prefix: str, suffix: str = "") -> str:
    return next(name for name, _ in members if name.startswith(prefix) and name.endswith(suffix))


def _verify(path: Path, *trusted: PublicKey, previous: bytes | None = None) -> Verdict:
    return verify_bundle(path, list(trusted), previous)


def _problems(path: Path, *trusted: PublicKey, previous: bytes | None = None, lang: Lang = "en") -> list[str]:
    """The problems as a reader of `lang` sees them."""
    return _verify(path, *trusted, previous=previous).problem_texts(lang)


def test_an_untouched_bundle_verifies_with_the_recorded_key(built: Built) -> None:
    verdict = _verify(built.bundles[1], built.key.public)
    assert verdict.problems == []
    assert verdict.manifest is not None and verdict.manifest.subject == built.runs[1]
    names = [name for name, _ in _members(built.bundles[1])]
    assert names[:5] == ["manifest.json", "manifest.sig", "public_key.pem", "bundle.json", "bundle.sig"]
    assert any(n.startswith("agencies/bst/findings/") for n in names)
    assert any(n.endswith("/stdout") for n in names)
    assert names[-2:] == ["reports/bst-vi.html", "reports/bst-en.html"]


def test_a_flipped_byte_in_the_manifest_is_named(built: Built, tmp_path: Path) -> None:
    path = _tampered(built, tmp_path, _flip("manifest.json"))
    assert _problems(path, built.key.public)[0] == (
        "manifest.json: changed (its SHA-256 differs from the one bundle.json records)"
    )


def test_a_flipped_byte_in_the_signature_is_a_bad_signature(built: Built, tmp_path: Path) -> None:
    path = _tampered(built, tmp_path, _flip("manifest.sig"))
    assert _problems(path, built.key.public) == ["manifest.sig: bad signature"]
    assert _problems(path, built.key.public, lang="vi") == ["manifest.sig: chữ ký sai"]


def test_a_flipped_byte_in_evidence_bytes_names_the_entry(built: Built, tmp_path: Path) -> None:
    name = next(n for n, data in _members(built.bundles[1]) if n.endswith("/stdout") and data)
    path = _tampered(built, tmp_path, _flip(name))
    assert _problems(path, built.key.public) == [f"{name}: changed (SHA-256 differs from the manifest)"]


def test_a_flipped_byte_in_a_finding_names_the_entry(built: Built, tmp_path: Path) -> None:
    name = _first(_members(built.bundles[1]), "agencies/bst/findings/")
    path = _tampered(built, tmp_path, _flip(name))
    assert _problems(path, built.key.public) == [f"{name}: changed (SHA-256 differs from the manifest)"]


def test_a_flipped_byte_in_a_report_names_the_report(built: Built, tmp_path: Path) -> None:
    path = _tampered(built, tmp_path, _flip("reports/bst-vi.html"))
    assert _problems(path, built.key.public) == ["reports/bst-vi.html: changed (SHA-256 differs from bundle.json)"]


def test_a_flipped_byte_in_the_index_is_a_bad_signature(built: Built, tmp_path: Path) -> None:
    path = _tampered(built, tmp_path, _flip("bundle.json", at=30))
    assert "bundle.json: bad signature (bundle.json or bundle.sig was changed)" in _problems(path)


def test_a_removed_entry_is_missing(built: Built, tmp_path: Path) -> None:
    name = _first(_members(built.bundles[1]), "agencies/bst/evidence/", "/record.json")
    path = _tampered(built, tmp_path, lambda members: [m for m in members if m[0] != name])
    assert _problems(path, built.key.public) == [f"{name}: missing"]
    assert _problems(path, built.key.public, lang="vi") == [f"{name}: bị thiếu"]


def test_an_added_entry_is_named(built: Built, tmp_path: Path) -> None:
    extra = "agencies/bst/findings/999.json"
    path = _tampered(built, tmp_path, lambda members: [*members, (extra, b'{"status":"pass"}')])
    assert _problems(path, built.key.public) == [f"{extra}: not in the manifest (added)"]
    assert _problems(path, built.key.public, lang="vi") == [f"{extra}: không có trong bản kê (bị thêm vào)"]


def test_reordered_entries_are_named(built: Built, tmp_path: Path) -> None:
    def swap(members: Members) -> Members:
        first = next(i for i, (n, _) in enumerate(members) if n.startswith("agencies/"))
        members[first], members[first + 1] = members[first + 1], members[first]
        return members

    names = [n for n, _ in _members(built.bundles[1])]
    first = next(i for i, n in enumerate(names) if n.startswith("agencies/"))
    path = _tampered(built, tmp_path, swap)
    assert _problems(path, built.key.public) == [
        f"{names[first + 1]}: out of order (expected {names[first]} at position {first + 1})"
    ]


def test_another_key_is_refused_by_fingerprint(built: Built) -> None:
    assert _problems(built.bundles[1], built.other.public) == [
        f"public_key.pem: wrong key: fingerprint {group_hex(built.key.public.fingerprint)} is not the expected "
        f"{group_hex(built.other.public.fingerprint)}"
    ]


def test_a_bundle_re_signed_with_another_key_is_refused(built: Built, tmp_path: Path) -> None:
    """Whoever swaps in their own key and signatures still fails against the recorded key."""

    def resign(members: Members) -> Members:
        body = dict(members)["manifest.json"]
        swapped = {
            "manifest.sig": built.other.sign(body),
            "public_key.pem": built.other.public.pem(),
            "bundle.sig": built.other.sign(dict(members)["bundle.json"]),
        }
        return [(n, swapped.get(n, d)) for n, d in members]

    problems = _problems(_tampered(built, tmp_path, resign), built.key.public)
    assert problems == [
        f"public_key.pem: wrong key: fingerprint {group_hex(built.other.public.fingerprint)} is not the expected "
        f"{group_hex(built.key.public.fingerprint)}",
        f"manifest.json: signed by key {group_hex(built.key.public.fingerprint)}, but the bundle carries key "
        f"{group_hex(built.other.public.fingerprint)}",
    ]


def test_the_chain_links_to_the_previous_manifest(built: Built) -> None:
    previous = dict(_members(built.bundles[0]))["manifest.json"]
    assert _problems(built.bundles[1], built.key.public, previous=previous) == []
    # the bundle of the first run is not the predecessor of itself: the chain check says how it breaks
    own = dict(_members(built.bundles[1]))["manifest.json"]
    assert _problems(built.bundles[1], built.key.public, previous=own) == [
        "chain: broken: the previous manifest given is #1, this one is #1"
    ]
    assert _problems(built.bundles[1], built.key.public, previous=own, lang="vi") == [
        "chuỗi: bị đứt: bản kê trước được đưa vào là #1, bản này là #1"
    ]


def test_a_broken_chain_is_named(built: Built, tmp_path: Path) -> None:
    """A previous manifest that is not the one this manifest links to (history rewritten in between)."""
    previous = bytearray(dict(_members(built.bundles[0]))["manifest.json"])
    forged = bytes(previous).replace(b'"created_at":"', b'"created_at":"1', 1)  # still #0, other bytes
    problems = _problems(built.bundles[1], built.key.public, previous=forged)
    assert len(problems) == 1 and problems[0].startswith("chain: broken: manifest #1 links to ")


def test_a_chain_file_checks_the_link(built: Built, tmp_path: Path) -> None:
    chain_file = tmp_path / "chain.txt"
    url = f"sqlite:///{built.root / 'audit.db'}"
    assert cli(["verify", "--db", url, "--pubkey", str(built.key.path) + ".pub", "--chain-out", str(chain_file)]) == 0
    lines = chain_file.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["0", "1"]
    assert cli(["verify", str(built.bundles[1]), "--chain", str(chain_file)]) == 0
    chain_file.write_text(lines[0].replace(lines[0].split()[1], "0" * 64) + "\n")
    code = cli(["verify", str(built.bundles[1]), "--chain", str(chain_file)])
    assert code == 1


def test_the_cli_exit_codes(built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pub = str(built.key.path) + ".pub"
    assert cli(["verify", str(built.bundles[1]), "--pubkey", pub]) == 0
    assert "đã xác minh: toàn vẹn" in capsys.readouterr().out
    tampered = _tampered(built, tmp_path, _flip("reports/bst-en.html"))
    assert cli(["verify", str(tampered), "--pubkey", pub]) == 1
    out = capsys.readouterr().out  # Vietnamese by default
    assert "SAI reports/bst-en.html: đã bị sửa (SHA-256 khác với bundle.json)" in out
    assert "KHÔNG xác minh được: 1 vấn đề" in out
    assert cli(["verify", str(tampered), "--pubkey", pub, "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert "FAIL reports/bst-en.html: changed (SHA-256 differs from bundle.json)" in out
    assert "NOT verified: 1 problem(s)" in out
    assert cli(["verify"]) == 3
    assert "lỗi: hãy cho một gói để xác minh" in " ".join(capsys.readouterr().err.split())
    assert cli(["verify", str(tmp_path / "absent.zip"), "--lang", "en"]) == 3
    assert f"error: {tmp_path / 'absent.zip'}: no such file" in " ".join(capsys.readouterr().err.split())
    assert cli(["verify", str(built.bundles[1]), "--pubkey", str(tmp_path / "absent.pem")]) == 3
    not_zip = tmp_path / "not.zip"
    not_zip.write_bytes(b"PK but not really")
    assert "không có tệp này" in " ".join(capsys.readouterr().err.split())  # not the system's English
    assert cli(["verify", str(not_zip)]) == 1
    assert "not.zip: không phải tệp nén zip" in capsys.readouterr().out
    assert cli(["verify", str(not_zip), "--lang", "en"]) == 1
    assert "not.zip: not a zip archive" in capsys.readouterr().out


def test_scope_keeps_run_wide_entries_and_one_agency() -> None:
    assert in_scope("run.json", "bst") and in_scope("agencies/bst/targets/1.json", "bst")
    assert not in_scope("agencies/other/targets/2.json", "bst")
    assert in_scope("agencies/other/targets/2.json", None)


def test_the_raw_public_key_is_accepted(built: Built, tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(built.key.public.raw_base64 + "\n")
    assert cli(["verify", str(built.bundles[1]), "--pubkey", str(raw)]) == 0
    shutil.copy(built.bundles[1], tmp_path / "copy.zip")
    assert cli(["verify", str(tmp_path / "copy.zip"), "--pubkey", str(built.other.path) + ".pub"]) == 1
