"""Generators of hostile input files (YAML documents, text, bytes) and the checks every loader error passes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from auditor.errors import ConfigError

# Text that has broken parsers before: control characters, bidi overrides, escapes, path tricks, numbers.
AWKWARD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\t",
        "\n",
        "\r\n",
        "\x1b[31mred\x1b[0m",
        "\u202egnp.exe",
        "\ufeff",
        "\x85",
        "é" * 3,
        "Báo Sóc Trăng",
        "~",
        "~root/.ssh/id",
        "~nobody\x00/x",
        "~no-such-user/id",
        "../../etc/passwd",
        "/etc/shadow",
        "10.200.1.999",
        "256.1.1.1",
        "::g",
        "10.0.0.0/33",
        "10.0.0.1/24",
        "-1",
        "0x16",
        "1e999",
        ".nan",
        "yes",
        "null",
        "&a",
        "*a",
        "!!python/object:os.system",
        "{",
        "]",
        "'",
        '"',
        "%s%n",
        "${IFS}",
    ]
)
TEXT = st.one_of(
    st.text(max_size=24),
    AWKWARD_TEXT,
    st.sampled_from([1_000, 65_537, 70_000]).map(lambda n: "x" * n),  # huge strings
    st.builds("".join, st.lists(st.sampled_from("abcz019_-"), max_size=12)),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    TEXT,
    st.dates(),
    st.datetimes(),
)
KEYS = st.one_of(TEXT, st.integers(-3, 3), st.booleans(), st.none(), st.dates())
# Any value a YAML file can hold: wrong types, nested containers, unicode.
ANY_VALUE = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=12,
)


def wild(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a valid value, sometimes anything at all."""
    return st.one_of(valid, valid, valid, ANY_VALUE)


@st.composite
def mutated_mapping(draw: st.DrawFn, mapping: dict[Any, Any]) -> dict[Any, Any]:
    """Now and then a key dropped, a value swapped for anything, an extra key (some near-misses of real
    ones); often nothing, so that some documents stay valid and reach the checks made after the schema."""
    result = dict(mapping)
    for key in list(result):
        change = draw(st.integers(0, 11))
        if change == 0:
            del result[key]
        elif change == 1:
            result[key] = draw(ANY_VALUE)
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 0, 1, 2]))):
        near_misses = [str(k).upper() for k in mapping]
        key = draw(st.one_of(KEYS, st.sampled_from(near_misses)) if near_misses else KEYS)
        result[key] = draw(ANY_VALUE)
    return result


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump(data: Any, flow: bool | None = None) -> str:
    """The data as YAML (block, flow or mixed style), unicode kept as written."""
    return yaml.dump(
        data, Dumper=_DUMPER, allow_unicode=True, sort_keys=False, default_flow_style=flow, width=1_000_000
    )


# Fragments that change what a YAML document means or whether it parses.
_YAML_FRAGMENTS = [
    ": ",
    "- ",
    "\t",
    "&a ",
    "*a",
    "*zz",
    "!!python/object/apply:os.system ['id']\n",
    "!!binary AAAA",
    "!!set {a, b}",
    "!!timestamp x",
    "<<: *a\n",
    "{",
    "}",
    "[",
    "]",
    "'",
    '"',
    "? ",
    "|\n",
    ">-\n",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "%TAG ! tag:x,2000:\n",
    "\x00",
    "\ufeff",
    "\x85",
    "\u2028",
    "\x7f",
    "#",
    "\\",
    "\n  ",
    "\n",
]


# Plain scalars and tags whose construction fails after parsing (impossible dates, bad numbers, unknown tags).
RAW_SCALARS = [
    "2026-02-30",
    "2026-13-45",
    "2026-01-01T25:61:61",
    "2026-01-01 10:00:00 +99:00",
    "!!timestamp x",
    "!!int x",
    "!!int 0x",
    "!!float x",
    "!!bool maybe",
    "!!binary x",
    "!!binary '@@'",
    "!!null x",
    "!!set [1]",
    "!!str [1]",
    "!!map [1]",
    "!custom x",
    "!!python/name:os.system",
    "1:2:3",
    "0o99",
    ".inf",
    "~",
    "*undefined",
    "&a [*a]",
]


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> str:
    """Edits of a document's text: slices removed, lines repeated, YAML syntax and control characters inserted,
    values replaced by raw scalars."""
    for _ in range(draw(st.integers(1, 4))):
        lines = text.split("\n")
        valued = [i for i, line in enumerate(lines) if ": " in line]
        op = draw(st.integers(0, 4))
        if op == 4 and valued:
            i = draw(st.sampled_from(valued))
            key = lines[i].split(": ", 1)[0]
            lines[i] = f"{key}: {draw(st.sampled_from(RAW_SCALARS))}"
            text = "\n".join(lines)
            continue
        if op == 0 and text:
            start = draw(st.integers(0, len(text) - 1))
            text = text[:start] + text[start + draw(st.integers(1, 12)) :]
        elif op == 1:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.one_of(st.sampled_from(_YAML_FRAGMENTS), st.text(max_size=4))) + text[at:]
        elif op == 2 and lines:
            i = draw(st.integers(0, len(lines) - 1))
            text = "\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])
        else:
            text = draw(st.sampled_from(["", "  ", "x: "])) + text  # re-indented or pushed under a key
    return text


@st.composite
def alias_bomb(draw: st.DrawFn) -> str:
    """A small "billion laughs": each level lists the previous one several times (kept small here; the
    limit itself is tested with a large one in the unit tests)."""
    fan = draw(st.integers(2, 4))
    depth = draw(st.integers(1, 5))
    leaf = draw(st.sampled_from(["x", "{empty: true}", "{a: 1}", "[1, 2]", "'10.0.0.1'"]))
    lines = [f"l0: &l0 {leaf}"]
    for level in range(1, depth + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * fan)}]")
    return "\n".join(lines) + "\n"


def byte_soup() -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, and text with invalid UTF-8 spliced in."""
    return st.one_of(
        st.binary(max_size=400),
        st.tuples(
            st.text(max_size=80), st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
        ).map(lambda parts: parts[0].encode() + parts[1] + parts[0].encode()),
        st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff\x00a"]).map(lambda bom: bom + b"a: 1\n"),
        st.integers(1, 1500).map(lambda depth: b"a: " + b"[" * depth + b"]" * depth + b"\n"),
        st.integers(1, 1500).map(lambda depth: b"a: " + b"{b: " * depth + b"1" + b"}" * depth + b"\n"),
    )


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    path.write_bytes(content)
    return path


# Pydantic's names for its own validators must never reach a user.
_INTERNALS = re.compile(
    r"lax-or-strict|function-(plain|after|before|wrap)\[|json-or-python|is-instance\[|tagged-union\[|"
    r"nullable\[|definition-ref|model-fields|errors\.pydantic\.dev|For further information"
)
_PROBLEM_COUNT = re.compile(r": (\d+) problem\(s\)$", re.MULTILINE)


def assert_clear_error(error: ConfigError, path: Path) -> str:
    """The error names the file, lists what it counts and shows no validator internals; returns the message."""
    message = str(error)
    assert message.strip(), "empty error message"
    assert str(path) in message, f"the message does not name the file:\n{message}"
    assert not _INTERNALS.search(message), f"validator internals in the message:\n{message}"
    for match in _PROBLEM_COUNT.finditer(message):
        listed = message[match.end() :].split("\n")[1:]
        items = [line for line in listed[: min(int(match.group(1)), 21)] if line.startswith("  - ")]
        assert items, f"a problem count without the problems:\n{message}"
    return message
