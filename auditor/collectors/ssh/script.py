r"""The batched probe script and its stream format. Pure functions: no I/O, no network.

One POSIX ``sh`` script (dash and bash) carries every probe of a host. The collector sends it on the
stdin of a single ``sh -s`` (or ``sudo -n sh -s``) exec request and splits the two output streams back
into observations with :func:`parse_stream`.

The script lowers its own CPU priority once (``renice -n 10``), gathers the host facts, then runs the
probes, up to ``jobs`` at a time: the probes known to be slow first, then the others, in the order
given. Concurrent probes share the channel's stdout and stderr, so the records of different probes
interleave line by line; every line therefore names the probe it belongs to.

Stream format, version 2. ``T`` is the per-run token (32 hex characters), ``<id>`` a probe id
(``[a-z0-9_]+(\.[a-z0-9_]+)*``) or ``@facts``; every line is ``T``, one space, space-separated words,
and a newline, and is written by ONE ``write()`` (shorter than ``PIPE_BUF``, so lines written
concurrently to the same pipe never mix)::

    channel stdout                              channel stderr
    T start 2                                   T start 2
    T d @facts <seq> <b64>   (zero or more)
    T n @facts o <lines> <chars>
    T end @facts
    T d <id> <seq> <b64>     (zero or more)     T d <id> <seq> <b64>     (zero or more)
    T n <id> o <lines> <chars>                  T n <id> e <lines> <chars>
    T end <id> <rc> <start_ns> <end_ns>
    T skip <id> <family>
    T done                                      T done

``d`` lines carry a piece of the base64 encoding (RFC 4648 alphabet; whole 76-character lines of
``base64`` joined up to about 1 KiB) of the probe's stdout
(on channel stdout) or stderr (on channel stderr), capped on the target to whole lines holding at least
``output_cap + 1`` bytes so the parser can tell that the cap was exceeded; ``<seq>`` numbers them 1, 2,
3... per id and channel. The ``n`` line closes that stream's part of the record: how many ``d`` lines
it wrote and how many base64 characters they held. ``end`` (channel stdout) carries the exit code and
the probe's start and end times; it is written when the probe has exited, so it may come before or
after the ``n`` lines. Lines of one probe keep their order within a channel; lines of different probes
interleave freely.

A record is accepted only when its ``end`` line is well formed and, on each channel (in any order), the ``d`` lines
received for the id are numbered 1..N without gap or repeat, N and their character total match the
``n`` line, and they decode as base64. A line with the token but a wrong word count or a non-base64
payload (two writes merged, a cut line) is dropped, so its record no longer matches and comes back
``missing``, with the data that arrived before the damage, flagged truncated. The first complete
record of an id wins.

Probe bytes never reach the stream raw: a base64 payload never contains a space, so no probe output
can look like a framing line, even if the probe knows the token; and the probe holds none of the
script's descriptors. Lines not starting with ``T`` and a space (motd, sudo warnings, shell noise) are
ignored.
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

SCRIPT_VERSION = 2
KILL_AFTER_S = 2  # grace between TERM and KILL when a probe overruns its time limit
FACTS_ID = "@facts"
RENICE = 10  # the whole script runs at this lower CPU priority
# base64 lines (76 characters each, a multiple of 4) are joined into data lines of about this many
# characters: less framing to send and parse, one write() each, still far below PIPE_BUF (4096).
JOINED_CHARS = 1024
MAX_JOBS = 64  # probes run at once, at most
MAX_REQUESTS = 999  # job numbers travel through the queue pipe as three digits

_PROBE_ID = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)*")
_RECORD_ID = re.compile(rb"@facts|[a-z0-9_]+(?:\.[a-z0-9_]+)*")
_TOKEN = re.compile(r"[0-9a-f]{32}")
_PAYLOAD = re.compile(rb"[A-Za-z0-9+/]+={0,2}")  # one base64 line: never empty, never a space
_COUNT = re.compile(rb"[0-9]{1,12}")
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
# their own `sh -c`, so they see none of this anyway). fd 3/4 are the channel's stdout/stderr; fd 6
# routes the probe's stdout past the stderr pipe; fd 7 is the job queue while the workers start. The
# probe gets none of fds 3-7 and /dev/null as stdin, so it can only write into its two encoded pipes.
# Each probe costs eight processes (the pipeline's subshells, `timeout`, `sh`, and a `base64` and an
# `awk` per stream): the wrapper is kept that small because it runs for every probe. Times come from
# /proc/uptime through the `read` builtin (10 ms steps, no process), else from `date +%s%N`.
_PRELUDE = r"""export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 077
cd / || exit 1
unset IFS CDPATH ENV BASH_ENV
unset -f timeout head cat base64 date sh kill wait printf uname id systemctl awk dd renice echo command 2>/dev/null
"""

# _atag joins base64 lines into `T d <id> <seq> <b64>` lines of about JOINED_CHARS characters, one
# write() each (fflush() after every print: stdio would otherwise hand the pipe 4 KiB blocks that cut
# lines), then closes the part with
# `T n <id> <o|e> <lines> <chars>`. fflush() is in mawk, gawk and busybox awk. It is also the output cap:
# it keeps whole base64 lines until it holds the characters of cap + 1 bytes, and reads the rest
# without keeping it, so a probe never dies of a closed pipe however much it prints (what it prints
# beyond the cap costs the target encoding time only, within the probe's own time limit). The exit
# code and the times travel on the probe's `end` line, written when the probe has exited; the record is
# whole when that line and both count lines are in, in whatever order they arrive.
#
# The job queue: the main shell writes the job numbers (three digits each, in queue order) into a pipe
# whose readers are the worker subshells; a free worker takes the next job with one read() of 3 bytes
# (`dd bs=3 count=1`): reads of one pipe are atomic with respect to each other, so two workers never
# share a job or split one. Each job number is written by its own printf, i.e. one 3-byte write(), so
# the pipe only ever holds whole job numbers (one printf of the whole list would rely on the shell
# handing all of it to a single write(), which depends on the shell's output buffering: dash and bash
# do, nothing promises it). A worker stops when the pipe is empty and closed. Nothing is written on
# the target: no temporary file, no FIFO, only pipes and shell variables. Without `dd` on the target
# the probes run one after another in the main shell, as with jobs=1.
_FUNCTIONS = r"""_atag() {
  awk -v d="$_at d $1 " -v n="$_at n $1 $2 " -v m="$3" '
    c < m { b = b $0; c += length($0); if (length(b) >= __JOIN__) { k++; print d k " " b; fflush(); b = "" } }
    END { if (b != "") { k++; print d k " " b; fflush() } printf "%s%d %d\n", n, k, c; fflush() }'
}
_anow() {
  if read _au _ 2>/dev/null </proc/uptime; then _anow=${_au%.*}${_au#*.}0000000
  else _anow=$(date +%s%N 2>/dev/null)
  fi
}
_aprobe() {
  _anow
  _as=$_anow
  { { { timeout -k __KILL_AFTER__ "$2" sh -c "$4" </dev/null 3>&- 4>&- 6>&- 7>&- &
        _apid=$!
        wait "$_apid" 2>/dev/null
        _ar=$?
        kill -9 -"$_apid" 2>/dev/null
        _anow
        printf '%s end %s %s %s %s\n' "$_at" "$1" "$_ar" "$_as" "$_anow" >&3
      } 2>&1 1>&6 | base64 | _atag "$1" e "$3" >&4
    } 6>&1 | base64 | _atag "$1" o "$3" >&3
  } </dev/null
}
_askip() {
  printf '%s skip %s %s\n' "$_at" "$1" "$_afam" >&3
}
_aworker() {
  while _aj=$(dd bs=3 count=1 2>/dev/null) && [ -n "$_aj" ]; do
    _arun "$_aj" </dev/null
  done
}
_aqueue() {
  _an=$1
  shift
  for _aj in "$@"; do printf '%s' "$_aj"; done | {
    exec 7<&0 </dev/null
    while [ "$_an" -gt 0 ]; do
      _aworker <&7 7<&- &
      _an=$((_an - 1))
    done
    exec 7<&-
    wait
  }
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
  } | base64 | _atag "__FACTS_ID__" o 65536 >&3
  printf '%s end %s\n' "$_at" "__FACTS_ID__" >&3
}
"""


def _kept_chars(output_cap: int) -> int:
    """Base64 characters that encode cap + 1 bytes: what a stream keeps, so the parser can see overflow."""
    return 4 * -(-(output_cap + 1) // 3)


def queue_order(requests: Sequence[ProbeRequest]) -> list[ProbeRequest]:
    """The order probes are started in: the slow ones first, then the others, each in the given order."""
    return [r for r in requests if r.slow] + [r for r in requests if not r.slow]


def build_script(
    requests: Sequence[ProbeRequest], token: str, *, os_family_hint: str | None = None, jobs: int = 4
) -> str:
    """The whole batch as one POSIX sh script, to be fed to ``sh -s`` on stdin.

    The body is function definitions followed by one call, so the shell parses everything before
    running anything: a script cut in transit runs nothing at all. ``os_family_hint`` (the inventory's
    ``os_family``) is used only when the target itself gives no usable answer. ``jobs`` probes run at
    once (1: one after another, in the main shell, without the queue; so also when the target has no
    ``dd``).
    """
    if not _TOKEN.fullmatch(token):
        raise ValueError("token must be 32 lowercase hex characters (use new_token())")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS:
        raise ValueError(f"jobs must be an integer from 1 to {MAX_JOBS}")
    if len(requests) > MAX_REQUESTS:
        raise ValueError(f"at most {MAX_REQUESTS} probes fit in one script, got {len(requests)}")
    hint = os_family_hint if os_family_hint in _FAMILIES else "unknown"
    seen: set[str] = set()
    for request in requests:
        if not _PROBE_ID.fullmatch(request.probe_id):
            raise ValueError(f"probe id {request.probe_id!r} must match [a-z0-9_]+(.[a-z0-9_]+)*")
        if request.probe_id in seen:
            raise ValueError(f"duplicate probe id {request.probe_id!r}")
        seen.add(request.probe_id)
    arms: list[str] = []
    numbers: list[str] = []
    for number, request in enumerate(queue_order(requests), start=1):
        call = " ".join(
            (
                "_aprobe",
                request.probe_id,
                _format_seconds(request.timeout_s),
                str(_kept_chars(request.output_cap)),
                shell_quote(request.command),
            )
        )
        if request.os_families:
            families = "|".join(shell_quote(family) for family in request.os_families)
            call = f"case $_afam in {families}) {call} ;; *) _askip {request.probe_id} ;; esac"
        numbers.append(f"{number:03d}")
        arms.append(f"    {number:03d}) {call} ;;")
    functions = (
        _FUNCTIONS.replace("__KILL_AFTER__", str(KILL_AFTER_S))
        .replace("__JOIN__", str(JOINED_CHARS))
        .replace("__FAMILY_HINT__", hint)
        .replace("__FACTS_ID__", FACTS_ID)
    )
    dispatch = ["_arun() {", "  case $1 in", *arms, "  esac", "}"]
    workers = min(jobs, len(numbers))
    job_list = " ".join(numbers)
    if not numbers:
        run = []
    elif workers == 1:
        run = [f'  for _aj in {job_list}; do _arun "$_aj"; done']
    else:
        run = [
            f"  _ajobs={workers}",
            "  command -v dd >/dev/null 2>&1 || _ajobs=1",
            '  if [ "$_ajobs" -gt 1 ]; then',
            f'    _aqueue "$_ajobs" {job_list}',
            "  else",
            f'    for _aj in {job_list}; do _arun "$_aj"; done',
            "  fi",
        ]
    body = "\n".join(
        [
            *dispatch,
            "_amain() {",
            f"  _at={token}",
            f"  renice -n {RENICE} -p $$ >/dev/null 2>&1 || true",
            f"  printf '%s start {SCRIPT_VERSION}\\n' \"$_at\" >&3",
            f"  printf '%s start {SCRIPT_VERSION}\\n' \"$_at\" >&4",
            "  _afacts",
            *run,
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
class _Part:
    """One channel's share of one record: its data lines and, once closed, the tagger's count line."""

    chunks: list[bytes] = field(default_factory=list)  # data lines 1..k, contiguous
    count: tuple[int, int] | None = None  # (lines, base64 characters) from the `n` line; None: still open
    broken: bool = False  # a line went missing, came twice or out of order: later lines are not kept

    @property
    def whole(self) -> bool:
        return not self.broken and self.count == (len(self.chunks), sum(len(chunk) for chunk in self.chunks))


@dataclass
class _Scan:
    started: bool = False
    done: bool = False
    parts: dict[str, list[_Part]] = field(default_factory=dict)  # per id, in stream order
    commits: dict[str, list[list[bytes]]] = field(default_factory=dict)  # per id: words after "end <id>"
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Found:
    complete: bool
    stdout: bytes
    stderr: bytes
    end: list[bytes]  # the commit line's words after "end <id>" (empty when incomplete)


@dataclass(frozen=True)
class StreamSummary:
    """What the framing itself says about the batch, beside the observations."""

    started: bool  # the script's first record came back (the shell ran: sudo, if any, accepted)
    finished: bool  # the script's last record came back on stdout
    records: int  # ids with a commit or skip line on stdout
    probes_wall_s: float | None = None  # from the first probe's start to the last probe's end, on the target


def _open_part(scan: _Scan, name: str) -> _Part:
    parts = scan.parts.setdefault(name, [])
    if not parts or parts[-1].count is not None:
        parts.append(_Part())
    return parts[-1]


def _scan(stream: bytes, token: str, channel: bytes) -> _Scan:
    """Sort one channel's lines by id. Tolerates noise, a cut stream, merged lines and hostile content.

    ``channel`` is ``b"o"`` (stdout: data, counts, commits, skips) or ``b"e"`` (stderr: data, counts).
    """
    scan = _Scan()
    prefix = token.encode() + b" "
    lines = stream.split(b"\n")
    lines.pop()  # the last piece is not newline-terminated: a cut line (or b"") never counts
    for line in lines:
        if not line.startswith(prefix):
            continue  # noise: motd, sudo warnings, a framing line merged behind noise
        words = line[len(prefix) :].split(b" ")
        kind = words[0]
        if kind in (b"d", b"n", b"end", b"skip") and (len(words) < 2 or not _RECORD_ID.fullmatch(words[1])):
            continue
        name = words[1].decode("ascii") if len(words) > 1 else ""
        if kind == b"d":
            if len(words) == 4 and _COUNT.fullmatch(words[2]) and _PAYLOAD.fullmatch(words[3]):
                part = _open_part(scan, name)
                if not part.broken and int(words[2]) == len(part.chunks) + 1:
                    part.chunks.append(words[3])
                else:
                    part.broken = True
            # else: garbled (two writes merged, a cut line): dropped, so the next line's number is wrong
        elif kind == b"n":
            if len(words) == 5 and words[2] == channel and _COUNT.fullmatch(words[3]) and _COUNT.fullmatch(words[4]):
                _open_part(scan, name).count = (int(words[3]), int(words[4]))
        elif kind == b"end" and channel == b"o":
            scan.commits.setdefault(name, []).append(words[2:])
        elif kind == b"skip" and channel == b"o" and len(words) == 3:
            scan.skipped.setdefault(name, words[2].decode("ascii", "replace"))
        elif kind == b"start":
            scan.started = True
        elif kind == b"done" and len(words) == 1:
            scan.done = True
    return scan


def _strict(chunks: list[bytes]) -> bytes | None:
    try:
        return base64.b64decode(b"".join(chunks), validate=True)
    except (binascii.Error, ValueError):
        return None


def _lenient(chunks: list[bytes]) -> bytes:
    """What decodes of an incomplete part's lines: GNU base64 lines are 76 characters, each decodes alone."""
    whole = _strict(chunks)
    if whole is not None:
        return whole
    out = bytearray()
    for chunk in chunks:
        try:
            out += base64.b64decode(chunk, validate=True)
        except (binascii.Error, ValueError):
            continue
    return bytes(out)


