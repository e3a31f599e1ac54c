"""Property: any attestation import file (YAML or CSV, with the documents it names) is either prepared
whole or refused with a ConfigError naming the file (and, for a bad row, the row, its line and the
field) — never with any other exception, and never half-prepared."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from auditor.errors import ConfigError
from auditor.governance.records import PreparedAttestation, prepare_import
from tests.fuzz.budget import examples
from tests.fuzz.documents import (
    ANY_VALUE,
    TEXT,
    alias_bomb,
    assert_clear_error,
    byte_soup,
    dump,
    mutated_mapping,
    mutated_text,
    wild,
    write,
)

NOW = datetime(2026, 11, 1, tzinfo=UTC)
MANUAL_ITEMS = {"mgmt_policy_document", "data_backup_plan"}
AGENCIES = {"baosoctrang", "dai-ptth"}
# The documents beside the import file, as the fixture writes them (name → content; None: a folder).
DOCUMENTS: dict[str, bytes | None] = {
    "docs/quy-che.pdf": b"%PDF-1.4 quy che",
    "docs/anh chụp.png": b"\x89PNG\r\n\x1a\n",
    "docs/empty.txt": b"",
    "docs/folder.pdf": None,
    "docs/ghi-chú.txt": "Biên bản kiểm tra".encode(),
}
DOCUMENT_NAMES = st.one_of(
    st.sampled_from([*DOCUMENTS, "docs/missing.pdf", "docs/virus.exe", "docs", "/nonexistent/x.pdf", "docs/q\x00.pdf"]),
    st.builds(lambda stem, suffix: stem + suffix, TEXT.map(lambda t: t[:40]), st.sampled_from([".pdf", ".txt", ""])),
)
COLUMNS = ["agency", "item", "answer", "justification", "attested_by", "attested_at", "valid_until", "documents"]
ROWS = st.fixed_dictionaries(
    {
        "agency": st.sampled_from(sorted(AGENCIES)),
        "item": st.sampled_from(sorted(MANUAL_ITEMS)),
        "answer": st.sampled_from(["met", "partly_met", "not_met"]),
        "justification": st.sampled_from(["Quyết định 12/QĐ-UBND", "Biên bản kiểm tra ngày 30/10"]),
        "attested_by": st.sampled_from(["Nguyễn Văn A", "Trần Thị B"]),
        "attested_at": st.dates(date(2025, 1, 1), date(2026, 10, 31)),
        "valid_until": st.dates(date(2026, 11, 1), date(2030, 12, 31)),
        "documents": st.lists(
            st.sampled_from(["docs/quy-che.pdf", "docs/anh chụp.png", "docs/ghi-chú.txt"]), min_size=1, max_size=2
        ),
    }
)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="attest-fuzz-") as name:
        root = Path(name)
        for relative, content in DOCUMENTS.items():
            if content is None:
                (root / relative).mkdir(parents=True)
            else:
                write(root / relative, content)
        yield root


def to_csv(rows: list[dict[Any, Any]], columns: list[str] | None = None) -> str:
    """Rows as a CSV file, documents joined by ';' (as officers fill it in a spreadsheet)."""
    out = io.StringIO()
    names = columns or list(dict.fromkeys(str(key) for row in rows for key in row)) or COLUMNS
    writer = csv.writer(out)
    writer.writerow(names)
    for row in rows:
        cells = []
        for name in names:
            value = next((v for k, v in row.items() if str(k) == name), "")
            cells.append(";".join(map(str, value)) if isinstance(value, list) else "" if value is None else str(value))
        writer.writerow(cells)
    return out.getvalue()


def _prepare(path: Path) -> list[PreparedAttestation] | str:
    try:
        prepared = prepare_import(path, MANUAL_ITEMS, AGENCIES, NOW)
    except ConfigError as error:
        event("refused: " + ("schema" if "problem(s)" in str(error) else "rows or file"))
        return assert_clear_error(error, path)
    event("prepared")
    for item in prepared:  # everything or nothing: each named document read whole
        assert len(item.documents) == len(item.entry.documents)
        for name, document in zip(item.entry.documents, item.documents, strict=True):
            assert document.content == (path.parent / name).read_bytes()
    return prepared


@st.composite
def plausible_rows(draw: st.DrawFn) -> list[Any]:
    rows = draw(st.lists(ROWS, max_size=3))
    rows = [draw(mutated_mapping(row)) for row in rows]
    for row in rows:
        if draw(st.booleans()):
            row["documents"] = draw(st.lists(DOCUMENT_NAMES, max_size=3))
        if draw(st.integers(0, 3)) == 0:
            row[draw(st.sampled_from(COLUMNS))] = draw(st.one_of(TEXT, ANY_VALUE))
    return rows


@settings(max_examples=examples(1200))
@given(rows=plausible_rows(), flow=st.sampled_from([None, True, False]), form=st.sampled_from(["yaml", "csv"]))
def test_plausible_imports_are_prepared_whole_or_refused_clearly(
    workdir: Path, rows: list[Any], flow: bool | None, form: str
) -> None:
    if form == "yaml":
        path = write(workdir / "attest.yml", dump({"attestations": rows}, flow))
    else:
        path = write(workdir / "attest.csv", to_csv(rows))
    _prepare(path)


@st.composite
def damaged_import(draw: st.DrawFn) -> tuple[str, str | bytes]:
    rows = draw(st.lists(ROWS, min_size=1, max_size=3))
    if draw(st.booleans()):
        text = dump({"attestations": draw(wild(st.just(rows)))}, draw(st.sampled_from([None, True, False])))
        return "attest.yml", draw(
            st.one_of(mutated_text(text), alias_bomb().map(lambda bomb: bomb + text), byte_soup(), ANY_VALUE.map(dump))
        )
    text = to_csv(rows)
    cells = st.one_of(TEXT, st.sampled_from(['"', '""', '"a,b"', "a\nb", "a\rb", "\x00", ";;", "x" * 140_000]))
    return "attest.csv", draw(
        st.one_of(
            mutated_text(text),
            byte_soup(),
            st.builds(lambda row: text + ",".join(row) + "\n", st.lists(cells, max_size=10)),
            st.builds(lambda header: ",".join(header) + "\n" + text.split("\n", 1)[1], st.lists(cells, max_size=9)),
            st.just("\ufeff" + text),
            st.just(text.replace("\n", "\r\n")),
        )
    )


@settings(max_examples=examples(1000))
@given(case=damaged_import())
def test_damaged_imports_are_refused_clearly(workdir: Path, case: tuple[str, str | bytes]) -> None:
    name, content = case
    _prepare(write(workdir / name, content))


@settings(max_examples=examples(300))
@given(rows=st.lists(ROWS, min_size=1, max_size=4), form=st.sampled_from(["yaml", "csv"]))
def test_valid_imports_are_prepared_whole(workdir: Path, rows: list[dict[str, Any]], form: str) -> None:
    path = write(workdir / f"attest.{form}", dump({"attestations": rows}) if form == "yaml" else to_csv(rows, COLUMNS))
    prepared = prepare_import(path, MANUAL_ITEMS, AGENCIES, NOW)
    assert [(p.entry.agency, p.entry.item, p.entry.valid_until) for p in prepared] == [
        (row["agency"], row["item"], row["valid_until"]) for row in rows
    ]
    assert [d.file_name for p in prepared for d in p.documents] == [
        Path(name).name for row in rows for name in row["documents"]
    ]


# --------------------------------------------------------------------- one bad field: named precisely

BAD_FIELDS: dict[str, list[Any]] = {
    "agency": ["", "not-audited"],
    "item": ["", "sshd_root_login_disabled", "mgmt_nope"],
    "answer": ["maybe", "MET", ""],
    "justification": [""],
    "attested_by": [""],
    "attested_at": ["yesterday", "2026-13-01", "30/10/2026", "2026-10-30T10:00:00"],
    "valid_until": ["2026-02-30", "2020-01-01", "soon"],
    "documents": [
        ["docs/missing.pdf"],
        ["docs/virus.exe"],
        ["docs/empty.txt"],
        ["docs/folder.pdf"],
        ["docs/q\x00.pdf"],
    ],
    "signed_by": ["Lê Văn C"],  # not a column of the format
}
# Problems found once the file's rows are valid (checked against the audits, the checklists, the disk):
# named with the row and the value, not a field.
ROW_PROBLEMS = {
    "agency": "unknown agency",
    "item": "not a manual evidence item",
    "valid_until": "already expired",
    "documents": "document ",
}


@st.composite
def one_bad_field(draw: st.DrawFn) -> tuple[list[dict[str, Any]], int, str]:
    rows = draw(st.lists(ROWS, min_size=1, max_size=3))
    index = draw(st.integers(0, len(rows) - 1))
    field = draw(st.sampled_from(sorted(BAD_FIELDS)))
    rows[index][field] = draw(st.sampled_from(BAD_FIELDS[field]))
    return rows, index, field


@settings(max_examples=examples(600))
@given(case=one_bad_field(), form=st.sampled_from(["yaml", "csv"]))
def test_a_bad_field_is_named_with_its_row_and_line(
    workdir: Path, case: tuple[list[dict[str, Any]], int, str], form: str
) -> None:
    rows, index, field = case
    if form == "yaml":
        path = write(workdir / "attest.yml", dump({"attestations": rows}))
    else:
        path = write(workdir / "attest.csv", to_csv(rows, [*COLUMNS, field] if field not in COLUMNS else COLUMNS))
    with pytest.raises(ConfigError) as caught:
        prepare_import(path, MANUAL_ITEMS, AGENCIES, NOW)
    message = assert_clear_error(caught.value, path)
    row = rf"line \d+: attestations\[{index}\] \(item=[^)\n]*\)"
    if field in ROW_PROBLEMS and "problem(s)" not in message:  # the rows are valid, what they name is not
        assert re.search(rf"{row}: [^\n]*{ROW_PROBLEMS[field]}", message), message
    else:  # the field itself, or the row's own rule that names it (valid_until before attested_at)
        assert re.search(rf"{row}[^\n]*{field}", message), message
