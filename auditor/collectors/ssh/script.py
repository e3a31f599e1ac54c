"""The batched probe script and its stream format. Pure functions: no I/O, no network.

One POSIX ``sh`` script (dash and bash) carries every probe of a host. The collector sends it on the
stdin of a single ``sh -s`` (or ``sudo -n sh -s``) exec request and splits the two output streams back
into observations with :func:`parse_stream`.

Stream format (``T`` is the per-run token, 32 hex characters; every framing line starts with ``T``
followed by one space and ends with a newline)::

    channel stdout                              channel stderr
    T start 1                                   T start 1
    T begin @facts
    <base64 of "key=value" lines>
    T end @facts
    T begin <probe_id>                          T begin <probe_id>
    <base64 of the probe's stdout>              <base64 of the probe's stderr>
                                                T end <probe_id>
    T end <probe_id> <rc> <start_ns> <end_ns>
    T skip <probe_id> <family>
    T done                                      T done

Probe bytes never reach the stream raw: they are base64 encoded on the target, and a base64 line
never contains a space, so no probe output can ever look like a framing line, even if the probe
knows the token. Lines outside a record that do not start with the token (motd, sudo warnings, shell
noise) are ignored. The stdout ``end`` line (with the exit code) is the commit point of a probe: it
is written after the probe's stderr record is complete.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome, ProbeRequest

SCRIPT_VERSION = 1
KILL_AFTER_S = 2  # grace between TERM and KILL when a probe overruns its time limit
FACTS_ID = "@facts"

_PROBE_ID = re.compile(r"[a-z0-9_]+")
_TOKEN = re.compile(r"[0-9a-f]{32}")
_BASE64_LINE = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
_FACT_MAX = 512  # characters kept of one fact value
_TIMEOUT_RCS = frozenset({124, 137})  # timeout(1): TERM worked / KILL was needed
_FAMILIES = frozenset({"debian", "rhel"})


def new_token() -> str:
    """A fresh per-run token; framing lines carry it so noise can be told from records."""
    return secrets.token_hex(16)


def shell_quote(value: str) -> str:
    """Single-quote ``value`` for POSIX sh: the result is always exactly one word, taken literally."""
    if "\x00" in value:
        raise ValueError("a shell word cannot contain a NUL byte")
    return "'" + value.replace("'", "'\\''") + "'"


def _format_seconds(value: float) -> str:
    # timeout(1) reads "0" as "no limit": never let rounding get there.
    text = f"{max(value, 0.001):.3f}".rstrip("0").rstrip(".")
    return text or "0.001"


# Shell helpers. Variables and functions are prefixed `_a` to stay out of the probes' way (probes run in
# their own `sh -c`, so they see none of this anyway). fd 3/4 are the channel's stdout/stderr; fd 5
# carries the exit code out of the command substitution; fd 6 routes the probe's stdout past the
# stderr pipe. The probe gets none of fds 3-6, so it can only write into its two capped, encoded pipes.
_PRELUDE = r"""export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 077
cd / || exit 1
unset IFS CDPATH ENV BASH_ENV
unset -f timeout head cat base64 date sh kill wait printf uname id systemctl 2>/dev/null
"""

_FUNCTIONS = r"""_acap() {
  { head -c "$1"; cat >/dev/null; } 5>&- 6>&-
}
_aprobe() {
  printf '%s begin %s\n' "$_at" "$1" >&4
  printf '%s begin %s\n' "$_at" "$1" >&3
  _as=$(date +%s%N)
  _arc=$( { { { timeout -k __KILL_AFTER__ "$2" sh -c "$4" </dev/null 3>&- 4>&- 5>&- 6>&- &
          _apid=$!
          wait "$_apid" 2>/dev/null
          _ar=$?
          kill -9 -"$_apid" 2>/dev/null
          echo "$_ar" >&5
        } 2>&1 1>&6 | _acap "$3" | base64 >&4
      } 6>&1 | _acap "$3" | base64 >&3
    } 5>&1 </dev/null )
  _ae=$(date +%s%N)
  printf '%s end %s\n' "$_at" "$1" >&4
  printf '%s end %s %s %s %s\n' "$_at" "$1" "${_arc:-x}" "${_as:-x}" "${_ae:-x}" >&3
}
_askip() {
  printf '%s skip %s %s\n' "$_at" "$1" "$_afam" >&3
}
_afacts() {
  _aid= _alike= _aver= _apretty= _aosr=
  if [ -r /etc/os-release ]; then _aosr=/etc/os-release
  elif [ -r /usr/lib/os-release ]; then _aosr=/usr/lib/os-release
  fi
  if [ -n "$_aosr" ]; then
    while IFS= read -r _al || [ -n "$_al" ]; do
      case $_al in
        ID=*) _aid=${_al#ID=} ;;
        ID_LIKE=*) _alike=${_al#ID_LIKE=} ;;
        VERSION_ID=*) _aver=${_al#VERSION_ID=} ;;
        PRETTY_NAME=*) _apretty=${_al#PRETTY_NAME=} ;;
      esac
      _al=
    done <"$_aosr"
  fi
  case " $_aid $_alike " in
    *debian*|*ubuntu*) _afam=debian ;;
    *rhel*|*centos*|*fedora*|*rocky*|*almalinux*) _afam=rhel ;;
    *)
      if [ -n "$_aid" ]; then _afam=__FAMILY_HINT__
      elif [ -r /etc/debian_version ]; then _afam=debian
      elif [ -r /etc/redhat-release ]; then _afam=rhel
      else _afam=__FAMILY_HINT__
      fi ;;
  esac
  _asd=no
  if [ -d /run/systemd/system ]; then _asd=yes
  else
    case $(timeout -k 1 5 systemctl is-system-running 2>/dev/null) in
      running|degraded|starting|initializing|maintenance|stopping) _asd=yes ;;
    esac
  fi
  printf '%s begin %s\n' "$_at" "__FACTS_ID__" >&3
  {
    printf 'hostname=%s\n' "$(uname -n 2>/dev/null)"
    printf 'os_id=%s\n' "$_aid"
    printf 'os_like=%s\n' "$_alike"
    printf 'os_version=%s\n' "$_aver"
    printf 'os_pretty=%s\n' "$_apretty"
    printf 'os_family=%s\n' "$_afam"
    printf 'kernel=%s\n' "$(uname -r 2>/dev/null)"
    printf 'arch=%s\n' "$(uname -m 2>/dev/null)"
    printf 'uid=%s\n' "$(id -u 2>/dev/null)"
    printf 'systemd=%s\n' "$_asd"
  } | base64 >&3
  printf '%s end %s\n' "$_at" "__FACTS_ID__" >&3
}
"""


def build_script(requests: Sequence[ProbeRequest], token: str, *, os_family_hint: str | None = None) -> str:
    """The whole batch as one POSIX sh script, to be fed to ``sh -s`` on stdin.

    The body is one function definition followed by its call, so the shell parses everything before
    running anything: a script cut in transit runs nothing at all. ``os_family_hint`` (the inventory's
    ``os_family``) is used only when the target itself gives no usable answer.
    """
    if not _TOKEN.fullmatch(token):
        raise ValueError("token must be 32 lowercase hex characters (use new_token())")
    hint = os_family_hint if os_family_hint in _FAMILIES else "unknown"
    seen: set[str] = set()
    calls: list[str] = []
    for request in requests:
        if not _PROBE_ID.fullmatch(request.probe_id):
            raise ValueError(f"probe id {request.probe_id!r} must match [a-z0-9_]+")
        if request.probe_id in seen:
            raise ValueError(f"duplicate probe id {request.probe_id!r}")
        seen.add(request.probe_id)
        call = " ".join(
            (
                "_aprobe",
                request.probe_id,
                _format_seconds(request.timeout_s),
                str(request.output_cap + 1),
                shell_quote(request.command),
            )
        )
        if request.os_families:
            families = "|".join(shell_quote(family) for family in request.os_families)
            call = f"case $_afam in {families}) {call} ;; *) _askip {request.probe_id} ;; esac"
        calls.append("  " + call)
    functions = (
        _FUNCTIONS.replace("__KILL_AFTER__", str(KILL_AFTER_S))
        .replace("__FAMILY_HINT__", hint)
        .replace("__FACTS_ID__", FACTS_ID)
    )
    body = "\n".join(
        [
            "_amain() {",
            f"  _at={token}",
            f"  printf '%s start {SCRIPT_VERSION}\\n' \"$_at\" >&3",
            f"  printf '%s start {SCRIPT_VERSION}\\n' \"$_at\" >&4",
            "  _afacts",
            *calls,
            "  printf '%s done\\n' \"$_at\" >&4",
            "  printf '%s done\\n' \"$_at\" >&3",
            "}",
            "_amain </dev/null 3>&1 4>&2",
            "exit 0",
            "",
        ]
    )
    return _PRELUDE + functions + body


# ---------------------------------------------------------------------------------------------- parsing


@dataclass
class _Record:
    chunks: list[bytes] = field(default_factory=list)
    end: list[bytes] | None = None  # fields after "end <id>", once the record is closed


@dataclass
class _Scan:
    started: bool = False
    done: bool = False
    records: dict[str, _Record] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamSummary:
    """What the framing itself says about the batch, beside the observations."""

    started: bool  # the script's first record came back (the shell ran: sudo, if any, accepted)
    finished: bool  # the script's last record came back on stdout
    records: int  # framing records recognised on stdout


def _scan(stream: bytes, token: str) -> _Scan:
    """Split one channel stream into records. Tolerates noise, a cut stream and hostile content."""
    scan = _Scan()
    prefix = token.encode() + b" "
    lines = stream.split(b"\n")
    lines.pop()  # the last piece is not newline-terminated: a cut line (or b"") never counts
    current: tuple[str, _Record] | None = None
    for line in lines:
        if not line.startswith(prefix):
            if current is not None and _BASE64_LINE.fullmatch(line):
                current[1].chunks.append(line)
            continue
        words = line[len(prefix) :].split(b" ")
        kind, args = words[0], words[1:]
        name = args[0].decode("ascii", "replace") if args else ""
        if kind == b"end" and current is not None and current[0] == name:
            current[1].end = args[1:]
            if name not in scan.records:  # the first complete record of a name wins
                scan.records[name] = current[1]
            current = None
            continue
        current = None  # any other framing line abandons an open record (it stays incomplete)
        if kind == b"begin" and name and name not in scan.records:
            current = (name, _Record())
        elif kind == b"skip" and name:
            scan.skipped.setdefault(name, args[1].decode("ascii", "replace") if len(args) > 1 else "")
        elif kind == b"start":
            scan.started = True
        elif kind == b"done":
            scan.done = True
    if current is not None:
        scan.records.setdefault(current[0], current[1])  # incomplete: end stays None
    return scan


def _decode(chunks: list[bytes]) -> bytes:
    try:
        return base64.b64decode(b"".join(chunks), validate=True)
    except (binascii.Error, ValueError):
        out = bytearray()
        for chunk in chunks:  # GNU base64 lines are 76 characters: each decodes on its own
            try:
                out += base64.b64decode(chunk, validate=True)
            except (binascii.Error, ValueError):
                continue
        return bytes(out)


def _int(raw: bytes) -> int | None:
    text = raw.decode("ascii", "replace")
    if not re.fullmatch(r"-?[0-9]{1,25}", text):
        return None
    return int(text)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
        if value and "\\" in value:
            value = re.sub(r"\\([\\\"$`])", r"\1", value)
    return value[:_FACT_MAX]


def _facts(record: _Record | None) -> HostFacts:
    if record is None or record.end is None:
        return HostFacts()
    values: dict[str, str] = {}
    for line in _decode(record.chunks).decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key not in values:
            values[key] = value
    uid = _int(values.get("uid", "").strip().encode("ascii", "replace"))
    family = values.get("os_family", "").strip()
    return HostFacts(
        hostname=values.get("hostname", "").strip()[:_FACT_MAX],
        os_id=_unquote(values.get("os_id", "")),
        os_like=_unquote(values.get("os_like", "")),
        os_version=_unquote(values.get("os_version", "")),
        os_pretty=_unquote(values.get("os_pretty", "")),
        os_family=family if family in _FAMILIES else "unknown",
        kernel=values.get("kernel", "").strip()[:_FACT_MAX],
        arch=values.get("arch", "").strip()[:_FACT_MAX],
        uid=uid if uid is not None and uid >= 0 else None,
        has_systemd=values.get("systemd", "").strip() == "yes",
    )


def _observation(request: ProbeRequest, out: _Scan, err: _Scan, collected_at: datetime) -> Observation:
    pid = request.probe_id
    base = {"probe_id": pid, "command": request.command, "collected_at": collected_at}
    record = out.records.get(pid)
    if record is None:
        if pid in out.skipped:
            return Observation(outcome=ProbeOutcome.skipped, **base)
        return Observation(outcome=ProbeOutcome.missing, **base)

    stdout = _decode(record.chunks)
    err_record = err.records.get(pid)
    stderr = _decode(err_record.chunks) if err_record is not None else b""
    truncated = False
    if len(stdout) > request.output_cap:
        stdout, truncated = stdout[: request.output_cap], True
    if len(stderr) > request.output_cap:
        stderr, truncated = stderr[: request.output_cap], True

    end = record.end
    rc = _int(end[0]) if end else None
    if end is None or rc is None or not 0 <= rc <= 255:
        # the stream was cut inside this probe (or its end line is unreadable): whatever came is kept
        return Observation(outcome=ProbeOutcome.missing, stdout=stdout, stderr=stderr, truncated=True, **base)
    if err_record is None or err_record.end is None:
        truncated = True  # the stdout record committed but its stderr record did not arrive whole

    start_ns = _int(end[1]) if len(end) > 1 else None
    end_ns = _int(end[2]) if len(end) > 2 else None
    duration = (end_ns - start_ns) / 1e9 if start_ns is not None and end_ns is not None else None
    if duration is not None and not 0 <= duration < 1e7:
        duration = None
    outcome = ProbeOutcome.completed
    if rc in _TIMEOUT_RCS and (duration is None or duration >= request.timeout_s * 0.95):
        outcome = ProbeOutcome.timed_out
    return Observation(
        outcome=outcome,
        exit_code=rc,
        stdout=stdout,
        stderr=stderr,
        duration_s=duration or 0.0,
        truncated=truncated,
        **base,
    )


def summarize_stream(stdout: bytes, token: str) -> StreamSummary:
    """Whether the script started and finished, judged from the channel's stdout alone."""
    scan = _scan(stdout, token)
    return StreamSummary(started=scan.started, finished=scan.done, records=len(scan.records) + len(scan.skipped))


def parse_stream(
    stdout: bytes,
    stderr: bytes,
    requests: Sequence[ProbeRequest],
    token: str,
    collected_at: datetime,
) -> tuple[HostFacts, dict[str, Observation]]:
    """Split the two channel streams back into host facts and one observation per request.

    Never raises on stream content: noise is ignored, a cut or garbled record makes its probe
    ``missing``, records for unknown probe ids are dropped.
    """
    out = _scan(stdout, token)
    err = _scan(stderr, token)
    facts = _facts(out.records.get(FACTS_ID))
    observations = {request.probe_id: _observation(request, out, err, collected_at) for request in requests}
    return facts, observations
