"""Property: any content file an organisation adds (a check, a shared source, a profile, a catalogue)
loads, or fails with a ContentError naming the file (and, for a bad field, the check id, the field and its
line) — never with any other exception."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from auditor.content import loader
from auditor.content.checks import Check
from auditor.content.loader import Content, builtin_content_dir, load_content
from auditor.errors import ContentError
from tests.fuzz.budget import examples
from tests.fuzz.documents import (
    ANY_VALUE,
    alias_bomb,
    assert_clear_error,
    byte_soup,
    dump,
    mutated_mapping,
    mutated_text,
    wild,
    write,
)

LOWER = "abcdefghijklmnopqrstuvwxyz"
WORDS = st.text(LOWER + "0123456789", min_size=1, max_size=6)
CHECK_IDS = st.builds(
    lambda head, words: "_".join([head, *words]),
    st.text(LOWER, min_size=1, max_size=6),
    st.lists(WORDS, min_size=1, max_size=3),
)
LOCALIZED = st.fixed_dictionaries({"vi": st.text(min_size=1, max_size=20), "en": st.text(min_size=1, max_size=20)})
SOURCES = ["sshd_effective", "sysctl_all", "login_defs", "listening_sockets", "filesystem_walk"]
TEXT_INPUTS = ["backup_dirs", "allowed_ports_web", "host_allowed_ports"]
NUMBER_INPUTS = ["password_min_length", "log_retention_days", "idle_timeout_seconds"]

TEXT_VALUE = st.one_of(st.text(max_size=12), st.sampled_from(TEXT_INPUTS).map(lambda name: {"input": name}))
NUMBER_VALUE = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False),
    st.sampled_from(NUMBER_INPUTS).map(lambda name: {"input": name}),
)
LEAF_EXPECTATIONS = st.one_of(
    st.builds(lambda value: {"equals": value}, TEXT_VALUE),
    st.sampled_from(["^no$", "(?i)yes|no", "[0-9]+", r"\bx\b"]).map(lambda pattern: {"regex": pattern}),
    st.builds(
        lambda op, value: {"number": {"op": op, "value": value}},
        st.sampled_from(["<", "<=", "==", "!=", ">=", ">"]),
        NUMBER_VALUE,
    ),
    st.builds(
        lambda key, items: {key: items},
        st.sampled_from(["contains", "excludes", "subset_of"]),
        st.lists(TEXT_VALUE, min_size=1, max_size=3),
    ),
    st.booleans().map(lambda empty: {"empty": empty}),
)
EXPECTATIONS = st.recursive(
    LEAF_EXPECTATIONS,
    lambda children: st.builds(
        lambda key, items: {key: items},
        st.sampled_from(["all", "any", "none"]),
        st.lists(children, min_size=1, max_size=3),
    ),
    max_leaves=6,
)
SHELL_PROBES = st.one_of(
    st.fixed_dictionaries(
        {
            "command": st.sampled_from(
                ["cat /etc/motd", "sshd -T | grep -i permitrootlogin", 'echo "$AUDITOR_INPUT_BACKUP_DIRS"']
            )
        },
        optional={
            "timeout": st.floats(0.1, 600),
            "output_cap": st.integers(1, 16 * 1024 * 1024),
            "slow": st.booleans(),
            "inputs": st.lists(st.sampled_from(TEXT_INPUTS), max_size=2, unique=True),
        },
    ),
    st.fixed_dictionaries(
        {"source": st.sampled_from(SOURCES)},
        optional={
            "select": st.one_of(
                st.fixed_dictionaries(
                    {"key": st.one_of(WORDS, st.lists(WORDS, min_size=1, max_size=3))},
                    optional={
                        "lower": st.booleans(),
                        "split": st.just(","),
                        "last": st.booleans(),
                        "default": st.text(max_size=5),
                    },
                ),
                st.just({"parse": "listening_ports"}),
            )
        },
    ),
)
NETWORK_PROBES = st.fixed_dictionaries(
    {
        "kind": st.just("network"),
        "agent": st.sampled_from(["nmap", "tls", "ssh", "web", "exposure"]),
        "observe": st.text(LOWER + "_.-", min_size=1, max_size=12),
    },
    optional={"inside": st.just("listening_sockets"), "timeout": st.floats(1, 3600)},
)
COMMON = {"id": CHECK_IDS, "title": LOCALIZED, "severity": st.sampled_from(["low", "medium", "high", "critical"])}
ENDING = {"rationale": LOCALIZED, "remediation": LOCALIZED}
VALID_CHECKS = st.one_of(
    st.fixed_dictionaries({**COMMON, "probe": SHELL_PROBES, "expect": EXPECTATIONS, **ENDING}),
    st.fixed_dictionaries(
        {**COMMON, "scope": st.just("network"), "probe": NETWORK_PROBES, "expect": EXPECTATIONS, **ENDING}
    ),
    st.fixed_dictionaries(
        {**COMMON, "scope": st.sampled_from(["host", "agency"]), "evidence_required": LOCALIZED, **ENDING}
    ),
)
VALID_SOURCES = st.fixed_dictionaries(
    {"id": st.builds(lambda word: f"org_{word}", WORDS), "title": LOCALIZED, "command": st.just("cat /etc/hosts")},
    optional={
        "timeout": st.floats(0.1, 600),
        "slow": st.booleans(),
        "os_families": st.lists(st.sampled_from(["debian", "rhel"])),
    },
)
VALID_PROFILES = st.fixed_dictionaries(
    {
        "id": st.builds(lambda word: f"org-{word}", WORDS),
        "title": LOCALIZED,
        "inputs": st.dictionaries(
            st.text(LOWER, min_size=1, max_size=6),
            st.fixed_dictionaries(
                {
                    "default": st.one_of(st.integers(), st.text(max_size=5)),
                    "description": LOCALIZED,
                    "origin": st.just("ours"),
                }
            ),
            max_size=3,
        ),
    }
)
VALID_CATALOGUES = st.fixed_dictionaries(
    {
        "framework": st.builds(lambda word: f"ORG {word}", WORDS),
        "title": LOCALIZED,
        "source": st.just("our own"),
        "groups": st.just([{"id": "1", "heading": {"vi": "Nhóm", "en": "Group"}}]),
        "clauses": st.lists(
            st.fixed_dictionaries(
                {
                    "id": st.sampled_from(["1.1", "1.2", "1.2.3"]),
                    "group": st.just("1"),
                    "heading": LOCALIZED,
                    "confidence": st.sampled_from(["confirmed", "heading_only", "inferred"]),
                    "summary": LOCALIZED,
                },
                optional={"checks": st.lists(CHECK_IDS, max_size=2), "manual": st.lists(CHECK_IDS, max_size=2)},
            ),
            min_size=1,
            max_size=2,
            unique_by=lambda clause: clause["id"],
        ),
    }
)


@pytest.fixture(scope="module")
def base_content() -> Iterator[Path]:
    """A small stand-in for the shipped content (its profile, its shared sources, a manual item and a
    catalogue), so that each example loads a handful of files, through the same loading code."""
    with tempfile.TemporaryDirectory(prefix="content-base-") as name:
        base, shipped = Path(name), builtin_content_dir()
        for relative in [
            "profiles/level3.yml",
            *(f"sources/{s}.yml" for s in SOURCES),
            "manual/mgmt_policy_document.yml",
        ]:
            write(base / relative, (shipped / relative).read_bytes())
        write(
            base / "catalogues/base.yml",
            dump(
                {
                    "framework": "BASE",
                    "title": {"vi": "Cơ sở", "en": "Base"},
                    "source": "tests",
                    "groups": [{"id": "1", "heading": {"vi": "Nhóm", "en": "Group"}}],
                    "clauses": [
                        {
                            "id": "1.1",
                            "group": "1",
                            "heading": {"vi": "Điều", "en": "Clause"},
                            "confidence": "inferred",
                            "summary": {"vi": "Tóm tắt", "en": "Summary"},
                            "manual": ["mgmt_policy_document"],
                        }
                    ],
                }
            ),
        )
        load_over(base)  # the base itself is valid
        yield base


def load_over(base: Path | None, root: Path | None = None) -> Content:
    """Load `root` as an organisation's content over `base` (None: over the shipped content)."""
    extra = [root] if root is not None else []
    if base is None:
        return load_content(extra)
    with patch.object(loader, "builtin_content_dir", return_value=base):
        return load_content(extra)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="content-fuzz-") as name:
        yield Path(name)


