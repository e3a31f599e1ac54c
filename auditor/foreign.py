"""What another program reports (the operating system, PyYAML, a database driver, the SSH library, Ansible), said
in the auditor's own words from the error's structured data: an errno, an SQLite error name, a PostgreSQL
SQLSTATE, the parser's problem. The words are in auditor/locale/foreign.yml. A text no key fits is quoted as that
program's own words (escaped, on one line, cut short), never mixed bare into a sentence."""

from __future__ import annotations

import errno
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditor.errors import Sayable
from auditor.said import Said
from auditor.textsafe import inert_text
from auditor.vocabulary import LocalizedText

if TYPE_CHECKING:
    import yaml

    from auditor.reports.models import Lang

CATALOGUE = "foreign"
VERBATIM_CHARS = 200  # of another program's own message, quoted
_EAI_NAMES = {getattr(socket, name): name for name in dir(socket) if name.startswith("EAI_")}


def foreign(key: str, /, **values: object) -> Said:
    """A sentence of auditor/locale/foreign.yml."""
    return Said(key, values, catalogue=CATALOGUE)


def joined(parts: Sequence[Said]) -> Said:
    """Several sentences said one after another, separated by semicolons (at least one)."""
    *head, last = parts
    for part in reversed(head):
        last = foreign("own_joined", first=part, rest=last)
    return last


def in_words(words: Sayable) -> LocalizedText:
    """Words said in both languages, for a record that keeps each (a finding's reason)."""
    return LocalizedText(vi=words.text("vi"), en=words.text("en"))


def known(key: str) -> bool:
    from auditor.reports.locale import catalogue

    return key in catalogue(CATALOGUE)


def verbatim(source: str, text: str) -> Said:
    """Another program's message as it came, marked as its own: ``source`` is os, python, yaml, db, ssh,
    ansible, alembic."""
    return foreign("verbatim", source=foreign(f"source_{source}"), text=quoted(text))


@dataclass(frozen=True)
class EnglishAsIs(Said):
    """Words that English shows as they always read (``english``: another program's own message), and Vietnamese
    says as the sentence of ``key``."""

    english: str = ""

    def text(self, lang: Lang) -> str:
        return self.english if lang == "en" else super().text(lang)


def theirs(source: str, text: str) -> Said:
    """Text another program (or the audited host) wrote, already made safe to show: English shows it exactly as
    it is, Vietnamese quotes it as that program's own words."""
    words = verbatim(source, text)
    return EnglishAsIs(words.key, words.values, words.catalogue, english=text)


def in_english_as_is(source: str, text: str) -> Said:
    """Another program's message shown as it came in English, and quoted as that program's own in Vietnamese."""
    words = verbatim(source, text)
    return EnglishAsIs(words.key, words.values, words.catalogue, english=quoted(text))


def os_error_as_is(exc: OSError) -> Said:
    """An OSError as the operating system words it in English (its strerror), in the auditor's words in
    Vietnamese."""
    words = os_error_said(exc)
    english = quoted(exc.strerror) if exc.strerror else words.text("en")
    return EnglishAsIs(words.key, words.values, words.catalogue, english=english)


def quoted(text: str, limit: int = VERBATIM_CHARS) -> str:
    """On one line, control and invisible characters escaped, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return inert_text(flat[:limit]) + ("…" if len(flat) > limit else "")


# -- the operating system -------------------------------------------------------------------------------------


def os_error_key(exc: OSError) -> str | None:
    """The key of an OSError's words: by its errno (a name-resolution failure by its EAI_* code), a timeout
    without one as a timeout; None when there are no words for it."""
    if isinstance(exc, socket.gaierror):
        name = _EAI_NAMES.get(exc.errno) if isinstance(exc.errno, int) else None
    else:
        name = errno.errorcode.get(exc.errno) if isinstance(exc.errno, int) else None
        if name is None and isinstance(exc, TimeoutError):
            name = "ETIMEDOUT"
    key = f"os_{name}"
    return key if name is not None and known(key) else None


def os_error_said(exc: OSError) -> Said:
    """An OSError in words, else the operating system's own message, quoted."""
    key = os_error_key(exc)
    return foreign(key) if key is not None else verbatim("os", exc.strerror or str(exc) or type(exc).__name__)


