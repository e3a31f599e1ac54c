"""Help and the parser's messages in the chosen language: every command and option has its Vietnamese
(auditor/locale/help.yml), a Vietnamese help shows none of the framework's English chrome and English help is
Typer's own; the parser's errors are said in Vietnamese in the one error style and exit 3; and the catalogue of the
framework's words (auditor/locale/framework.yml) matches the installed Typer, so an upgrade that changes a message
is noticed."""

from __future__ import annotations

import ast
import copy
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from pydantic import AfterValidator, Field, TypeAdapter, ValidationError

from auditor.cli import framework_words
from auditor.cli.app import COMMANDS, load_command, run
from auditor.cli.framework_words import catalogue, translate
from auditor.cli.help_words import HelpCatalogue, help_catalogue, help_lang
from tests.unit.test_cli_listings import WIDTH

TYPER = Path(typer.__file__).parent
CHROME = ["Usage", "Options", "Arguments", "Commands", "Show this message", "[default:", "[required]", "env var"]


@pytest.fixture(autouse=True)
def _terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AUDITOR_LANG", raising=False)
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    monkeypatch.setattr(sys, "argv", ["auditor"])  # the program's name in "Usage:" and "see: … --help"
    yield
    framework_words.install(vietnamese=False)  # Typer as it was for the tests that follow