def _fresh(workdir: Path) -> Path:
    shutil.rmtree(workdir / "org", ignore_errors=True)
    return workdir / "org"


def _load(base: Path | None, root: Path, path: Path) -> None:
    try:
        load_over(base, root)
    except ContentError as error:
        event("refused: " + ("schema" if "problem(s)" in str(error) else "file or reference"))
        assert_clear_error(error, path)
    else:
        event("loaded")


@st.composite
def plausible_content_file(draw: st.DrawFn) -> tuple[str, Any]:
    """(where the file goes, what it holds): any kind of content, its fields mutated."""
    kind = draw(st.sampled_from(["linux", "manual", "network", "sources", "profiles", "catalogues"]))
    strategy = {"sources": VALID_SOURCES, "profiles": VALID_PROFILES, "catalogues": VALID_CATALOGUES}.get(
        kind, VALID_CHECKS
    )
    document = draw(strategy)
    for key, value in list(document.items()):
        if isinstance(value, dict) and draw(st.booleans()):
            document[key] = draw(mutated_mapping(value))
    document = draw(wild(st.just(draw(mutated_mapping(document)))))
    stem = document.get("id") if isinstance(document, dict) else None
    if not isinstance(stem, str) or not re.fullmatch(r"[\w.-]{1,80}", stem) or draw(st.integers(0, 9)) == 0:
        stem = draw(st.sampled_from(["x", "org_check", "mgmt_policy_document", "sshd_effective", "level3"]))
    return f"{kind}/{stem}.yml", document


