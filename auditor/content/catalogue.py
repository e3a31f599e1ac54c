"""Requirement catalogues: every level-3 clause of a standard and how it is verified.

The mapping between clauses and checks lives here, never in the checks: a clause lists the
automated checks, the network checks and the manual evidence items that evidence it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from auditor.content.checks import Check, CheckId
from auditor.said import Said, said
from auditor.vocabulary import LocalizedText, RequirementRef


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Group(_Strict):
    id: str = Field(min_length=1)
    heading: LocalizedText


class Clause(_Strict):
    id: str = Field(pattern=r"^\d+(\.\d+)*$")
    group: str
    heading: LocalizedText
    confidence: Literal["confirmed", "heading_only", "inferred"]
    summary: LocalizedText
    checks: tuple[CheckId, ...] = ()
    network_checks: tuple[CheckId, ...] = ()
    manual: tuple[CheckId, ...] = ()


class Catalogue(_Strict):
    framework: str = Field(min_length=1)
    title: LocalizedText
    level: int = 3
    provisional: bool = False
    source: str = Field(min_length=1)
    groups: tuple[Group, ...] = Field(min_length=1)
    clauses: tuple[Clause, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        group_ids = [group.id for group in self.groups]
        clause_ids = [clause.id for clause in self.clauses]
        for label, ids in (("group", group_ids), ("clause", clause_ids)):
            repeated = sorted({i for i in ids if ids.count(i) > 1})
            if repeated:
                raise ValueError(f"duplicate {label} ids: {', '.join(repeated)}")
        unknown = sorted({clause.group for clause in self.clauses} - set(group_ids))
        if unknown:
            raise ValueError(f"clauses refer to unknown groups: {', '.join(unknown)}")
        return self

    def group(self, group_id: str) -> Group:
        return next(group for group in self.groups if group.id == group_id)


class Verification(StrEnum):
    automated = "automated"
    network = "network"
    manual = "manual"
    missing = "missing"


@dataclass(frozen=True)
class ClauseCoverage:
    framework: str
    clause: Clause
    kinds: tuple[Verification, ...]
    pending_network: tuple[str, ...]  # network check ids named by the catalogue but not written yet


def cross_check(catalogue: Catalogue, checks: Mapping[str, Check]) -> list[Said]:
    """Problems between a catalogue and the checks it names (pending network checks are allowed), in words."""
    problems = []
    for clause in catalogue.clauses:
        where = clause.id
        if not (clause.checks or clause.network_checks or clause.manual):
            problems.append(said("catalogue_no_evidence_path", clause=where))
        for check_id in clause.checks:
            if check_id not in checks:
                problems.append(said("catalogue_unknown_check", clause=where, check=check_id))
            elif checks[check_id].is_manual:
                problems.append(said("catalogue_check_is_manual", clause=where, check=check_id))
        for check_id in clause.manual:
            if check_id not in checks:
                problems.append(said("catalogue_unknown_manual", clause=where, check=check_id))
            elif not checks[check_id].is_manual:
                problems.append(said("catalogue_manual_is_automated", clause=where, check=check_id))
    return problems


def coverage(catalogue: Catalogue, checks: Mapping[str, Check]) -> list[ClauseCoverage]:
    rows = []
    for clause in catalogue.clauses:
        kinds = []
        if clause.checks:
            kinds.append(Verification.automated)
        if clause.network_checks:
            kinds.append(Verification.network)
        if clause.manual:
            kinds.append(Verification.manual)
        pending = tuple(check_id for check_id in clause.network_checks if check_id not in checks)
        rows.append(ClauseCoverage(catalogue.framework, clause, tuple(kinds) or (Verification.missing,), pending))
    return rows


def requirement_index(catalogues: Mapping[str, Catalogue]) -> dict[str, tuple[RequirementRef, ...]]:
    """check id → every (framework, clause) that names it, in catalogue order."""
    index: dict[str, list[RequirementRef]] = {}
    for catalogue in catalogues.values():
        for clause in catalogue.clauses:
            for check_id in (*clause.checks, *clause.network_checks, *clause.manual):
                refs = index.setdefault(check_id, [])
                ref = RequirementRef(framework=catalogue.framework, clause=clause.id)
                if ref not in refs:
                    refs.append(ref)
    return {check_id: tuple(refs) for check_id, refs in index.items()}
