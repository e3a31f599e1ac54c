"""Find and load content: checks and profiles shipped in the wheel plus an organisation's own."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from pydantic import ValidationError

from auditor.content.catalogue import Catalogue, cross_check, requirement_index
from auditor.content.checks import Check, NetworkProbe, Probe, Profile
from auditor.content.sources import Source
from auditor.errors import ContentError, Sayable
from auditor.said import Lines, Said, said
from auditor.vocabulary import RequirementRef
from auditor.yamlio import LineOf, read_yaml_file, validation_problems_said

DEFAULT_PROFILE = "level3"


def builtin_content_dir() -> Path:
    return Path(str(files("auditor.bundled") / "checklists"))


@dataclass(frozen=True)
class Content:
    checks: dict[str, Check]
    files: dict[str, Path]  # check or source id → the file it came from
    profile: Profile
    version: str  # "<profile>-<sha256 prefix of every content file>", recorded with each run
    catalogues: dict[str, Catalogue]  # framework → catalogue
    requirements: dict[str, tuple[RequirementRef, ...]]  # check id → clauses that name it
    # Catalogue entries naming checks that do not exist: `checklist validate` and the content tests
    # fail on them, but an audit can still run the checks that do exist.
    mapping_problems: tuple[Said, ...] = ()
    sources: dict[str, Source] = field(default_factory=dict)  # shared probe sources by id

    def requirements_of(self, check_id: str) -> tuple[RequirementRef, ...]:
        return self.requirements.get(check_id, ())

    def select(self, ids: Sequence[str] | None) -> list[Check]:
        if not ids:
            return list(self.checks.values())
        unknown = [i for i in ids if i not in self.checks]
        if unknown:
            raise ContentError(said("err_content_unknown_checks", ids=", ".join(unknown)))
        return [self.checks[i] for i in ids]


def _yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.yml") if p.is_file())


Problem = Sayable | str  # in words, or a text that is the same in every language


def _known(names: Iterable[str]) -> Said | str:
    """The names known, or "none" in words."""
    return ", ".join(sorted(names)) or said("known_none")


def load_content(extra_dirs: Sequence[Path] = (), profile_id: str = DEFAULT_PROFILE) -> Content:
    """Load every check and the named profile; raise one ContentError listing every problem."""
    roots = [builtin_content_dir(), *extra_dirs]
    problems: list[Problem] = []
    checks: dict[str, Check] = {}
    shared: dict[str, Source] = {}
    files: dict[str, Path] = {}
    profiles: dict[str, tuple[Profile, Path]] = {}
    catalogues: dict[str, tuple[Catalogue, Path]] = {}
    digest = hashlib.sha256()
    for root in roots:
        if not root.is_dir():
            problems.append(said("content_dir_missing", root=str(root)))
            continue
        for path in _yaml_files(root):
            relative = path.relative_to(root)
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
            kind = relative.parts[0] if len(relative.parts) > 1 else ""
            try:
                document = read_yaml_file(path, ContentError)
            except ContentError as exc:
                problems.append(exc.said if exc.said is not None else str(exc))
                continue
            data, line_of = document.data, document.line_of
            if kind == "profiles":
                _load_profile(path, data, line_of, profiles, problems)
            elif kind == "catalogues":
                _load_catalogue(path, data, line_of, catalogues, problems)
            elif kind == "sources":
                _load_source(path, data, line_of, shared, files, problems)
            elif kind == "external":  # other tools' result mappings: auditor.external.mapping loads them
                continue
            else:
                _load_check(path, data, line_of, checks, files, problems)
    profile = profiles.get(profile_id)
    if profile is None:
        problems.append(said("content_profile_missing", profile=repr(profile_id), known=_known(profiles)))
    else:
        for check_id, check in checks.items():
            unknown = sorted(check.input_names() - set(profile[0].inputs))
            if unknown:
                problems.append(
                    said(
                        "content_check_unknown_inputs",
                        path=str(files[check_id]),
                        check=check_id,
                        unknown=", ".join(unknown),
                        profile=profile_id,
                        defined=", ".join(sorted(profile[0].inputs)),
                    )
                )
        for source_id, source in shared.items():
            unknown = sorted(set(source.inputs) - set(profile[0].inputs))
            if unknown:
                problems.append(
                    said(
                        "content_source_unknown_inputs",
                        path=str(files[source_id]),
                        source=source_id,
                        unknown=", ".join(unknown),
                    )
                )
    problems += _unknown_sources(checks, shared, files)
    mapping_problems = [
        said("content_at", path=str(path), said=problem)
        for catalogue, path in catalogues.values()
        for problem in cross_check(catalogue, checks)
    ]
    if problems:
        raise ContentError(Lines(tuple(problems)))
    assert profile is not None  # noqa: S101 - problems would have been raised above
    ordered = dict(sorted(checks.items()))
    loaded = {framework: catalogue for framework, (catalogue, _) in sorted(catalogues.items())}
    return Content(
        ordered,
        files,
        profile[0],
        f"{profile_id}-{digest.hexdigest()[:12]}",
        loaded,
        requirement_index(loaded),
        tuple(mapping_problems),
        dict(sorted(shared.items())),
    )


def _unknown_sources(checks: dict[str, Check], shared: dict[str, Source], files: dict[str, Path]) -> list[Problem]:
    problems: list[Problem] = []
    for check_id, check in checks.items():
        probe = check.probe
        named = probe.source if isinstance(probe, Probe) else probe.inside if isinstance(probe, NetworkProbe) else None
        if named is not None and named not in shared:
            field_name = "source" if isinstance(probe, Probe) else "inside"
            problems.append(
                said(
                    "content_unknown_source",
                    path=str(files[check_id]),
                    check=check_id,
                    field=field_name,
                    source=repr(named),
                    known=_known(shared),
                )
            )
    return problems


def _load_source(
    path: Path,
    data: object,
    line_of: LineOf,
    shared: dict[str, Source],
    files: dict[str, Path],
    problems: list[Problem],
) -> None:
    label = data.get("id") if isinstance(data, dict) else None
    try:
        source = Source.model_validate(data)
    except ValidationError as exc:
        prefix = said("err_file_kind_source", id=label) if isinstance(label, str) else None
        problems.append(validation_problems_said(path, exc, data, prefix, line_of))
        return
    problem = _identity_problem(path, said("content_kind_source"), source.id, shared, files)
    if problem is not None:
        problems.append(problem)
    else:
        shared[source.id] = source
        files[source.id] = path


def _identity_problem(
    path: Path, kind: Said, item_id: str, defined: Mapping[str, object], files: Mapping[str, Path]
) -> Said | None:
    """A check's or source's id that is not its file's name, or is defined already."""
    if item_id != path.stem:
        return said("content_id_not_file_name", path=str(path), kind=kind, id=item_id, stem=path.stem)
    if item_id in defined:
        return said("content_id_twice", path=str(path), kind=kind, id=item_id, other=str(files[item_id]))
    return None


