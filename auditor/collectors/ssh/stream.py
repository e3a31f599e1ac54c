r"""The batched script's stream, parsed as it arrives, in memory bounded whatever the target sends.

The format (written by :mod:`auditor.collectors.ssh.script`, which documents it line by line): every
framing line is the per-run token, one space, space-separated words and a newline; probe output
travels only as base64 in numbered ``d`` lines, each stream part is closed by an ``n`` count line, and
a probe's ``end`` line on stdout carries its exit code and times.

A record is accepted only when its ``end`` line is well formed and, on each channel (in any order), the
``d`` lines received for the id are numbered 1..N without gap or repeat, N and their character total
match the ``n`` line, and they decode as base64. A line with the token but a wrong word count or a
non-base64 payload (two writes merged, a cut line) is dropped, so its record no longer matches and
comes back ``missing``, with the data that arrived before the damage, flagged truncated. Two complete
records of one probe that differ make it ``conflicting``: the target sent two results for one
question, and neither is judged. Records for ids that were not requested are dropped. Lines not
starting with the token and a space (motd, sudo warnings, shell noise) are ignored.

Memory: only the current partial line of each channel is buffered (a line longer than any framing
line is noise and is skipped up to its newline without being kept); each part keeps its decoded bytes
up to its probe's output cap plus a little, and the host keeps at most ``RETAINED_MAX`` in all; what
goes beyond is hashed and counted, flagged ``truncated``, never kept. The first ``HEAD_BYTES`` of each
channel are kept raw for error messages. The transport stops reading once a host has sent more than
:func:`stream_budget` bytes: more than the script can write for its requests.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome, ProbeRequest

FACTS_ID = "@facts"
# base64 lines (76 characters each, a multiple of 4) are joined into data lines of about this many
# characters: less framing to send and parse, one write() each, still far below PIPE_BUF (4096).
JOINED_CHARS = 1024
BASE64_LINE = 76  # characters per line of base64(1)
FACTS_CHARS = 65536  # base64 characters the script keeps of the facts record
MAX_RECORDS = 4  # records tracked per id and channel: the script writes one, forgeries add more
RETAINED_MAX = 16 * 1024 * 1024  # decoded bytes one host's records may hold in all
HEAD_BYTES = 64 * 1024  # raw bytes kept of each channel's beginning, for error messages
NOISE_SLACK = 4 * 1024 * 1024  # output beyond the records a host may send (motd, sudo, shell warnings)
_KEEP_SLACK = 1024  # decoded bytes kept past a probe's cap + 1 (the target cuts at whole base64 lines)
_ID_MAX = 256  # the longest id assumed when the requests are not known
_TOKEN_CHARS = 32
_SEEN_IDS_MAX = 4096  # distinct ids counted for the summary, at most

_RECORD_ID = re.compile(rb"@facts|[a-z0-9_]+(?:\.[a-z0-9_]+)*")
_PAYLOAD = re.compile(rb"[A-Za-z0-9+/]+={0,2}")  # one base64 line: never empty, never a space
_COUNT = re.compile(rb"[0-9]{1,12}")
_INT = re.compile(rb"-?[0-9]{1,25}")
_FACT_MAX = 512  # characters kept of one fact value
_TIMEOUT_RCS = frozenset({124, 137})  # timeout(1): TERM worked / KILL was needed
_FAMILIES = frozenset({"debian", "rhel"})
_STDOUT, _STDERR = b"o", b"e"


def kept_chars(output_cap: int) -> int:
    """Base64 characters that encode cap + 1 bytes: what the target keeps of a stream, so overflow shows."""
    return 4 * -(-(output_cap + 1) // 3)


def _keep_limit(output_cap: int) -> int:
    return output_cap + 1 + _KEEP_SLACK


def _framed_bytes(chars: int, id_length: int) -> int:
    """The most the script writes for one part of ``chars`` base64 characters, framing included."""
    chars += 2 * BASE64_LINE  # the tagger stops at the first whole line past its limit
    lines = chars // JOINED_CHARS + 2
    per_line = _TOKEN_CHARS + 20 + id_length  # "T d <id> <seq> " and the newline
    return chars + lines * per_line + 4 * (_TOKEN_CHARS + 80 + id_length)  # n, end, skip lines


def stream_budget(requests: Sequence[ProbeRequest]) -> int:
    """Bytes a host may send for these requests, both channels together: all the script can write, plus
    ``NOISE_SLACK``. More than that is not the script's output, and reading stops there."""
    total = 2 * _framed_bytes(FACTS_CHARS, len(FACTS_ID)) + NOISE_SLACK
    for request in requests:
        total += 2 * _framed_bytes(kept_chars(request.output_cap), len(request.probe_id))
    return total