@settings(max_examples=examples(1500))
@given(case=plausible_content_file(), flow=st.sampled_from([None, True, False]))
def test_plausible_content_loads_or_fails_clearly(
    base_content: Path, workdir: Path, case: tuple[str, Any], flow: bool | None
) -> None:
    relative, document = case
    root = _fresh(workdir)
    path = write(root / relative, dump(document, flow))
    _load(base_content, root, path)


@settings(max_examples=examples(800))
@given(data=st.data())
def test_damaged_content_text_loads_or_fails_clearly(base_content: Path, workdir: Path, data: st.DataObject) -> None:
    relative, document = data.draw(plausible_content_file())
    text = dump(document, data.draw(st.sampled_from([None, True, False])))
    content: str | bytes = data.draw(
        st.one_of(
            mutated_text(text),
            alias_bomb().map(lambda bomb: bomb + text),
            byte_soup(),
            ANY_VALUE.map(dump),
            st.integers(1, 400).map(
                lambda depth: text + "\nexpect: " + "{all: [" * depth + "{empty: true}" + "]}" * depth
            ),
            st.sampled_from(["(" * 2000 + ")" * 2000, "a{99999999999}", "[", "(?<", "\\"]).map(
                lambda pattern: text + "\nexpect: " + dump({"regex": pattern}, flow=True)
            ),
        )
    )
    root = _fresh(workdir)
    _load(base_content, root, write(root / relative, content))


@settings(max_examples=examples(300))
@given(check=VALID_CHECKS)
def test_valid_checks_load_as_written(base_content: Path, workdir: Path, check: dict[str, Any]) -> None:
    root = _fresh(workdir)
    write(root / "linux" / f"{check['id']}.yml", dump(check))
    content = load_over(base_content, root)
    assert content.checks[check["id"]] == Check.model_validate(check)


# --------------------------------------------------------------------- one bad field: named precisely

