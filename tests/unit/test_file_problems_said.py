"""A file's validation problems in either language: English exactly as the problem list always read, Vietnamese
with its header, lines and each problem in words."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from auditor.errors import ConfigError
from auditor.said import said
from auditor.yamlio import format_problems, read_yaml_file, validation_problems, validation_problems_said


class Host(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    port: int


class Hosts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hosts: list[Host]


def _problems(tmp_path: Path, prefix: bool = False) -> tuple[ConfigError, str]:
    path = tmp_path / "hosts.yml"
    path.write_text("hosts:\n  - name: a\n    port: many\n  - name: b\n    colour: red\n", encoding="utf-8")
    document = read_yaml_file(path, ConfigError)
    with pytest.raises(ValidationError) as caught:
        Hosts.model_validate(document.data)
    kind = said("err_file_kind_mapping") if prefix else None
    error = ConfigError(validation_problems_said(path, caught.value, document.data, kind, document.line_of))
    listed = validation_problems(caught.value, document.data)
    before = format_problems(path, listed, document.data, "mapping: " if prefix else "", document.line_of)
    return error, before


@pytest.mark.parametrize("prefix", [False, True])
def test_english_reads_as_the_problem_list_always_did(tmp_path: Path, prefix: bool) -> None:
    error, before = _problems(tmp_path, prefix)
    assert str(error) == error.text("en") == before
    assert "problem(s)" in before and "line 3:" in before


def test_vietnamese_says_the_header_the_lines_and_each_problem_in_words(tmp_path: Path) -> None:
    error, _ = _problems(tmp_path, prefix=True)
    vietnamese = error.text("vi")
    assert "3 vấn đề" in vietnamese and "bảng ánh xạ" in vietnamese and "dòng 3:" in vietnamese
    for english in ("problem(s)", "line 3", "mapping", "Input should be", "Field required", "Extra inputs"):
        assert english not in vietnamese, vietnamese