def longest_line(requests: Sequence[ProbeRequest] | None) -> int:
    """The longest framing line the script can write for these requests (without its newline)."""
    id_length = max((len(r.probe_id) for r in requests), default=0) if requests is not None else _ID_MAX
    id_length = max(id_length, len(FACTS_ID))
    return _TOKEN_CHARS + 96 + id_length + JOINED_CHARS + BASE64_LINE


# ---------------------------------------------------------------------------------------------- lines


class LineScanner:
    """One channel's complete lines that start with ``prefix``, from chunks cut anywhere.

    Only the current partial line is held, and only while it could still be a framing line: a line
    longer than ``longest`` is skipped up to its newline without being kept. Complete lines are found
    with one regular expression per chunk, so noise costs no Python work per line.
    """

    def __init__(self, prefix: bytes, longest: int, on_line: Callable[[bytes], None]) -> None:
        self._prefix = prefix
        self._longest = longest
        self._on_line = on_line
        self._pending = bytearray()
        self._skipping = False  # inside a line too long to be framing: drop up to the next newline
        self._framing = re.compile(rb"^" + re.escape(prefix) + rb"([^\n]{0,%d})\n" % longest, re.MULTILINE)

    def feed(self, chunk: bytes) -> None:
        start = 0
        if self._skipping:
            newline = chunk.find(b"\n")
            if newline < 0:
                return
            self._skipping = False
            start = newline + 1
        if self._pending:
            newline = chunk.find(b"\n", start)
            if newline < 0:
                self._hold(chunk, start)
                return
            if len(self._pending) + newline - start <= self._longest + len(self._prefix):
                line = bytes(self._pending) + chunk[start:newline]
                if line.startswith(self._prefix):
                    self._on_line(line[len(self._prefix) :])
            self._pending.clear()
            start = newline + 1
        last = chunk.rfind(b"\n", start)
        if last >= start:
            for match in self._framing.finditer(chunk, start, last + 1):
                self._on_line(match.group(1))
            start = last + 1
        self._hold(chunk, start)

    def _hold(self, chunk: bytes, start: int) -> None:
        """Keep the unterminated rest of ``chunk``, unless it is already too long (or not framing)."""
        size = len(self._pending) + len(chunk) - start
        rest = memoryview(chunk)[start:]
        if size > self._longest + len(self._prefix) or not self._could_be_framing(rest):
            self._pending.clear()
            self._skipping = size > 0
            return
        self._pending += rest

    def _could_be_framing(self, rest: memoryview) -> bool:
        held = len(self._pending)
        if held >= len(self._prefix):
            return True
        wanted = self._prefix[held : held + len(rest)]
        return bytes(rest[: len(wanted)]) == wanted


# ---------------------------------------------------------------------------------------------- records