def cause_said(key: str, text: str, source: str = "os") -> Said:
    """Words kept as a key (e.g. by :func:`os_error_key`) beside the original text: the key's words when it has
    them, else the text, quoted as ``source``'s own."""
    return foreign(key) if key and known(key) else verbatim(source, text)


def connection_error_said(exc: BaseException) -> Said:
    """A connection's failure: an OSError by its errno, an end of stream as the other side closing it, anything
    else (the SSH library's own exceptions) in that library's words, quoted."""
    if isinstance(exc, OSError):
        return os_error_said(exc)
    if isinstance(exc, EOFError):
        return foreign("os_EPIPE")
    return verbatim("ssh", f"{type(exc).__name__}: {exc}".rstrip(": "))


def decode_error_said(exc: UnicodeDecodeError) -> Said:
    key = "utf8_" + "_".join(exc.reason.split())
    return foreign(key) if known(key) else verbatim("python", exc.reason)


# -- YAML -----------------------------------------------------------------------------------------------------


_YAML_PROBLEMS: tuple[tuple[str, str], ...] = (  # the start of PyYAML's (or libyaml's) problem, and its words
    ("mapping values are not allowed", "yaml_mapping_values"),
    ("could not find expected ':'", "yaml_expected_colon"),
    ("found a tab character", "yaml_tab"),
    ("found unexpected end of stream", "yaml_end_of_stream"),
    ("did not find expected ',' or ']'", "yaml_flow_sequence"),
    ("expected ',' or ']'", "yaml_flow_sequence"),
    ("did not find expected ',' or '}'", "yaml_flow_mapping"),
    ("expected ',' or '}'", "yaml_flow_mapping"),
    ("did not find expected key", "yaml_expected_key"),
    ("did not find expected '-' indicator", "yaml_expected_dash"),
    ("expected <block end>", "yaml_indentation"),
    ("did not find expected comment or line break", "yaml_line_end"),
    ("expected a comment or a line break", "yaml_line_end"),
    ("found undefined alias", "yaml_undefined_alias"),
    ("but found another document", "yaml_many_documents"),
    ("found unknown escape character", "yaml_escape"),
    ("control characters are not allowed", "yaml_control_character"),
    ("special characters are not allowed", "yaml_control_character"),
)
_TAG = re.compile(r"for the tag '(.*)'\Z", re.DOTALL)


def yaml_problem_said(exc: yaml.YAMLError, text: str) -> Said:
    """What is wrong, without where (the caller says the line and column): in words for PyYAML's common problems,
    else PyYAML's own message, quoted."""
    own = getattr(exc, "said", None)
    if isinstance(own, Said):  # raised by the auditor's own loader checks, already in words
        return own
    problem = str(getattr(exc, "problem", None) or getattr(exc, "reason", None) or "")
    context = str(getattr(exc, "context", None) or "")
    if context.startswith("found duplicate anchor"):
        return foreign("yaml_duplicate_anchor")
    if problem.startswith("found character that cannot start any token"):
        mark = getattr(exc, "problem_mark", None)
        character = _character_at(text, mark.index) if mark is not None else ""
        if character == "\t":
            return foreign("yaml_tab")
        if character:
            return foreign("yaml_cannot_start", character=repr(character) if character.isprintable() else "?")
    tag = _TAG.search(problem) if problem.startswith("could not determine a constructor") else None
    if tag is not None:
        return foreign("yaml_unknown_tag", tag=quoted(tag.group(1), 60))
    for start, key in _YAML_PROBLEMS:
        if problem.startswith(start):
            return foreign(key)
    return verbatim("yaml", problem or str(exc))


def _character_at(text: str, index: int) -> str:
    return text[index] if 0 <= index < len(text) else ""


# -- databases ------------------------------------------------------------------------------------------------