def _find(name: str, out: _Scan, err: _Scan, *, end_words: int, with_stderr: bool) -> _Found | None:
    """The first complete record of ``name``, else what arrived of it (None: nothing at all).

    The k-th commit line of an id closes its k-th part on each channel (the script writes one record
    per id; repeats only come from hand-made streams).
    """
    commits = out.commits.get(name, [])
    outs = out.parts.get(name, [])
    errs = err.parts.get(name, []) if with_stderr else []
    for k, end in enumerate(commits):
        if len(end) != end_words or k >= len(outs) or not outs[k].whole:
            continue
        rc = _int(end[0]) if end_words else 0
        if rc is None or not 0 <= rc <= 255:
            continue
        stdout = _strict(outs[k].chunks)
        stderr: bytes | None = b""
        if with_stderr:
            if k >= len(errs) or not errs[k].whole:
                continue
            stderr = _strict(errs[k].chunks)
        if stdout is None or stderr is None:
            continue
        return _Found(complete=True, stdout=stdout, stderr=stderr, end=end)
    if not (commits or outs or errs):
        return None
    stdout = _lenient(outs[0].chunks) if outs else b""
    stderr = _lenient(errs[0].chunks) if errs else b""
    return _Found(complete=False, stdout=stdout, stderr=stderr, end=[])


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


