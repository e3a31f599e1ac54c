"""Safe YAML reading and error messages that name the file, the line, the item and the field."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from auditor.errors import ConfigError
from auditor.foreign import decode_error_said, foreign, os_error_said, quoted, yaml_problem_said
from auditor.said import Said, said
from auditor.textsafe import terminal_safe

if TYPE_CHECKING:
    from auditor.reports.models import Lang

_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_TAGS = "tag:yaml.org,2002:"
# Keys that identify an item in a list, tried in this order, to say *which* item is wrong.
_ITEM_KEYS = ("id", "name", "probe_id", "check", "item")
_LABEL_CHARS = 60  # of an item's id as echoed in a message
_LISTED_PROBLEMS = 20  # a file with more problems lists these and counts the rest
_SHOWN_STEPS = 12  # of a location's path; deeper ones show their first and last steps
# Aliases let a few lines stand for an exponential tree (a "billion laughs"); no real file comes close.
MAX_EXPANDED_NODES = 200_000

Location = tuple[int | str, ...]
# The line (1-based) of the YAML node at a data location, when the file is known to have one there.
LineOf = Callable[[Location], int | None]


class _Loader(_SAFE_LOADER):  # type: ignore[valid-type,misc]  # libyaml's loader when present
    """The safe loader, whose scalar constructors' own errors (`2026-02-30`, `!!int x`, `!!bool maybe`:
    ValueError, KeyError, AttributeError…) become YAML errors that point at the node, and which refuses a key
    given twice in one mapping (the later value would silently win)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        # Large files repeat their keys and many values ("name", "true", "22"): each plain scalar's implicit
        # tag is found by regular expressions, once per distinct value here instead of once per node.
        self._scalar_tags: dict[tuple[str, tuple[bool, bool]], str] = {}

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode:
            return str(super().resolve(kind, value, implicit))
        key = (value, implicit)
        tag = self._scalar_tags.get(key)
        if tag is None:
            tag = self._scalar_tags[key] = super().resolve(kind, value, implicit)
        return tag

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        _check_unique_keys(node)
        return super().construct_mapping(node, deep)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            tag = node.tag.replace(_YAML_TAGS, "!!")
            value = repr(shown(node.value)) if isinstance(node.value, str) else "…"
            reason = str(exc) if type(exc) is ValueError else ""  # e.g. "month must be in 1..12"
            detail = foreign("yaml_bad_scalar_detail", text=quoted(reason)) if reason else ""
            raise SaidYAMLError(
                foreign("yaml_bad_scalar", tag=tag, value=value, detail=detail), node.start_mark
            ) from None


class SaidYAMLError(yaml.constructor.ConstructorError):
    """A problem the loader itself finds, in words (auditor/locale/foreign.yml); ``str()`` is its English."""

    def __init__(self, words: Said, mark: yaml.Mark) -> None:
        super().__init__(None, None, words.text("en"), mark)
        self.said = words


@dataclass(frozen=True)
class ParsedFile:
    data: Any
    line_of: LineOf


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large file becomes objects.

    A 5 MB inventory makes about a million objects (nodes, then data, then models), none in a reference
    cycle; the collector would examine every one of them again and again as they are made, which costs
    more than the parsing. Reference counting frees them as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_yaml_file(path: Path, error_cls: type[ConfigError] = ConfigError) -> Any:
    return read_yaml_file(path, error_cls).data


def read_yaml_file(path: Path, error_cls: type[ConfigError] = ConfigError) -> ParsedFile:
    """The file's data and where each of its nodes starts; every failure is an `error_cls` naming the file."""
    text = read_text_file(path, error_cls)
    loader = _Loader(text)
    try:
        with cyclic_gc_paused():
            root = loader.get_single_node()
            if root is None:
                return ParsedFile(None, lambda _loc: None)
            if "*" in text:  # an alias (`*name`) may expand the document: measure it before building anything
                _check_aliases(root)
            data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise error_cls(_describe_yaml_error(path, exc, text)) from None
    finally:
        loader.dispose()
    return ParsedFile(data, lambda loc: _node_line(root, loc))


def read_text_file(path: Path, error_cls: type[ConfigError], encoding: str = "utf-8") -> str:
    try:
        return path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise error_cls(said("err_file_not_found", path=path)) from None
    except UnicodeDecodeError as exc:
        reason = decode_error_said(exc)
        raise error_cls(said("err_file_not_utf8", path=path, reason=reason, byte=exc.start)) from None
    except OSError as exc:
        raise error_cls(said("err_file_unreadable", path=path, problem=os_error_said(exc))) from None