def walk(command: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from walk(sub, f"{path} {name}")


def tree() -> list[tuple[str, Any]]:
    """Every command as it runs: each module imported, groups opened."""
    return [pair for name in COMMANDS for pair in walk(load_command(name), f"auditor {name}")]


def missing_help(commands: list[tuple[str, Any]], table: HelpCatalogue) -> list[str]:
    """What has no Vietnamese: a command's text, a top-level command's line, any parameter."""
    missing = []
    for path, command in commands:
        entry = table.commands.get(path)
        if entry is None or entry.help is None:
            missing.append(path)
        if path.count(" ") == 1 and (entry is None or entry.short is None):
            missing.append(f"{path} (its line in auditor --help)")
        missing += [f"{path} {param.name}" for param in command.params if table.param(path, param.name) is None]
    return missing


# -- every command and option has Vietnamese help --------------------------------------------------------------------


def test_every_command_and_parameter_has_vietnamese_help() -> None:
    commands = tree()
    table = help_catalogue()
    root = typer.main.get_command(__import__("auditor.cli.app", fromlist=["app"]).app)
    assert len(commands) > 40
    assert missing_help([*commands, ("auditor", root)], table) == []
    known = {path: {param.name for param in command.params} for path, command in [*commands, ("auditor", root)]}
    stale = [path for path in table.commands if path not in known]
    stale += [f"{path} {name}" for path, entry in table.commands.items() for name in entry.params
              if name not in known.get(path, set())]  # fmt: skip
    assert stale == []


def test_a_new_option_without_vietnamese_is_found() -> None:
    path, command = next((path, command) for path, command in tree() if path == "auditor runs")
    new = copy.copy(command.params[0])
    new.name, new.help = "brand_new", "Something new."
    command.params.append(new)
    assert missing_help([(path, command)], help_catalogue()) == ["auditor runs brand_new"]


def test_shared_texts_serve_parameters_of_one_meaning() -> None:
    """A parameter taking the shared Vietnamese has the same English in every command: otherwise it needs its own."""
    table = help_catalogue()
    english: dict[str, set[str | None]] = {}
    for path, command in tree():
        own = table.commands[path].params
        for param in command.params:
            if param.name not in own and param.name in table.shared:
                english.setdefault(param.name, set()).add(param.help)
    assert set(english) == set(table.shared), set(table.shared) - set(english)  # no shared text unused
    assert {name: texts for name, texts in english.items() if len(texts) > 1} == {}


# -- help in Vietnamese and in English ---------------------------------------------------------------------------------


def _help(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    assert run([*args, "--help"]) == 0
    return capsys.readouterr().out


def flat(output: str) -> str:
    """The help's words in reading order: a wrapped cell's lines joined (its table's borders left out)."""
    return " ".join(output.replace("│", " ").split())


def _english_help(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str]) -> str:
    with monkeypatch.context() as env:
        env.setenv("AUDITOR_LANG", "en")
        return _help(capsys, args)


HELP_PAGES = [[], ["runs"], ["findings"], ["checklist"], ["checklist", "list"], ["users", "add"], ["report"]]


@pytest.mark.parametrize("args", HELP_PAGES, ids=lambda args: " ".join(["auditor", *args]))
def test_vietnamese_help_has_no_english_chrome(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    output = _help(capsys, args)
    assert max(len(line) for line in output.splitlines()) <= WIDTH
    output = flat(output)
    assert "Cách dùng: auditor" in output and "Tùy chọn" in output and "Hiện trợ giúp này rồi thoát." in output
    assert [word for word in CHROME if word.lower() in output.lower()] == []


# Typer's type labels, bounds and value names in English, as the help of these pages shows them.
TYPE_PAGES = [["runs"], ["report"], ["inventory", "check"], ["evidence"]]
ENGLISH_TYPES = ["<bool>", "<str>", "<int>", "<int range>", "<path>", "<list[str]>", "<list[Path]>", "x>=", "<=x"]
ENGLISH_METAVARS = ["FORMAT", "FILE", "TEXT", "INTEGER", "PATH"]


def test_vietnamese_help_names_types_and_values_in_vietnamese(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    english = " ".join(flat(_english_help(capsys, monkeypatch, args)) for args in TYPE_PAGES)
    assert [label for label in [*ENGLISH_TYPES, "FORMAT", "FILE"] if label not in english] == []  # they are there
    vietnamese = " ".join(flat(_help(capsys, args)) for args in TYPE_PAGES)
    assert [label for label in ENGLISH_TYPES if label in vietnamese] == []
    assert [name for name in ENGLISH_METAVARS if re.search(rf"\b{name}\b", vietnamese)] == []
    assert "<số nguyên> [từ 1]" in vietnamese and "[từ 2000" in vietnamese  # the wider bounds wrap
    assert "<đúng/sai>" in vietnamese and "<danh sách chuỗi>" in vietnamese and "ĐỊNH-DẠNG" in vietnamese
    assert "<vi|en>" in vietnamese and "<html|pdf|docx>" in vietnamese  # choices are typed: kept as they are


def test_english_help_keeps_typers_types_and_values(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = flat(_english_help(capsys, monkeypatch, ["runs"]))
    _help(capsys, ["runs"])
    after = flat(_english_help(capsys, monkeypatch, ["runs"]))
    assert before == after
    assert "<int range> [x>=1]" in after and "FORMAT" in after and "<bool>" in after
    assert "số nguyên" not in after and "ĐỊNH-DẠNG" not in after


def test_type_labels_the_catalogue_lacks_stay_as_typer_writes_them() -> None:
    from auditor.cli.framework_words import describe_range, type_label, value_metavar

    assert type_label("list[list[int]]") == "danh sách danh sách số nguyên"
    assert type_label("int,str") == "số nguyên,chuỗi"
    assert type_label("json|csv") == "json|csv" and type_label("Decimal") == "Decimal"
    assert (describe_range(None, 9), describe_range(None, None)) == ("tối đa 9", None)
    assert (value_metavar("FILE"), value_metavar("HOSTS")) == ("TỆP", "HOSTS")


def test_every_command_has_vietnamese_help(capsys: pytest.CaptureFixture[str]) -> None:
    table = help_catalogue()
    for path, _ in tree():
        output = flat(_help(capsys, path.split()[1:]))
        assert [word for word in CHROME if word.lower() in output.lower()] == [], path
        text = table.commands[path].help or ""
        assert " ".join(text.split())[:40] in output, path


@pytest.mark.parametrize("args", HELP_PAGES, ids=lambda args: " ".join(["auditor", *args]))
def test_english_help_is_typers_own(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    before = _english_help(capsys, monkeypatch, args)
    vietnamese = _help(capsys, args)
    after = _english_help(capsys, monkeypatch, args)
    assert before == after and vietnamese != before  # nothing Vietnamese stays behind
    shown = flat(before)
    assert "Usage: auditor" in shown and "[OPTIONS]" in shown and "Show this message and exit." in shown
    assert "Options" in shown and "Cách dùng" not in shown and "Tùy chọn" not in shown


def test_english_help_is_the_text_in_the_code(capsys: pytest.CaptureFixture[str]) -> None:
    output = flat(_help(capsys, ["runs", "--lang", "en"]))
    assert "List audit runs, newest first" in output and "[default: 20]" in output
    assert "Database URL (sqlite:///file.db or postgresql://...)." in output and "[env var: AUDITOR_DB]" in output


def test_auditor_alone_shows_its_help_in_vietnamese(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([]) == 3
    captured = capsys.readouterr()
    shown = flat(captured.out + captured.err)
    assert "Cách dùng: auditor [TÙY-CHỌN] LỆNH [ĐỐI-SỐ]..." in shown and "Usage" not in shown


def test_the_language_of_help_is_chosen_like_other_output(monkeypatch: pytest.MonkeyPatch) -> None:
    assert help_lang([]) == help_lang(["runs"]) == help_lang(["runs", "--lang"]) == "vi"
    assert help_lang(["runs", "--lang", "en"]) == help_lang(["runs", "--lang=en"]) == "en"
    monkeypatch.setenv("AUDITOR_LANG", "en")
    assert help_lang(["runs"]) == "en" and help_lang(["runs", "--lang", "vi"]) == "vi"
    monkeypatch.setenv("AUDITOR_LANG", "fr")
    assert help_lang(["runs"]) == "vi"


def test_root_help_lists_commands_in_vietnamese_without_importing_them(capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess

    code = "import sys; from auditor.cli.app import run; run(['--help']); print(sorted(m for m in sys.modules if " \
           "m.startswith('auditor.cli.') and m not in ('auditor.cli.app', 'auditor.cli.framework_words', " \
           "'auditor.cli.help_words', 'auditor.cli.words')))"  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.rstrip().endswith("[]"), done.stdout[-300:]
    output = flat(_help(capsys, []))
    for name in COMMANDS:
        line = help_catalogue().commands[f"auditor {name}"].short or ""
        assert " ".join(line.split())[:30] in output, name


# -- the parser's errors ---------------------------------------------------------------------------------------------

ERRORS = [
    (["runs", "--bogus"], "không có tùy chọn --bogus", "No such option: --bogus"),
    (["runs", "--fromat", "json"], "không có tùy chọn --fromat (có thể là: --format)", "(Possible options: --format)"),
    (["findings"], "thiếu đối số 'lượt'", "Missing argument 'run'."),
    (
        ["runs", "--format", "xml"],
        "giá trị không hợp lệ cho '--format': 'xml' không phải một trong 'table', 'json', 'csv'",
        "Invalid value for '--format': Value error, 'xml' is not one of 'table', 'json', 'csv'.",
    ),
    (["runs", "--limit", "abc"], "giá trị không hợp lệ cho '--limit': cần một số nguyên", "Input should be a valid"),
    (
        ["runs", "--limit", "0"],
        "giá trị không hợp lệ cho '--limit': cần lớn hơn hoặc bằng 1",
        "greater than or equal to 1",
    ),
    (["runs", "extra"], "thừa đối số: extra", "Got unexpected extra argument(s) (extra)"),
    (["runs", "--db"], "tùy chọn '--db' cần một giá trị", "Option '--db' requires an argument."),
    (["nosuch"], "không có lệnh 'nosuch'", "No such command 'nosuch'."),
    (["rnus"], "không có lệnh 'rnus'. Có phải ý bạn là 'runs'?", "No such command 'rnus'. Did you mean 'runs'?"),
    (["checklist", "lsit"], "không có lệnh 'lsit'. Có phải ý bạn là 'list'?", "Did you mean 'list'?"),
    (["checklist", "coverage", "--framework"], "tùy chọn '--framework' cần một giá trị", "requires an argument"),
]
ENGLISH = ["No such", "Missing", "Invalid", "Possible", "Value error", "Input should", "argument", "option", "Did you"]


@pytest.mark.parametrize(("args", "vi", "en"), ERRORS, ids=lambda value: " ".join(value) if isinstance(value, list)
                         else "")  # fmt: skip
def test_parser_errors_are_said_in_the_chosen_language(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str], vi: str, en: str
) -> None:
    assert run(args) == 3
    captured = capsys.readouterr()
    said = " ".join(captured.err.split())
    assert captured.out == "" and said.startswith(f"lỗi: {vi}") and "Traceback" not in said, said
    assert [word for word in ENGLISH if word in said] == [], said
    monkeypatch.setenv("AUDITOR_LANG", "en")
    assert run(args) == 3
    said = " ".join(capsys.readouterr().err.split())
    assert said.startswith("error: ") and en in said, said


def test_the_lang_option_chooses_the_language_of_parser_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["runs", "--bogus", "--lang", "en"]) == 3
    assert capsys.readouterr().err.startswith("error: No such option: --bogus (see: auditor runs --help)")
    assert run(["runs", "--lang", "vi", "--bogus"]) == 3
    assert capsys.readouterr().err.startswith("lỗi: không có tùy chọn --bogus (xem: auditor runs --help)")


def test_a_message_no_pattern_knows_is_kept_whole() -> None:
    assert translate("Something Typer may say one day.") == "Something Typer may say one day."
    assert translate("Missing option '--agency'.") == "thiếu tùy chọn '--agency'"
    assert (
        translate("Missing argument 'file'. Choose from:\n\ta,\n\tb")
        == "thiếu đối số 'file'. chọn một trong:\n\ta,\n\tb"
    )


# -- the catalogue matches the installed Typer ----------------------------------------------------------------------

MESSAGE_MODULES = ["_click/parser.py", "_click/exceptions.py", "_click/core.py", "_param_types.py", "_coercion.py"]
MESSAGE_MODULES += ["core.py"]
RAISERS = {"fail", "UsageError", "BadParameter", "BadOptionUsage", "BadArgumentUsage", "NoSuchOption"}
RAISERS |= {"MissingParameter", "ClickException", "FileError"}
FORMATTERS = {
    "format_message",
    "get_missing_message",
    "__str__",
    "__init__",
    "resolve_command",
    "_get_value_from_state",
}


def _template(node: ast.AST) -> str | None:
    """A string as written in the code, each filled-in part of an f-string as {}."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)
    return None


def _called(node: ast.Call) -> str:
    return node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")


def typer_messages() -> set[str]:
    """The messages of Typer's parser, exceptions and value types: texts given to the exceptions it raises, and the
    texts its exceptions build to show."""
    found: set[str] = set()
    for module in MESSAGE_MODULES:
        for function in ast.walk(ast.parse((TYPER / module).read_text("utf-8"))):
            if not isinstance(function, ast.FunctionDef):
                continue
            for node in ast.walk(function):
                texts: list[ast.AST] = []
                if isinstance(node, ast.Call) and _called(node) in RAISERS:
                    texts += [*node.args, *(keyword.value for keyword in node.keywords if keyword.arg == "message")]
                if isinstance(node, ast.Call) and _called(node) == "ValueError" and "choice" in function.name:
                    texts += node.args
                if function.name in FORMATTERS and isinstance(node, ast.Return) and node.value is not None:
                    texts.append(node.value)
                if function.name in FORMATTERS and isinstance(node, ast.Assign):
                    names = {getattr(target, "id", getattr(target, "attr", "")) for target in node.targets}
                    texts += [node.value] if names & {"message", "msg", "suggest", "hint"} else []
                for text in texts:
                    for branch in (text.body, text.orelse) if isinstance(text, ast.IfExp) else (text,):
                        template = _template(branch)
                        if template and re.search(r"[A-Za-z]", template):
                            found.add(template)
    return found


def _raw() -> dict[str, Any]:
    import yaml

    from auditor.cli import framework_words as module

    return dict(yaml.safe_load((Path(module.__file__).parents[1] / "locale" / "framework.yml").read_text("utf-8")))


def test_every_gettext_msgid_is_typers_and_every_one_is_translated() -> None:
    msgids = set()
    for module in ("core.py", "rich_utils.py"):
        for node in ast.walk(ast.parse((TYPER / module).read_text("utf-8"))):
            if isinstance(node, ast.Call) and _called(node) == "_" and node.args:
                assert isinstance(node.args[0], ast.Constant), ast.unparse(node)
                msgids.add(node.args[0].value)
    assert len(msgids) > 10
    assert set(catalogue().gettext) == msgids


def test_every_message_is_typers_and_every_one_of_typers_is_translated() -> None:
    source = typer_messages()
    assert {"No such option: {}", "Missing {}{}.", "Invalid value for {}: {}", "{} is not one of {}."} <= source
    given: set[str] = set()
    for entry in _raw()["messages"]:
        if "pydantic" in entry:
            continue
        given |= set(entry.get("source", [re.sub(r"\{\w+\}", "{}", entry["en"])]))
    words = set(catalogue().words)
    assert given - source == set(), "no longer in Typer"
    assert source - given - words == set(), "not translated"


def test_every_literal_and_word_is_written_in_typer() -> None:
    for name, entry in _raw()["literals"].items():
        assert f'"{entry["en"]}"' in (TYPER / entry["module"]).read_text("utf-8"), name
    written = "".join((TYPER / module).read_text("utf-8") for module in MESSAGE_MODULES)
    for word in catalogue().words:
        assert f'"{word}"' in written, word


PYDANTIC: dict[str, tuple[Any, object]] = {
    "int_parsing": (int, "abc"),
    "float_parsing": (float, "abc"),
    "bool_parsing": (bool, "maybe"),
    "greater_than_equal": (Annotated[int, Field(ge=1)], 0),
    "less_than_equal": (Annotated[int, Field(le=1)], 2),
    "greater_than": (Annotated[int, Field(gt=1)], 0),
    "less_than": (Annotated[int, Field(lt=1)], 2),
    "value_error": (Annotated[str, AfterValidator(lambda value: (_ for _ in ()).throw(ValueError("no")))], "x"),
}


def test_pydantic_messages_still_read_as_the_catalogue_says() -> None:
    entries = {entry["pydantic"]: entry for entry in _raw()["messages"] if "pydantic" in entry}
    assert set(entries) == set(PYDANTIC)
    for kind, (annotation, value) in PYDANTIC.items():
        with pytest.raises(ValidationError) as raised:
            TypeAdapter(annotation).validate_python(value)
        error = raised.value.errors()[0]
        assert error["type"] == kind
        pattern = re.escape(entries[kind]["en"]).replace(r"\{", "{").replace(r"\}", "}")
        assert re.fullmatch(re.sub(r"\{\w+\}", ".+", pattern), error["msg"]), (kind, error["msg"])
        assert translate(error["msg"]) != error["msg"]