class _Budget:
    """Decoded bytes the host's records may still keep."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self, wanted: int) -> int:
        granted = min(wanted, self.left)
        self.left -= granted
        return granted


@dataclass
class _Part:
    """One channel's share of one record, decoded as its lines arrive."""

    keep: int  # decoded bytes kept at most (0: only hashed)
    data: bytearray = field(default_factory=bytearray)
    lines: int = 0
    chars: int = 0
    rest: bytes = b""  # base64 characters not yet forming a group of 4
    padded: bool = False  # a line ended with "=": no data may follow
    bad: bool = False  # the joined lines are not valid base64
    broken: bool = False  # a line went missing, came twice or out of order: later lines are not used
    over: bool = False  # more arrived than was kept
    count: tuple[int, int] | None = None  # (lines, characters) from the `n` line; None: still open
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)

    @property
    def whole(self) -> bool:
        return (
            not self.broken
            and not self.bad
            and not self.rest
            and self.count is not None
            and self.count == (self.lines, self.chars)
        )

    def add(self, seq: int, payload: bytes, budget: _Budget) -> None:
        if self.broken or self.count is not None:
            return
        if seq != self.lines + 1:
            self.broken = True
            return
        self.lines += 1
        self.chars += len(payload)
        if self.bad:
            return
        if self.padded:
            self.bad = True
            return
        self.padded = payload.endswith(b"=")
        joined = self.rest + payload
        whole = len(joined) - len(joined) % 4
        self.rest = joined[whole:]
        try:
            decoded = binascii.a2b_base64(joined[:whole])
        except binascii.Error:
            self.bad = True
            return
        self.digest.update(decoded)
        room = max(0, min(self.keep - len(self.data), len(decoded)))
        kept = budget.take(room)
        if kept < len(decoded):
            self.over = True
        self.data += decoded[:kept]

    def release(self) -> None:
        self.data = bytearray()


@dataclass(frozen=True)
class _Record:
    stdout: bytes
    stderr: bytes
    end: list[bytes]
    cut: bool  # more arrived than was kept
    digest: bytes


@dataclass
class _Track:
    """Everything that arrived for one requested id."""

    keep: int
    end_words: int  # words after "end <id>": 3 for a probe (rc, start, end), 0 for the facts
    with_stderr: bool
    parts: dict[bytes, list[_Part]] = field(default_factory=lambda: {_STDOUT: [], _STDERR: []})
    ends: list[list[bytes]] = field(default_factory=list)
    judged: set[int] = field(default_factory=set)
    chosen: _Record | None = None
    conflicting: bool = False  # two complete records differ, or more came than can be compared
    skipped: str | None = None

    def part(self, channel: bytes) -> _Part | None:
        parts = self.parts[channel]
        if not parts or parts[-1].count is not None:
            if len(parts) >= MAX_RECORDS:
                self.conflicting = True
                return None
            parts.append(_Part(keep=0 if self.chosen is not None else self.keep))
        return parts[-1]

    def add_end(self, words: list[bytes]) -> None:
        if len(self.ends) >= MAX_RECORDS:
            self.conflicting = True
            return
        self.ends.append(words)

    def judge_ready(self) -> None:
        """Judge each record whose end line and count lines are all in; free what is no longer needed."""
        outs, errs = self.parts[_STDOUT], self.parts[_STDERR]
        for k, end in enumerate(self.ends):
            if k in self.judged or k >= len(outs) or outs[k].count is None:
                continue
            if self.with_stderr and (k >= len(errs) or errs[k].count is None):
                continue
            self.judged.add(k)
            out = outs[k]
            err = errs[k] if self.with_stderr else _Part(keep=0, count=(0, 0))
            if self._valid(end) and out.whole and err.whole:
                digest = hashlib.sha256(out.digest.digest() + err.digest.digest() + b" ".join(end[:1])).digest()
                if self.chosen is None:
                    self.chosen = _Record(bytes(out.data), bytes(err.data), end, out.over or err.over, digest)
                elif digest != self.chosen.digest:
                    self.conflicting = True
                out.release()
                err.release()
            elif k > 0:  # what arrived of the first record is shown if no record is complete
                out.release()
                err.release()

    def _valid(self, end: list[bytes]) -> bool:
        if len(end) != self.end_words:
            return False
        if not self.end_words:
            return True
        rc = _int(end[0])
        return rc is not None and 0 <= rc <= 255

    def arrived(self) -> bool:
        return bool(self.ends or self.parts[_STDOUT] or self.parts[_STDERR])

    def first_data(self, channel: bytes) -> bytes:
        parts = self.parts[channel]
        return bytes(parts[0].data) if parts else b""


def _int(raw: bytes) -> int | None:
    return int(raw) if _INT.fullmatch(raw) else None


