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
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

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


def _show(value: Value) -> str:
    return f"${{{value.input}}}" if isinstance(value, InputRef) else str(value)


@dataclass(frozen=True)
class MatchOutcome:
    """ok, plus the message key (in auditor/locale/messages.yml) and its parameters."""

    ok: bool
    key: str
    params: dict[str, str] = field(default_factory=dict)


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

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        want = str(resolve(self.equals, inputs))
        ok = _norm(output.stripped, self.ignore_case) == _norm(want, self.ignore_case)
        return MatchOutcome(ok, "equals", {"value": want})


class Regex(_Strict):
    regex: str
    ignore_case: bool = False

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

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        have = {_norm(line, self.ignore_case) for line in output.lines}
        missing = [str(resolve(v, inputs)) for v in self.contains]
        missing = [v for v in missing if _norm(v, self.ignore_case) not in have]
        return MatchOutcome(not missing, "contains", {"missing": ", ".join(missing)})


class Excludes(_Strict):
    excludes: tuple[TextValue, ...] = Field(min_length=1)
    ignore_case: bool = False

    def describe(self, inputs: Inputs) -> str:
        return "excludes [" + ", ".join(str(resolve(v, inputs)) for v in self.excludes) + "]"

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        have = {_norm(line, self.ignore_case) for line in output.lines}
        found = [str(resolve(v, inputs)) for v in self.excludes]
        found = [v for v in found if _norm(v, self.ignore_case) in have]
        return MatchOutcome(not found, "excludes", {"found": ", ".join(found)})


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

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        allowed = {_norm(item, self.ignore_case) for item in self._allowed(inputs)}
        extra = [line for line in output.lines if _norm(line, self.ignore_case) not in allowed]
        return MatchOutcome(not extra, "subset_of", {"found": ", ".join(dict.fromkeys(extra))})


class Empty(_Strict):
    empty: bool

    def describe(self, inputs: Inputs) -> str:
        return "empty" if self.empty else "non-empty"

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        is_empty = output.stripped == ""
        return MatchOutcome(is_empty == self.empty, "empty" if self.empty else "non_empty")


class AllOf(_Strict):
    all: tuple[Expectation, ...] = Field(min_length=1)

    def describe(self, inputs: Inputs) -> str:
        return "all(" + "; ".join(child.describe(inputs) for child in self.all) + ")"

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

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        ok = any(child.match(output, inputs).ok for child in self.any)
        return MatchOutcome(ok, "any", {"expected": self.describe(inputs)})


class NoneOf(_Strict):
    none: tuple[Expectation, ...] = Field(min_length=1)

    def describe(self, inputs: Inputs) -> str:
        return "none(" + "; ".join(child.describe(inputs) for child in self.none) + ")"

    def match(self, output: ProbeOutput, inputs: Inputs) -> MatchOutcome:
        ok = not any(child.match(output, inputs).ok for child in self.none)
        return MatchOutcome(ok, "none", {"expected": self.describe(inputs)})


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
