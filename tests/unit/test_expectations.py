"""Matchers, one behaviour each, against recorded probe outputs."""

import pytest
from pydantic import TypeAdapter, ValidationError

from auditor.content.expectations import Expectation, ProbeOutput, input_names

adapter = TypeAdapter(Expectation)


def judge(spec: dict, output: str, inputs: dict | None = None) -> bool:
    return adapter.validate_python(spec).match(ProbeOutput(output), inputs or {}).ok


@pytest.mark.parametrize(
    ("spec", "output", "ok"),
    [
        ({"equals": "no"}, "no\n", True),
        ({"equals": "no"}, "No", True),  # case-insensitive by default, as sshd -T values are
        ({"equals": "no", "ignore_case": False}, "No", False),
        ({"equals": "no"}, "yes", False),
        ({"equals": "no"}, "", False),
        ({"regex": "^(no|prohibit-password)$"}, "prohibit-password", True),
        ({"regex": "^no$"}, "yes\nno", True),  # multi-line mode: any line may match
        ({"regex": "^no$"}, "nope", False),
        ({"number": {"op": "<=", "value": 300}}, "300", True),
        ({"number": {"op": "<=", "value": 300}}, "301", False),
        ({"number": {"op": ">", "value": 0}}, "0", False),
        ({"number": {"op": ">=", "value": 14}}, "14\n16", True),  # every line must satisfy
        ({"number": {"op": ">=", "value": 14}}, "14\n8", False),
        ({"number": {"op": "<=", "value": 5}}, "", False),  # nothing configured is not compliant
        ({"number": {"op": "<=", "value": 5}}, "five", False),
        ({"number": {"op": "==", "value": 1.5}}, "1.5", True),
        ({"number": {"op": "!=", "value": 0}}, "nan", False),
        ({"contains": ["a", "b"]}, "b\na\nc", True),
        ({"contains": ["a", "b"]}, "a\nc", False),
        ({"excludes": ["telnet"]}, "ssh\nhttp", True),
        ({"excludes": ["telnet"]}, "ssh\ntelnet", False),
        ({"empty": True}, "  \n", True),
        ({"empty": True}, "guest", False),
        ({"empty": False}, "rsyslogd", True),
        ({"empty": False}, "", False),
    ],
)
def test_single_matchers(spec: dict, output: str, ok: bool) -> None:
    assert judge(spec, output) is ok


@pytest.mark.parametrize(
    ("combinator", "children_ok", "ok"),
    [
        ("all", [True, True], True),
        ("all", [True, False], False),
        ("any", [False, True], True),
        ("any", [False, False], False),
        ("none", [False, False], True),
        ("none", [False, True], False),
    ],
)
def test_composition_truth_table(combinator: str, children_ok: list[bool], ok: bool) -> None:
    children = [{"equals": "x"} if child else {"equals": "y"} for child in children_ok]
    assert judge({combinator: children}, "x") is ok


def test_nested_composition() -> None:
    spec = {"all": [{"empty": False}, {"none": [{"regex": "cbc"}, {"regex": "arcfour"}]}]}
    assert judge(spec, "aes256-gcm@openssh.com\nchacha20-poly1305@openssh.com")
    assert not judge(spec, "aes256-ctr\naes128-cbc")
    assert not judge(spec, "")


def test_inputs_are_resolved_and_listed() -> None:
    spec = {"all": [{"number": {"op": ">", "value": 0}}, {"number": {"op": "<=", "value": {"input": "idle"}}}]}
    expectation = adapter.validate_python(spec)
    assert input_names(expectation) == {"idle"}
    assert expectation.match(ProbeOutput("300"), {"idle": 300}).ok
    assert not expectation.match(ProbeOutput("300"), {"idle": 200}).ok
    assert expectation.describe({"idle": 300}) == "all(> 0; <= 300)"


def test_failure_explains_itself() -> None:
    outcome = adapter.validate_python({"all": [{"empty": False}, {"number": {"op": "<=", "value": 4}}]}).match(
        ProbeOutput("10"), {}
    )
    assert (outcome.ok, outcome.key, outcome.params["line"]) == (False, "number", "10")