@dataclass(frozen=True)
class StreamSummary:
    """What the framing itself says about the batch, beside the observations."""

    started: bool  # the script's first record came back (the shell ran: sudo, if any, accepted)
    finished: bool  # the script's last record came back on stdout
    records: int  # ids with a commit or skip line on stdout
    probes_wall_s: float | None = None  # from the first probe's start to the last probe's end, on the target
    received: int = 0  # bytes read from both channels
    saturated: bool = False  # the host sent more than its budget; reading stopped there


class StreamParser:
    """Both channels of one batched execution, fed in chunks as they arrive (``feed_stdout``,
    ``feed_stderr``), then turned into host facts and observations by ``result``.

    ``requests`` None only summarizes (no record is assembled). ``max_bytes``: once both channels
    together went past it, the parser is ``saturated`` and ignores what follows.
    """

    def __init__(self, requests: Sequence[ProbeRequest] | None, token: str, *, max_bytes: int | None = None) -> None:
        self.requests = list(requests) if requests is not None else None
        self.max_bytes = max_bytes
        self.received = 0
        self.started = False
        self.finished = False
        prefix = token.encode() + b" "
        longest = longest_line(self.requests)
        self._stdout = LineScanner(prefix, longest, self._stdout_line)
        self._stderr = LineScanner(prefix, longest, self._stderr_line)
        self.stdout_head = bytearray()
        self.stderr_head = bytearray()
        self._budget = _Budget(RETAINED_MAX)
        self._tracks: dict[bytes, _Track] = {}
        if self.requests is not None:
            self._tracks[FACTS_ID.encode()] = _Track(keep=FACTS_CHARS, end_words=0, with_stderr=False)
            for request in self.requests:
                self._tracks[request.probe_id.encode()] = _Track(
                    keep=_keep_limit(request.output_cap), end_words=3, with_stderr=True
                )
        self._seen: set[bytes] = set()  # ids with an end or skip line (for the summary)
        self._first_start: int | None = None
        self._last_end: int | None = None

    @property
    def saturated(self) -> bool:
        return self.max_bytes is not None and self.received > self.max_bytes

    def feed_stdout(self, chunk: bytes) -> None:
        if self._count(chunk, self.stdout_head):
            self._stdout.feed(chunk)

    def feed_stderr(self, chunk: bytes) -> None:
        if self._count(chunk, self.stderr_head):
            self._stderr.feed(chunk)

    def _count(self, chunk: bytes, head: bytearray) -> bool:
        if self.saturated:
            return False
        self.received += len(chunk)
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        return True

    # lines

    def _stdout_line(self, body: bytes) -> None:
        self._line(body, _STDOUT)

    def _stderr_line(self, body: bytes) -> None:
        self._line(body, _STDERR)

    def _line(self, body: bytes, channel: bytes) -> None:
        words = body.split(b" ")
        kind = words[0]
        if kind not in (b"d", b"n", b"end", b"skip"):
            if kind == b"start":
                self.started = self.started or channel == _STDOUT
            elif kind == b"done" and len(words) == 1 and channel == _STDOUT:
                self.finished = True
            return
        if len(words) < 2 or not _RECORD_ID.fullmatch(words[1]):
            return
        name = words[1]
        if kind in (b"end", b"skip") and channel == _STDOUT:
            self._note(name, words)
        track = self._tracks.get(name)
        if track is None:
            return  # not requested: dropped
        if kind == b"d":
            if len(words) == 4 and _COUNT.fullmatch(words[2]) and _PAYLOAD.fullmatch(words[3]):
                part = track.part(channel)
                if part is not None:
                    part.add(int(words[2]), words[3], self._budget)
            # else: garbled (two writes merged, a cut line): dropped, so the next line's number is wrong
        elif kind == b"n":
            if len(words) == 5 and words[2] == channel and _COUNT.fullmatch(words[3]) and _COUNT.fullmatch(words[4]):
                part = track.part(channel)
                if part is not None:
                    part.count = (int(words[3]), int(words[4]))
                    track.judge_ready()
        elif kind == b"end" and channel == _STDOUT:
            track.add_end(words[2:])
            track.judge_ready()
        elif kind == b"skip" and channel == _STDOUT and len(words) == 3 and track.skipped is None:
            track.skipped = words[2].decode("ascii", "replace")

    def _note(self, name: bytes, words: list[bytes]) -> None:
        if len(self._seen) < _SEEN_IDS_MAX:
            self._seen.add(name)
        if words[0] == b"end" and len(words) == 5:
            start, end = _int(words[3]), _int(words[4])
            if start is not None and end is not None:
                self._first_start = start if self._first_start is None else min(self._first_start, start)
                self._last_end = end if self._last_end is None else max(self._last_end, end)

    # results

    def summary(self) -> StreamSummary:
        wall = None
        if self._first_start is not None and self._last_end is not None:
            wall = (self._last_end - self._first_start) / 1e9
        return StreamSummary(
            started=self.started,
            finished=self.finished,
            records=len(self._seen),
            probes_wall_s=wall if wall is not None and 0 <= wall < 1e7 else None,
            received=self.received,
            saturated=self.saturated,
        )

    def result(self, collected_at: datetime) -> tuple[HostFacts, dict[str, Observation]]:
        """Host facts and one observation per request, from what arrived; never raises on content."""
        if self.requests is None:
            raise ValueError("this parser was made without requests: it only summarizes")
        facts = _facts(self._tracks[FACTS_ID.encode()])
        observations = {
            request.probe_id: _observation(request, self._tracks[request.probe_id.encode()], collected_at)
            for request in self.requests
        }
        return facts, observations


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
        if value and "\\" in value:
            value = re.sub(r"\\([\\\"$`])", r"\1", value)
    return value[:_FACT_MAX]


