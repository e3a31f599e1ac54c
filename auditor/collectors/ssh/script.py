r"""The batched probe script and its stream format. Pure functions: no I/O, no network.

One POSIX ``sh`` script (dash and bash) carries every probe of a host. The collector sends it on the
stdin of a single ``sh -s`` (or ``sudo -n sh -s``) exec request and splits the two output streams back
into observations with :class:`~auditor.collectors.ssh.stream.StreamParser`.

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

How the collector reads the stream back, in bounded memory and whatever the target sends, is in
:mod:`auditor.collectors.ssh.stream` (``parse_stream`` and ``summarize_stream`` are re-exported here).

Probe bytes never reach the stream raw: a base64 payload never contains a space, so no probe output
can look like a framing line, even if the probe knows the token; and the probe holds none of the
script's descriptors.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from auditor.collectors.ssh.stream import (
    FACTS_CHARS,
    FACTS_ID,
    JOINED_CHARS,
    StreamSummary,
    kept_chars,
    parse_stream,
    summarize_stream,
)
from auditor.evaluation.observations import ProbeRequest

__all__ = [
    "FACTS_ID",
    "JOINED_CHARS",
    "StreamSummary",
    "build_script",
    "new_token",
    "parse_stream",
    "queue_order",
    "shell_quote",
    "summarize_stream",
]

SCRIPT_VERSION = 2
KILL_AFTER_S = 2  # grace between TERM and KILL when a probe overruns its time limit
RENICE = 10  # the whole script runs at this lower CPU priority
MAX_JOBS = 64  # probes run at once, at most
MAX_REQUESTS = 999  # job numbers travel through the queue pipe as three digits

_PROBE_ID = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)*")
_TOKEN = re.compile(r"[0-9a-f]{32}")
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
  } | base64 | _atag "__FACTS_ID__" o __FACTS_CHARS__ >&3
  printf '%s end %s\n' "$_at" "__FACTS_ID__" >&3
}
"""


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
                str(kept_chars(request.output_cap)),
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
        .replace("__FACTS_CHARS__", str(FACTS_CHARS))
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