def _describe_yaml_error(path: Path, exc: yaml.YAMLError, text: str) -> Said:
    """The file, where, and what is wrong: in words for the common problems, else the parser's own, quoted."""
    problem = yaml_problem_said(exc, text)
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow; it has a position only
        line = text.count("\n", 0, exc.position) + 1
        character = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        return said("err_yaml_character", path=path, line=line, character=character, reason=problem)
    mark = getattr(exc, "problem_mark", None)
    where = said("err_yaml_at", line=mark.line + 1, column=mark.column + 1) if mark else ""
    return said("err_yaml_invalid", path=path, where=where, problem=problem)


def _check_aliases(root: yaml.Node) -> None:
    """Refuse aliases that expand the document beyond any real file (a "billion laughs").

    One pass, linear in the file: what aliases add is counted apart from the nodes the file itself holds,
    so a large plain file is never mistaken for an alias bomb."""
    seen: set[int] = set()
    stack = [root]
    expanded = 0  # nodes reached again through an alias
    while stack:
        node = stack.pop()
        if id(node) in seen:
            expanded += 1
            if expanded > MAX_EXPANDED_NODES:
                raise SaidYAMLError(foreign("yaml_too_many_nodes", limit=MAX_EXPANDED_NODES), root.start_mark)
        else:
            seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend(child for pair in node.value for child in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _check_unique_keys(node: yaml.MappingNode) -> None:
    first: dict[tuple[str, str], yaml.Node] = {}
    for key, _value in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == _YAML_TAGS + "merge":
            continue
        earlier = first.setdefault((key.tag, key.value), key)
        if earlier is not key:
            first_line = earlier.start_mark.line + 1
            raise SaidYAMLError(foreign("yaml_duplicate_key", name=shown(key.value), first=first_line), key.start_mark)


def _node_line(root: yaml.Node, loc: Location) -> int | None:
    """The line of the deepest node the location reaches (its parent's, for a missing field)."""
    node: yaml.Node | None = root
    line = None
    for step in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next(
                (value for key, value in node.value if isinstance(key, yaml.ScalarNode) and key.value == str(step)),
                None,
            )
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            node = node.value[step]
        else:
            node = None
    return node.start_mark.line + 1 if node is not None else line


def shown(value: str, limit: int = _LABEL_CHARS) -> str:
    """A value from the file as a message echoes it: on one line, control characters escaped, cut short."""
    return terminal_safe(value[:limit]) + ("…" if len(value) > limit else "")


def describe_location(loc: Location, data: Any) -> str:
    """Turn a data location into 'agencies[0] (id=x) → hosts[1] (name=y) → port'."""
    parts: list[str] = []
    node = data
    for step in loc:
        if isinstance(step, int):
            label = f"[{step}]"
            item = node[step] if isinstance(node, list) and 0 <= step < len(node) else None
            if isinstance(node, dict):
                item = node.get(step)
            if isinstance(item, dict):
                for key in _ITEM_KEYS:
                    if isinstance(item.get(key), str | int):
                        label += f" ({key}={shown(str(item[key]))})"
                        break
            if parts:
                parts[-1] += label
            else:
                parts.append(label)
            node = item
        else:
            parts.append(shown(step))
            node = node.get(step) if isinstance(node, dict) else None
    if len(parts) > _SHOWN_STEPS:  # deep nesting: the start and the end say where
        half = _SHOWN_STEPS // 2
        parts = [*parts[:half], f"… ({len(parts) - 2 * half} levels)", *parts[-half:]]
    return " → ".join(parts) or "(top level)"


def data_location(loc: Sequence[int | str], error_type: str, data: Any) -> Location:
    """The steps of a pydantic error location that exist in the data, plus a missing field's name.

    Pydantic adds steps of its own (a union's branch such as `IPv4Network` or `int`, a tagged union's
    tag); they mean nothing to whoever wrote the file, so they are dropped.
    """
    kept: list[int | str] = []
    node = data
    for index, step in enumerate(loc):
        if isinstance(node, dict) and step in node:
            kept.append(step)
            node = node[step]
        elif isinstance(step, int):
            kept.append(step)
            node = node[step] if isinstance(node, list) and 0 <= step < len(node) else None
        elif step == "[key]" or (index == len(loc) - 1 and error_type == "missing"):
            kept.append(step)
            node = None
    return tuple(kept)


def validation_problems(exc: ValidationError, data: Any) -> list[tuple[Location, str]]:
    """A validation error's problems as (data location, plain message), one per location, in file order."""
    return [(loc, "; or: ".join(map(error_message, errors))) for loc, errors in validation_errors(exc, data)]


def error_message(error: ErrorDetails) -> str:
    return error["msg"].removeprefix("Value error, ")


def validation_errors(exc: ValidationError, data: Any) -> list[tuple[Location, list[ErrorDetails]]]:
    """A validation error's errors by data location, in file order: a union's branches that fail alike count
    once, and a list's "too short" beside the errors of its own items is left out."""
    problems: dict[Location, dict[str, ErrorDetails]] = {}
    too_short: dict[Location, str] = {}
    for error in exc.errors(include_url=False):
        loc = data_location(error["loc"], error["type"], data)
        message = error_message(error)
        problems.setdefault(loc, {}).setdefault(message, error)  # a union's branches fail at the same place: one
        if error["type"] == "too_short":
            too_short[loc] = message
    # A list whose items failed also says it is too short after validation: noise beside the real problems.
    containers = {loc[:depth] for loc in problems for depth in range(len(loc))}
    for loc, message in too_short.items():
        if loc in containers:
            del problems[loc][message]
            if not problems[loc]:
                del problems[loc]
    return [(loc, list(errors.values())) for loc, errors in problems.items()]


def format_problems(
    path: Path, problems: Sequence[tuple[Location, str]], data: Any, prefix: str = "", line_of: LineOf | None = None
) -> str:
    """'FILE: N problem(s)' and one line per problem: its line, the item and field it concerns, what is wrong."""
    lines = [f"{path}: {prefix}{len(problems)} problem(s)"]
    for loc, message in problems[:_LISTED_PROBLEMS]:
        lines.append(f"  - {where(loc, data, line_of)}: {message}")
    if len(problems) > _LISTED_PROBLEMS:
        lines.append(f"  - … and {len(problems) - _LISTED_PROBLEMS} more")
    return "\n".join(lines)


@dataclass(frozen=True)
class FileProblems:
    """A file's validation problems as an error says them: in English as ``format_problems`` writes them, in
    Vietnamese each problem in plain words (auditor.schema_said) after its line, item and field."""

    path: Path
    errors: tuple[tuple[Location, tuple[ErrorDetails, ...] | Said], ...]  # a schema's errors, or a check of ours
    data: Any
    prefix: Said | None = None  # what kind of file, when the path alone does not say it ("mapping: ")
    line_of: LineOf | None = None

    def text(self, lang: Lang) -> str:
        prefix = self.prefix.text(lang) + ": " if self.prefix is not None else ""
        if lang == "en":
            listed = [(loc, _problem_text(errors, lang)) for loc, errors in self.errors]
            return format_problems(self.path, listed, self.data, prefix, self.line_of)
        lines = [said("err_file_problems", path=str(self.path), prefix=prefix, count=len(self.errors)).text(lang)]
        for loc, errors in self.errors[:_LISTED_PROBLEMS]:
            line = self.line_of(loc) if self.line_of is not None else None
            at = said("err_file_problem_line", line=line).text(lang) + " " if line is not None else ""
            lines.append(f"  - {at}{describe_location(loc, self.data)}: {_problem_text(errors, lang)}")
        if len(self.errors) > _LISTED_PROBLEMS:
            lines.append("  - " + said("err_file_problems_more", count=len(self.errors) - _LISTED_PROBLEMS).text(lang))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text("en")


def _problem_text(problem: tuple[ErrorDetails, ...] | Said, lang: Lang) -> str:
    from auditor.schema_said import errors_said  # it reads this module's helpers

    if isinstance(problem, Said):
        return problem.text(lang)
    return "; or: ".join(map(error_message, problem)) if lang == "en" else errors_said(problem).text(lang)


def validation_problems_said(
    path: Path, exc: ValidationError, data: Any, prefix: Said | None = None, line_of: LineOf | None = None
) -> FileProblems:
    """A file's validation error, to be raised as an error's words (see auditor.errors)."""
    errors = tuple((loc, tuple(found)) for loc, found in validation_errors(exc, data))
    return FileProblems(path, errors, data, prefix, line_of)


def where(loc: Location, data: Any, line_of: LineOf | None = None) -> str:
    """'line 12: agencies[0] (id=x) → hosts[1] (name=y) → port', the line when it is known."""
    line = line_of(loc) if line_of is not None else None
    return (f"line {line}: " if line is not None else "") + describe_location(loc, data)


def format_validation_error(
    path: Path, exc: ValueError, data: Any, prefix: str = "", line_of: LineOf | None = None
) -> str:
    if not isinstance(exc, ValidationError):
        return f"{path}: {prefix}{exc}"
    return format_problems(path, validation_problems(exc, data), data, prefix, line_of)