BAD_CHECK_FIELDS: dict[str, list[Any]] = {
    "title": ["Tiêu đề", {"vi": "a"}, {"vi": "", "en": "b"}, None],
    "severity": ["huge", 5, None, ["high"]],
    "scope": ["planet", 1],
    "applies_to": [{"os_families": ["windows"]}, {"roles": ["Bad Role"]}, {"hosts": ["a"]}, "all"],
    "probe": [
        {"command": ""},
        {"command": 5},
        {},
        {"kind": "laser", "command": "x"},
        {"command": "x", "source": "sshd_effective"},
        {"command": "x", "timeout": 0},
        {"command": "x", "timeout": 601},
        {"command": "x", "output_cap": 0},
        {"command": "x", "inputs": ["Bad"]},
        {"command": "x", "select": {"key": "a"}},
        {"source": "sshd_effective", "select": {"key": [], "parse": "nope"}},
        {"source": "Bad Source"},
        "cat /etc/motd",
    ],
    "expect": [
        {},
        {"regex": "("},
        {"regex": "a{99999999999}"},
        {"regex": "(" * 2000 + ")" * 2000},
        {"number": {"op": "=~", "value": 1}},
        {"number": {"op": "<", "value": "ten"}},
        {"contains": []},
        {"equals": 5},
        {"empty": "x"},
        {"all": []},
        {"bogus": 1},
        {"equals": "a", "regex": "b", "bogus": 1},
        {"equals": {"input": "Bad Name"}},
        "no",
    ],
    "configured": [{"bogus": 1}, "x"],
    "rationale": [{"vi": "a"}, "Lý do", None],
    "remediation": [{"vi": "a", "en": "b", "playbook": "Bad Name"}, {"en": "b"}, []],
    "evidence": [{"vi": "a", "en": "b"}],  # a misspelt field
}


@st.composite
def one_bad_check_field(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    check = draw(st.fixed_dictionaries({**COMMON, "probe": SHELL_PROBES, "expect": EXPECTATIONS, **ENDING}))
    field = draw(st.sampled_from(sorted(BAD_CHECK_FIELDS)))
    check[field] = draw(st.sampled_from(BAD_CHECK_FIELDS[field]))
    return check, field


@settings(max_examples=examples(600))
@given(case=one_bad_check_field(), flow=st.sampled_from([None, True, False]))
def test_a_bad_check_field_is_named_with_its_check_and_line(
    base_content: Path, workdir: Path, case: tuple[dict[str, Any], str], flow: bool | None
) -> None:
    check, field = case
    root = _fresh(workdir)
    path = write(root / "linux" / f"{check['id']}.yml", dump(check, flow))
    with pytest.raises(ContentError) as caught:
        load_over(base_content, root)
    message = assert_clear_error(caught.value, path)
    assert f"check {check['id']}: " in message
    assert re.search(rf"line \d+: {field}\b", message), message


@settings(max_examples=examples(200))
@given(check=VALID_CHECKS.filter(lambda check: "probe" in check), data=st.data())
def test_references_to_unknown_inputs_and_sources_name_the_check(
    base_content: Path, workdir: Path, check: dict[str, Any], data: st.DataObject
) -> None:
    if data.draw(st.booleans()):
        check["expect"] = {"all": [check["expect"], {"equals": {"input": "no_such_input"}}]}
        expected = "unknown input(s) no_such_input"
    elif check.get("scope") == "network":
        check["probe"]["inside"] = "no_such_source"
        expected = "probe → inside: unknown source 'no_such_source'"
    else:
        check["probe"] = {"source": "no_such_source"}
        expected = "probe → source: unknown source 'no_such_source'"
    root = _fresh(workdir)
    path = write(root / "linux" / f"{check['id']}.yml", dump(check))
    with pytest.raises(ContentError) as caught:
        load_over(base_content, root)
    message = assert_clear_error(caught.value, path)
    assert f"{path}: check {check['id']}: " in message and expected in message, message


@settings(max_examples=examples(100))
@given(case=st.one_of(plausible_content_file(), one_bad_check_field()))
def test_shipped_content_with_an_added_file_loads_or_fails_clearly(workdir: Path, case: tuple[Any, Any]) -> None:
    """The same property against the real shipped content (ids and sources that clash, its profile)."""
    first, second = case
    relative, document = (first, second) if isinstance(first, str) else (f"linux/{first.get('id')}.yml", first)
    root = _fresh(workdir)
    path = write(root / relative, dump(document))
    _load(None, root, path)