def _facts(out: _Scan, err: _Scan) -> HostFacts:
    found = _find(FACTS_ID, out, err, end_words=0, with_stderr=False)
    if found is None or not found.complete:
        return HostFacts()
    values: dict[str, str] = {}
    for line in found.stdout.decode("utf-8", "replace").splitlines():
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
    found = _find(pid, out, err, end_words=3, with_stderr=True)
    if found is None:
        if pid in out.skipped:
            return Observation(outcome=ProbeOutcome.skipped, **base)
        return Observation(outcome=ProbeOutcome.missing, **base)

    cap = request.output_cap
    stdout, stderr = found.stdout[:cap], found.stderr[:cap]
    if not found.complete:
        # cut, garbled or uncommitted: whatever arrived is kept, never passed off as the whole output
        return Observation(outcome=ProbeOutcome.missing, stdout=stdout, stderr=stderr, truncated=True, **base)
    truncated = len(found.stdout) > cap or len(found.stderr) > cap  # the target kept cap + 1 bytes

    rc, start_ns, end_ns = (_int(word) for word in found.end)
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
    scan = _scan(stdout, token, b"o")
    times = [
        (start, end)
        for commits in scan.commits.values()
        for words in commits
        if len(words) == 3 and (start := _int(words[1])) is not None and (end := _int(words[2])) is not None
    ]
    wall = (max(end for _, end in times) - min(start for start, _ in times)) / 1e9 if times else None
    return StreamSummary(
        started=scan.started,
        finished=scan.done,
        records=len(scan.commits.keys() | scan.skipped),
        probes_wall_s=wall if wall is not None and 0 <= wall < 1e7 else None,
    )


def parse_stream(
    stdout: bytes,
    stderr: bytes,
    requests: Sequence[ProbeRequest],
    token: str,
    collected_at: datetime,
) -> tuple[HostFacts, dict[str, Observation]]:
    """Split the two channel streams back into host facts and one observation per request.

    Never raises on stream content: noise is ignored, a cut, garbled or incomplete record makes its
    probe ``missing`` (with the bytes that did arrive, flagged truncated), records for unknown probe
    ids are dropped.
    """
    out = _scan(stdout, token, b"o")
    err = _scan(stderr, token, b"e")
    facts = _facts(out, err)
    observations = {request.probe_id: _observation(request, out, err, collected_at) for request in requests}
    return facts, observations