def _load_check(
    path: Path, data: object, line_of: LineOf, checks: dict[str, Check], files: dict[str, Path], problems: list[Problem]
) -> None:
    label = data.get("id") if isinstance(data, dict) else None
    prefix = said("err_file_kind_check", id=label) if isinstance(label, str) else None
    try:
        check = Check.model_validate(data)
    except ValidationError as exc:
        problems.append(validation_problems_said(path, exc, data, prefix, line_of))
        return
    problem = _identity_problem(path, said("content_kind_check"), check.id, checks, files)
    if problem is not None:
        problems.append(problem)
        return
    checks[check.id] = check
    files[check.id] = path


def _load_profile(
    path: Path, data: object, line_of: LineOf, profiles: dict[str, tuple[Profile, Path]], problems: list[Problem]
) -> None:
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        problems.append(validation_problems_said(path, exc, data, said("err_file_kind_profile"), line_of))
        return
    if profile.id in profiles:
        problems.append(
            said("content_profile_twice", path=str(path), id=profile.id, other=str(profiles[profile.id][1]))
        )
        return
    profiles[profile.id] = (profile, path)


def _load_catalogue(
    path: Path, data: object, line_of: LineOf, catalogues: dict[str, tuple[Catalogue, Path]], problems: list[Problem]
) -> None:
    try:
        catalogue = Catalogue.model_validate(data)
    except ValidationError as exc:
        problems.append(validation_problems_said(path, exc, data, said("err_file_kind_catalogue"), line_of))
        return
    if catalogue.framework in catalogues:
        problems.append(
            f"{path}: catalogue {catalogue.framework}: already defined in {catalogues[catalogue.framework][1]}"
        )
        return
    catalogues[catalogue.framework] = (catalogue, path)
