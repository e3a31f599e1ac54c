"""Mapping files (``checklists/external/<tool>.yml``): which TCVN clauses each rule or test of another tool
evidences, with titles in Vietnamese and English. Validated on load: every problem names the file, the line,
the item and the field; a clause must exist in the loaded catalogues."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from auditor.content.catalogue import Catalogue
from auditor.errors import ContentError, Sayable
from auditor.external.models import RESULT_ID_MAX, TOOLS, Tool
from auditor.said import Said, said
from auditor.vocabulary import LocalizedText, RequirementRef, Severity
from auditor.yamlio import FileProblems, read_yaml_file, validation_problems_said

MAPPING_DIR = "external"  # under a content directory
ResultId = Annotated[str, StringConstraints(min_length=1, max_length=RESULT_ID_MAX, pattern=r"^[A-Za-z0-9_.:-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MappedResult(_Strict):
    title: LocalizedText
    requirements: tuple[RequirementRef, ...] = Field(min_length=1)
    severity: Severity | None = None  # when the tool rates none (Lynis) or rates it otherwise than we would


class ToolMapping(_Strict):
    tool: Tool
    name: str = Field(min_length=1)  # how reports name the tool, e.g. "OpenSCAP (SCAP Security Guide)"
    results: dict[ResultId, MappedResult] = Field(min_length=1)

    def find(self, result_id: str) -> MappedResult | None:
        return self.results.get(result_id)


def mapping_path(content_dir: Path, tool: Tool) -> Path:
    return content_dir / MAPPING_DIR / f"{tool}.yml"


def load_mapping(path: Path, tool: Tool, catalogues: Mapping[str, Catalogue]) -> ToolMapping:
    """The mapping in ``path`` for ``tool``; ContentError lists every problem (file, line, item, field)."""
    document = read_yaml_file(path, ContentError)
    data, line_of = document.data, document.line_of
    try:
        mapping = ToolMapping.model_validate(data)
    except ValidationError as exc:
        raise ContentError(validation_problems_said(path, exc, data, said("err_file_kind_mapping"), line_of)) from None
    problems: list[tuple[tuple[str | int, ...], Said]] = []
    if mapping.tool != tool:
        problems.append((("tool",), said("mapping_other_tool", mapped=repr(mapping.tool), tool=repr(tool))))
    clauses = {framework: {c.id for c in catalogue.clauses} for framework, catalogue in catalogues.items()}
    for result_id, item in mapping.results.items():
        for index, ref in enumerate(item.requirements):
            where: tuple[str | int, ...] = ("results", result_id, "requirements", index)
            if ref.framework not in clauses:
                known = ", ".join(sorted(clauses)) or said("known_none")
                problems.append(
                    (
                        (*where, "framework"),
                        said("mapping_unknown_framework", framework=repr(ref.framework), known=known),
                    )
                )
            elif ref.clause not in clauses[ref.framework]:
                problems.append(
                    (
                        (*where, "clause"),
                        said("mapping_unknown_clause", framework=ref.framework, clause=repr(ref.clause)),
                    )
                )
    if problems:
        raise ContentError(FileProblems(path, tuple(problems), data, said("err_file_kind_mapping"), line_of))
    return mapping


def validate_mappings(
    content_dirs: Sequence[Path], catalogues: Mapping[str, Catalogue]
) -> tuple[int, list[Sayable | str]]:
    """Load every mapping file of ``content_dirs`` (``external/<tool>.yml``) as ``auditor import`` would: how many
    are valid, and every problem (file, line, item, field) of the others."""
    valid, problems = 0, list[Sayable | str]()
    for content_dir in content_dirs:
        folder = content_dir / MAPPING_DIR
        for path in sorted(folder.glob("*.yml")) if folder.is_dir() else ():
            tool = next((known for known in TOOLS if known == path.stem), None)
            if tool is None:
                known = ", ".join(TOOLS)
                problems.append(said("mapping_no_tool", path=str(path), name=repr(path.stem), known=known))
                continue
            try:
                load_mapping(path, tool, catalogues)
            except ContentError as exc:
                problems.append(exc.said if exc.said is not None else str(exc))
            else:
                valid += 1
    return valid, problems