def _facts(track: _Track) -> HostFacts:
    if track.chosen is None or track.conflicting:
        return HostFacts()
    values: dict[str, str] = {}
    for line in track.chosen.stdout.decode("utf-8", "replace").splitlines():
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


def _observation(request: ProbeRequest, track: _Track, collected_at: datetime) -> Observation:
    base = {"probe_id": request.probe_id, "command": request.command, "collected_at": collected_at}
    if track.conflicting:
        # two different answers to one question: neither is judged, nor kept as if it were the output
        return Observation(outcome=ProbeOutcome.conflicting, **base)
    cap = request.output_cap
    found = track.chosen
    if found is None:
        if track.arrived():
            # cut, garbled or uncommitted: whatever arrived is kept, never passed off as the whole output
            stdout, stderr = track.first_data(_STDOUT)[:cap], track.first_data(_STDERR)[:cap]
            return Observation(outcome=ProbeOutcome.missing, stdout=stdout, stderr=stderr, truncated=True, **base)
        if track.skipped is not None:
            return Observation(outcome=ProbeOutcome.skipped, **base)
        return Observation(outcome=ProbeOutcome.missing, **base)

    truncated = found.cut or len(found.stdout) > cap or len(found.stderr) > cap  # the target kept cap + 1 bytes
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
        stdout=found.stdout[:cap],
        stderr=found.stderr[:cap],
        duration_s=duration or 0.0,
        truncated=truncated,
        **base,
    )


def summarize_stream(stdout: bytes, token: str) -> StreamSummary:
    """Whether the script started and finished, judged from the channel's stdout alone."""
    parser = StreamParser(None, token)
    parser.feed_stdout(stdout)
    return parser.summary()


def parse_stream(
    stdout: bytes,
    stderr: bytes,
    requests: Sequence[ProbeRequest],
    token: str,
    collected_at: datetime,
) -> tuple[HostFacts, dict[str, Observation]]:
    """Split two whole channel streams back into host facts and one observation per request.

    The same parser the collector feeds chunk by chunk, fed each stream at once. Never raises on stream
    content: noise is ignored, a cut, garbled or incomplete record makes its probe ``missing`` (with
    the bytes that did arrive, flagged truncated), two differing records make it ``conflicting``,
    records for unknown probe ids are dropped.
    """
    parser = StreamParser(requests, token)
    parser.feed_stdout(stdout)
    parser.feed_stderr(stderr)
    return parser.result(collected_at)