_SQLITE = {  # an SQLite error name's primary part
    "SQLITE_CANTOPEN": "db_cannot_open",
    "SQLITE_BUSY": "db_locked",
    "SQLITE_LOCKED": "db_locked",
    "SQLITE_READONLY": "db_read_only",
    "SQLITE_NOTADB": "db_not_a_database",
    "SQLITE_CORRUPT": "db_corrupt",
    "SQLITE_FULL": "db_full",
    "SQLITE_IOERR": "db_io",
    "SQLITE_PERM": "db_denied",
    "SQLITE_AUTH": "db_denied",
    "SQLITE_TOOBIG": "db_too_long",
}
_SQLSTATE = {
    "28P01": "db_auth_failed",
    "28000": "db_not_allowed",
    "3D000": "db_no_database",
    "53300": "db_too_many_connections",
    "57P03": "db_not_ready",
    "57P01": "db_connection_lost",
    "57P02": "db_connection_lost",
    "42501": "db_denied",
    "25006": "db_read_only",
    "40001": "db_conflict",
    "40P01": "db_conflict",
    "55P03": "db_locked",
    "53100": "db_full",
    "22001": "db_too_long",
}
_SQLSTATE_CLASS = {"08": "db_connection_lost", "28": "db_auth_failed", "53": "db_too_many_connections"}
_LIBPQ = (  # a connection failure has no SQLSTATE: libpq's (English) phrase says what happened
    ("connection refused", "db_refused"),
    ("timeout expired", "db_timeout"),
    ("timed out", "db_timeout"),
    ("could not translate host name", "db_no_such_host"),
    ("name or service not known", "db_no_such_host"),
    ("no route to host", "db_no_route"),
    ("network is unreachable", "db_no_route"),
    ("password authentication failed", "db_auth_failed"),
    ("no password supplied", "db_no_password"),
    ("no pg_hba.conf entry", "db_not_allowed"),
    ("server closed the connection unexpectedly", "db_connection_lost"),
    ("server does not support ssl", "db_tls"),
    ("ssl is not enabled on the server", "db_tls"),
)
_NO_DATABASE = re.compile(r'database ".*" does not exist')


def db_error_said(exc: BaseException, password: str | None = None) -> Said:
    """A database error (SQLAlchemy's, the driver's, or an OSError on the way) by its SQLite error name, its
    SQLSTATE, or libpq's connection failure; else the driver's first line, quoted, the password masked."""
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, OSError):
        return os_error_said(orig)
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str):
        key = _SQLITE.get("_".join(name.split("_")[:2]))
        if key is not None:
            return foreign(key)
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str) and state:
        key = _SQLSTATE.get(state) or _SQLSTATE_CLASS.get(state[:2])
        if key is not None:
            return foreign(key)
    text = str(orig).strip()
    lowered = text.lower()
    if state is None and type(orig).__module__.startswith("psycopg"):
        if _NO_DATABASE.search(text):
            return foreign("db_no_database")
        for phrase, key in _LIBPQ:
            if phrase in lowered:
                return foreign(key)
    first = text.splitlines()[0] if text else type(orig).__name__
    if password:
        first = first.replace(password, "***")
    return verbatim("db", first)


# -- Ansible --------------------------------------------------------------------------------------------------

_OPENSSH = (  # the ssh client's (English) phrase in an unreachable host's message, and its words
    ("connection refused", "os_ECONNREFUSED"),
    ("timed out", "os_ETIMEDOUT"),
    ("no route to host", "os_EHOSTUNREACH"),
    ("network is unreachable", "os_ENETUNREACH"),
    ("could not resolve hostname", "os_EAI_NONAME"),
    ("name or service not known", "os_EAI_NONAME"),
    ("temporary failure in name resolution", "os_EAI_AGAIN"),
    ("connection reset by peer", "os_ECONNRESET"),
    ("host key verification failed", "ansible_host_key"),
    ("remote host identification has changed", "ansible_host_key"),
    ("permission denied (", "ansible_login_refused"),
)
_UNREACHABLE = "unreachable: "  # how auditor.remediate.runner records a host Ansible could not reach


def ansible_error_said(text: str) -> Said:
    """A host's failure as the remediation runner records it (``unreachable: <message>`` or ``<task>: <message>``):
    an unreachable host's cause in words when the ssh client's phrase is a known one, else Ansible's message
    quoted."""
    if text.startswith(_UNREACHABLE):
        message = text.removeprefix(_UNREACHABLE)
        lowered = message.lower()
        key = next((key for phrase, key in _OPENSSH if phrase in lowered), None)
        return foreign("ansible_unreachable", cause=foreign(key) if key else verbatim("ansible", message))
    task, colon, message = text.partition(": ")
    if not colon or not task:
        return verbatim("ansible", text)
    return foreign("ansible_task_failed", task=quoted(task, 80), cause=verbatim("ansible", message))