@pytest.mark.parametrize(
    "spec",
    [
        {"foo": 1},  # unknown key
        {"equals": False},  # YAML `no` unquoted is a boolean: refused, must be quoted
        {"number": {"op": "=<", "value": 1}},
        {"regex": "("},
        {"all": []},
        {"equals": "x", "extra": 1},
    ],
)
def test_malformed_expectations_are_refused(spec: dict) -> None:
    with pytest.raises(ValidationError):
        adapter.validate_python(spec)


def test_subset_of_splits_inputs_on_commas() -> None:
    spec = {"subset_of": [{"input": "allowed"}, "8080"]}
    inputs = {"allowed": "22, 80,443"}
    assert judge(spec, "22\n443\n8080", inputs)
    assert judge(spec, "", inputs)  # nothing listening is within any allow-list
    outcome = adapter.validate_python(spec).match(ProbeOutput("22\n3306\n3306"), inputs)
    assert (outcome.ok, outcome.params["found"]) == (False, "3306")
    assert adapter.validate_python(spec).describe(inputs) == "subset of [22, 80, 443, 8080]"


def words(spec: dict, inputs: dict | None = None) -> tuple[str, str]:
    text = adapter.validate_python(spec).explain(inputs or {})
    return text.vi, text.en


@pytest.mark.parametrize(
    ("spec", "vi", "en"),
    [
        ({"equals": "no"}, "giá trị là “no”", "the value is “no”"),
        ({"regex": "^no$"}, "có dòng khớp mẫu “^no$”", "a line matches the pattern “^no$”"),
        (
            {"regex": "^ok", "means": {"vi": "máy chủ trả lời ổn", "en": "the server answers fine"}},
            "máy chủ trả lời ổn",
            "the server answers fine",
        ),
        ({"number": {"op": "<=", "value": 300}}, "mọi giá trị không quá 300", "every value at most 300"),
        ({"number": {"op": ">", "value": 0}}, "mọi giá trị lớn hơn 0", "every value greater than 0"),
        ({"number": {"op": "!=", "value": 1.5}}, "mọi giá trị khác 1.5", "every value other than 1.5"),
        ({"contains": ["a", "b"]}, "có đủ các mục: “a”, “b”", "includes every item: “a”, “b”"),
        ({"excludes": ["telnet"]}, "không có mục nào trong: “telnet”", "includes none of: “telnet”"),
        ({"subset_of": ["2222"]}, "chỉ gồm các giá trị: “2222”", "only: “2222”"),
        ({"subset_of": [{"input": "ports"}]}, "không có giá trị nào", "no value at all"),
        ({"empty": True}, "không có kết quả nào", "nothing is found"),
        ({"empty": False}, "có kết quả", "something is found"),
        ({"all": [{"empty": False}]}, "có kết quả", "something is found"),  # one part reads as itself
        (
            {"all": [{"number": {"op": ">", "value": 0}}, {"number": {"op": "<=", "value": 5}}]},
            "đồng thời: mọi giá trị lớn hơn 0; mọi giá trị không quá 5",
            "all of: every value greater than 0; every value at most 5",
        ),
        (
            {"any": [{"empty": True}, {"equals": "x"}]},
            "ít nhất một trong: không có kết quả nào; giá trị là “x”",
            "at least one of: nothing is found; the value is “x”",
        ),
        (
            {"none": [{"regex": "^exposed", "means": {"vi": "cổng lộ ra", "en": "an exposed port"}}]},
            "không có trường hợp nào sau đây: cổng lộ ra",
            "none of these: an exposed port",
        ),
    ],
)
def test_expectations_explain_themselves_in_words(spec: dict, vi: str, en: str) -> None:
    assert words(spec, {"ports": ""}) == (vi, en)


def test_words_use_resolved_inputs_while_the_notation_keeps_its_form() -> None:
    spec = adapter.validate_python({"subset_of": [{"input": "ports"}]})
    assert words({"subset_of": [{"input": "ports"}]}, {"ports": "22, 2222"})[0] == "chỉ gồm các giá trị: “22”, “2222”"
    assert spec.describe({"ports": "22, 2222"}) == "subset of [22, 2222]"


def test_a_none_failure_names_the_lines_that_break_it() -> None:
    spec = adapter.validate_python({"none": [{"regex": "^bad"}, {"regex": "worse$"}]})
    outcome = spec.match(ProbeOutput("good\nbad one\nfine\nmuch worse\n"), {})
    assert not outcome.ok and outcome.lines == ("bad one", "much worse")
    assert outcome.explained is not None and outcome.explained.en.startswith("none of these:")
