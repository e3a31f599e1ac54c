"""Typed expectations ("matchers") and their pure evaluation against a probe's output.

A check's `expect:` is exactly one of these keys; `all`, `any` and `none` compose them:

    equals: "no"                      trimmed output equals the value (case-insensitive by default)
    regex: "^(no|prohibit-password)$" the pattern is found in the output (multi-line mode)
    number: {op: "<=", value: 300}    every non-empty output line is a number satisfying op
    contains: [a, b]                  every item is one of the output lines
    excludes: [a, b]                  no item is one of the output lines
    subset_of: [a, b]                 every output line is one of the items (an input holding
                                      "a,b,c" counts as three items); no output passes
    empty: true | false               the output is empty / is not empty
    all: [...] | any: [...] | none: [...]

Truth table for the composites (as in Wazuh SCA): `all` passes when every child passes (and is
vacuously true for no children, which validation forbids); `any` when at least one passes; `none`
when no child passes. Values may name a profile input instead of a literal: `{input: idle_timeout}`.

Each expectation says what it asks in two ways: `describe` gives a compact, language-neutral notation for
machines and logs (`subset of [2222]`); `explain` gives words for people in Vietnamese and English, from
auditor/locale/expectations.yml ("chỉ gồm các giá trị: 2222"). A regex may carry `means:` — what the
pattern stands for in words — since a pattern itself is not something a reader should have to decode.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from auditor.messages import phrase
from auditor.vocabulary import LocalizedText

Scalar = int | float | str | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputRef(_Strict):
    input: str = Field(pattern=r"^[a-z][a-z0-9_]*$")


Value = Scalar | InputRef
# Text values must be quoted in YAML: an unquoted `no` is a boolean there, and we refuse it.
TextValue = str | InputRef
NumberValue = int | float | InputRef
Inputs = dict[str, Scalar]


def resolve(value: Value, inputs: Inputs) -> Scalar:
    if isinstance(value, InputRef):
        return inputs[value.input]  # presence is checked when content is loaded
    return value


def _words(key: str, **params: object) -> LocalizedText:
    return phrase("expectations", key, **params)


def _listed(values: list[str]) -> str:
    return ", ".join(f"“{value}”" for value in values)


def _joined(parts: list[LocalizedText]) -> LocalizedText:
    return LocalizedText(vi="; ".join(p.vi for p in parts), en="; ".join(p.en for p in parts))


@dataclass(frozen=True)
class MatchOutcome:
    """ok, plus the message key (in auditor/locale/messages.yml) and its parameters."""

    ok: bool
    key: str
    params: dict[str, str] = field(default_factory=dict)
    # the values a failure names: for `none` the output lines that satisfy a forbidden condition; for
    # `contains` the items missing; for `excludes` and `subset_of` the items found that must not be there
    lines: tuple[str, ...] = ()
    explained: LocalizedText | None = None  # for `any`/`none`: the part that failed, in words


@dataclass(frozen=True)
class ProbeOutput:
    text: str

    @property
    def stripped(self) -> str:
        return self.text.strip()

    @property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.text.splitlines() if line.strip()]


def _norm(text: str, ignore_case: bool) -> str:
    return text.casefold() if ignore_case else text


class Equals(_Strict):
    equals: TextValue
    ignore_case: bool = True

    def describe(self, inputs: Inputs) -> str:
        return f'= "{resolve(self.equals, inputs)}"'

    def explain(self, inputs: Inputs) -> LocalizedText:
        return _words("equals", value=resolve(self.equals, inputs))

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        want = str(resolve(self.equals, inputs))
        ok = _norm(output.stripped, self.ignore_case) == _norm(want, self.ignore_case)
        return MatchOutcome(ok, "equals", {"value": want})


class Regex(_Strict):
    regex: str
    ignore_case: bool = False
    means: LocalizedText | None = None  # the pattern in words, shown instead of the pattern

    @field_validator("regex")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except (re.error, OverflowError) as exc:  # OverflowError: a repeat count beyond what re can hold
            raise ValueError(f"invalid regular expression: {exc}") from None
        except RecursionError:
            raise ValueError("invalid regular expression: nested too deeply") from None
        return pattern

    def describe(self, inputs: Inputs) -> str:
        return f"~ /{self.regex}/" + ("i" if self.ignore_case else "")

    def explain(self, inputs: Inputs) -> LocalizedText:
        if self.means is not None:
            return self.means
        return _words("regex_ignore_case" if self.ignore_case else "regex", pattern=self.regex)

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        flags = re.MULTILINE | (re.IGNORECASE if self.ignore_case else 0)
        ok = re.search(self.regex, output.stripped, flags) is not None
        return MatchOutcome(ok, "regex", {"pattern": self.regex})


_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


class NumberSpec(_Strict):
    op: Literal["<", "<=", "==", "!=", ">=", ">"]
    value: NumberValue


class Number(_Strict):
    number: NumberSpec

    def describe(self, inputs: Inputs) -> str:
        return f"{self.number.op} {resolve(self.number.value, inputs)}"

    def bound(self, inputs: Inputs) -> LocalizedText:
        """The comparison in words: "không quá 300" / "at most 300"."""
        return _words(f"bound.{self.number.op}", value=_fmt_number(float(resolve(self.number.value, inputs))))

    def explain(self, inputs: Inputs) -> LocalizedText:
        return _words("number", bound=self.bound(inputs))

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        bound = float(resolve(self.number.value, inputs))
        params = {"op": self.number.op, "value": _fmt_number(bound)}
        if not output.lines:
            return MatchOutcome(False, "no_value", params)
        for line in output.lines:
            try:
                observed = float(line)
            except ValueError:
                return MatchOutcome(False, "not_a_number", {**params, "line": line})
            if math.isnan(observed) or not _OPS[self.number.op](observed, bound):
                return MatchOutcome(False, "number", {**params, "line": line})
        return MatchOutcome(True, "number", params)


def _fmt_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


class Contains(_Strict):
    contains: tuple[TextValue, ...] = Field(min_length=1)
    ignore_case: bool = False

    def describe(self, inputs: Inputs) -> str:
        return "contains [" + ", ".join(str(resolve(v, inputs)) for v in self.contains) + "]"

    def explain(self, inputs: Inputs) -> LocalizedText:
        return _words("contains", items=_listed([str(resolve(v, inputs)) for v in self.contains]))

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        have = {_norm(line, self.ignore_case) for line in output.lines}
        missing = [str(resolve(v, inputs)) for v in self.contains]
        missing = [v for v in missing if _norm(v, self.ignore_case) not in have]
        return MatchOutcome(not missing, "contains", {"missing": ", ".join(missing)}, tuple(missing))


class Excludes(_Strict):
    excludes: tuple[TextValue, ...] = Field(min_length=1)
    ignore_case: bool = False

    def describe(self, inputs: Inputs) -> str:
        return "excludes [" + ", ".join(str(resolve(v, inputs)) for v in self.excludes) + "]"

    def explain(self, inputs: Inputs) -> LocalizedText:
        return _words("excludes", items=_listed([str(resolve(v, inputs)) for v in self.excludes]))

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        have = {_norm(line, self.ignore_case) for line in output.lines}
        found = [str(resolve(v, inputs)) for v in self.excludes]
        found = [v for v in found if _norm(v, self.ignore_case) in have]
        return MatchOutcome(not found, "excludes", {"found": ", ".join(found)}, tuple(found))


class SubsetOf(_Strict):
    subset_of: tuple[TextValue, ...] = Field(min_length=1)
    ignore_case: bool = False

    def _allowed(self, inputs: Inputs) -> list[str]:
        items: list[str] = []
        for value in self.subset_of:
            resolved = str(resolve(value, inputs))
            parts = resolved.split(",") if isinstance(value, InputRef) else [resolved]
            items.extend(part.strip() for part in parts if part.strip())
        return items

    def describe(self, inputs: Inputs) -> str:
        return "subset of [" + ", ".join(self._allowed(inputs)) + "]"

    def explain(self, inputs: Inputs) -> LocalizedText:
        allowed = self._allowed(inputs)
        return _words("subset_of", items=_listed(allowed)) if allowed else _words("subset_of_nothing")

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        allowed = {_norm(item, self.ignore_case) for item in self._allowed(inputs)}
        extra = [line for line in output.lines if _norm(line, self.ignore_case) not in allowed]
        distinct = tuple(dict.fromkeys(extra))
        return MatchOutcome(not extra, "subset_of", {"found": ", ".join(distinct)}, distinct)


class Empty(_Strict):
    empty: bool

    def describe(self, inputs: Inputs) -> str:
        return "empty" if self.empty else "non-empty"

    def explain(self, inputs: Inputs) -> LocalizedText:
        return _words("empty" if self.empty else "non_empty")

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        is_empty = output.stripped == ""
        return MatchOutcome(is_empty == self.empty, "empty" if self.empty else "non_empty")


class AllOf(_Strict):
    all: tuple[Expectation, ...] = Field(min_length=1)

    def describe(self, inputs: Inputs) -> str:
        return "all(" + "; ".join(child.describe(inputs) for child in self.all) + ")"

    def explain(self, inputs: Inputs) -> LocalizedText:
        if len(self.all) == 1:
            return self.all[0].explain(inputs)
        return _words("all", parts=_joined([child.explain(inputs) for child in self.all]))

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        for child in self.all:
            outcome = child.match(output, inputs)
            if not outcome.ok:
                return outcome  # the first failing part explains the failure
        return MatchOutcome(True, "all")


class AnyOf(_Strict):
    any: tuple[Expectation, ...] = Field(min_length=1)

    def describe(self, inputs: Inputs) -> str:
        return "any(" + "; ".join(child.describe(inputs) for child in self.any) + ")"

    def explain(self, inputs: Inputs) -> LocalizedText:
        if len(self.any) == 1:
            return self.any[0].explain(inputs)
        return _words("any", parts=_joined([child.explain(inputs) for child in self.any]))

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        ok = any(child.match(output, inputs).ok for child in self.any)
        return MatchOutcome(ok, "any", {"expected": self.describe(inputs)}, explained=self.explain(inputs))


class NoneOf(_Strict):
    none: tuple[Expectation, ...] = Field(min_length=1)

    def describe(self, inputs: Inputs) -> str:
        return "none(" + "; ".join(child.describe(inputs) for child in self.none) + ")"

    def explain(self, inputs: Inputs) -> LocalizedText:
        return _words("none", parts=_joined([child.explain(inputs) for child in self.none]))

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        ok = not any(child.match(output, inputs).ok for child in self.none)
        if ok:
            return MatchOutcome(ok, "none", {"expected": self.describe(inputs)})
        lines = self.forbidden_lines(output, inputs)
        return MatchOutcome(ok, "none", {"expected": self.describe(inputs)}, lines, self.explain(inputs))

    def forbidden_lines(self, output: ProbeOutput, inputs: Inputs) -> tuple[str, ...]:
        """The output lines that on their own satisfy a forbidden condition: what a failure points at."""
        return tuple(
            line for line in output.lines if any(child.match(ProbeOutput(line), inputs).ok for child in self.none)
        )


_KEYS = ("equals", "regex", "number", "contains", "excludes", "subset_of", "empty", "all", "any", "none")


def _which(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in _KEYS:
            if key in value:
                return key
        return None
    for key, model in _MODELS.items():
        if isinstance(value, model):
            return key
    return None


Expectation = Annotated[
    Annotated[Equals, Tag("equals")]
    | Annotated[Regex, Tag("regex")]
    | Annotated[Number, Tag("number")]
    | Annotated[Contains, Tag("contains")]
    | Annotated[Excludes, Tag("excludes")]
    | Annotated[SubsetOf, Tag("subset_of")]
    | Annotated[Empty, Tag("empty")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NoneOf, Tag("none")],
    Discriminator(
        _which,
        custom_error_type="unknown_expectation",
        custom_error_message="expectation must have exactly one of the keys: " + ", ".join(_KEYS),
    ),
]

_MODELS: dict[str, type[BaseModel]] = {
    "equals": Equals,
    "regex": Regex,
    "number": Number,
    "contains": Contains,
    "excludes": Excludes,
    "subset_of": SubsetOf,
    "empty": Empty,
    "all": AllOf,
    "any": AnyOf,
    "none": NoneOf,
}

for _model in (AllOf, AnyOf, NoneOf):
    _model.model_rebuild()


def input_names(expectation: BaseModel) -> set[str]:
    """Every profile input an expectation refers to, at any depth."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, InputRef):
            names.add(node.input)
        elif isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name))
        elif isinstance(node, tuple | list):
            for item in node:
                walk(item)

    walk(expectation)
    return names
