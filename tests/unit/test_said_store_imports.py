"""Errors of the store, the evidence chain and imported results files, raised for real, are said in Vietnamese
without keeping the English sentence's words, while their English reads as it always has."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from auditor.content.loader import load_content
from auditor.errors import AuditorError, ContentError, ImportFileError, NotFoundError
from auditor.evidence_chain.verify import read_chain_file
from auditor.external.lynis import parse_lynis
from auditor.external.openscap import ROOTS, parse_openscap
from auditor.external.xmlsafe import parse_xml, read_limited
from auditor.said import Said
from auditor.store.db import Store, open_store
from tests.unit.test_foreign_words import kept


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path}/audit.db") as opened:
        yield opened


def value_words(words: Said) -> set[str]:
    """The words of the values a sentence was given (names, paths, what a file held): both languages show them."""
    found: set[str] = set()
    for value in words.values.values():
        shown = value.text("en") if isinstance(value, Said) else str(value)
        found |= {word.lower() for word in re.findall(r"[A-Za-z]+", shown)}
    return found


def raised(kind: type[AuditorError], action: Callable[[], object]) -> AuditorError:
    with pytest.raises(kind) as caught:
        action()
    return caught.value


def assert_said_in_vietnamese(exc: AuditorError, english: str) -> None:
    assert str(exc) == english
    words = exc.said
    assert isinstance(words, Said), english
    vietnamese = exc.text("vi")
    assert vietnamese != english
    assert kept(english, vietnamese) - value_words(words) == set(), vietnamese


def test_an_unknown_user_submission_and_remediation(store: Store) -> None:
    assert_said_in_vietnamese(raised(NotFoundError, lambda: store.get_user("ghost")), "no user 'ghost'")
    assert_said_in_vietnamese(raised(NotFoundError, lambda: store.get_submission(999)), "no submission 999")
    assert_said_in_vietnamese(
        raised(NotFoundError, lambda: store.get_remediation("rem-none")), "no remediation 'rem-none'"
    )


def test_malformed_lynis_reports(tmp_path: Path) -> None:
    path = tmp_path / "report.dat"
    assert_said_in_vietnamese(
        raised(ImportFileError, lambda: parse_lynis(path, b"lynis_version=3.0\nthis line has no sign\n")),
        f"{path}: line 2: expected key=value, found 'this line has no sign'",
    )
    assert_said_in_vietnamese(
        raised(ImportFileError, lambda: parse_lynis(path, b"a\x00b")),
        f"{path}: binary data (NUL bytes): not a Lynis report.dat",
    )
    assert_said_in_vietnamese(
        raised(ImportFileError, lambda: parse_lynis(path, b"hostname=web\n")),
        f"{path}: not a Lynis report.dat (no lynis_version or report_version_major line)",
    )


def test_refused_and_damaged_xml(tmp_path: Path) -> None:
    path = tmp_path / "results.xml"
    dtd = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>'
    assert_said_in_vietnamese(
        raised(ImportFileError, lambda: parse_xml(path, dtd)),
        f"{path}: refused: the XML declares a DTD or entities (DTDForbidden)",
    )
    assert_said_in_vietnamese(
        raised(ImportFileError, lambda: parse_xml(path, b"<r><unclosed></r>")),
        f"{path}: not well-formed XML at line 1, column 15 (truncated or damaged file?)",
    )
    assert_said_in_vietnamese(
        raised(ImportFileError, lambda: parse_openscap(path, b"<html/>")),
        f"{path}: root element <html> is not OpenSCAP results (expected one of: {', '.join(ROOTS)})",
    )
    big = tmp_path / "big.xml"
    big.write_bytes(b"x" * 11)
    assert_said_in_vietnamese(
        raised(ImportFileError, lambda: read_limited(big, 10)),
        f"{big}: larger than the limit of 10 bytes (see --max-size)",
    )
    missing = tmp_path / "missing.xml"
    assert_said_in_vietnamese(
        raised(ImportFileError, lambda: read_limited(missing, 10)), f"{missing}: cannot read: No such file or directory"
    )


def test_a_malformed_chain_file_and_an_unknown_check(tmp_path: Path) -> None:
    chain = tmp_path / "chain.txt"
    chain.write_text("1 abc\n", encoding="utf-8")
    assert_said_in_vietnamese(
        raised(AuditorError, lambda: read_chain_file(chain)), f"--chain {chain}, line 1: expected 'SEQUENCE SHA256'"
    )
    content = load_content()
    assert_said_in_vietnamese(
        raised(ContentError, lambda: content.select(["no-such-check"])), "unknown check id(s): no-such-check"
    )
