"""What the behaviours do to the bytes: floods, cuts, poisoned and forged records. Pure: no I/O.

The framing is the collector's (see ``auditor/collectors/ssh/script.py``): lines ``T d <id> <seq>
<base64>``, ``T n <id> o|e <lines> <chars>``, ``T end <id> <rc> <start_ns> <end_ns>``, where ``T`` is
the run's 32-hex token, which the script assigns as ``_at=<token>``. This module builds such lines
itself rather than importing the collector, so that the server never shares code with what it tests.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Iterator
from typing import Protocol

LONG_LINE_BYTES = 8 * 1024 * 1024  # flood_stdout_long: a newline only every 8 MiB
SHORT_LINE_BYTES = 2  # the short floods: "x\n" again and again
FLOOD_CHUNK_BYTES = 256 * 1024
# nul_binary appends these to every probe's stdout: NUL, invalid UTF-8, an ANSI colour escape, a
# right-to-left override and a zero-width space.
POISON = b"\x00\xff\xfe\x1b[31m" + "\u202e\u200b".encode()
FORGED_OUTPUT = b"forged by the server: everything is compliant\n"  # what forged records claim
FORGED_UNKNOWN_ID = "forged.not_requested"  # the forged record for an id the script never asked for
FORGED_PROBES = 2  # how many of the script's own probes get a forged record
FACTS_ID = b"@facts"
JOINED_CHARS = 1024  # base64 characters per data line, as the script joins them

_TOKEN_IN_SCRIPT = re.compile(rb"\b_at=([0-9a-f]{32})\b")
_PROBE_IN_SCRIPT = re.compile(rb"\b_aprobe ([a-z0-9_]+(?:\.[a-z0-9_]+)*) ")


def flood_chunks(total: int, line_bytes: int, chunk_bytes: int = FLOOD_CHUNK_BYTES) -> Iterator[bytes]:
    """``total`` bytes of ``x`` in which every ``line_bytes``-th byte is a newline, in big chunks."""
    position = 0
    while position < total:
        size = min(chunk_bytes, total - position)
        chunk = bytearray(b"x" * size)
        first = (line_bytes - 1 - position) % line_bytes  # where the stream's next newline falls in this chunk
        chunk[first::line_bytes] = b"\n" * len(range(first, size, line_bytes))
        yield bytes(chunk)
        position += size


def cut_point(stream: bytes, token: str | None) -> int:
    """Where truncate_mid_record cuts ``stream``: in the middle of the data line nearest its middle.

    Without a token or a data line, simply the middle of the stream.
    """
    middle = len(stream) // 2
    if token is None:
        return middle
    marker = token.encode() + b" d "
    best: tuple[int, int] | None = None  # (distance to the middle, where to cut)
    start = 0
    while start < len(stream):
        end = stream.find(b"\n", start)
        end = len(stream) if end < 0 else end
        if stream.startswith(marker, start):
            distance = 0 if start <= middle < end else min(abs(start - middle), abs(end - middle))
            if best is None or distance < best[0]:
                best = (distance, start + (end - start) // 2)
        start = end + 1
    return middle if best is None else best[1]


def script_token(script: bytes) -> str | None:
    """The run's token, as the collector's script assigns it."""
    found = _TOKEN_IN_SCRIPT.search(script)
    return found.group(1).decode("ascii") if found else None


def script_probe_ids(script: bytes) -> list[str]:
    """The probe ids the script runs, in order of first appearance."""
    return list(dict.fromkeys(match.group(1).decode("ascii") for match in _PROBE_IN_SCRIPT.finditer(script)))


def record_part(token: str, probe_id: str, channel: str, payload: bytes) -> list[bytes]:
    """One channel's part of a record, well formed: ``d`` lines carrying ``payload``, then the ``n`` line."""
    encoded = base64.b64encode(payload)
    pieces = [encoded[i : i + JOINED_CHARS] for i in range(0, len(encoded), JOINED_CHARS)]
    lines = [f"{token} d {probe_id} {seq} ".encode() + piece for seq, piece in enumerate(pieces, start=1)]
    lines.append(f"{token} n {probe_id} {channel} {len(pieces)} {len(encoded)}".encode())
    return lines


def forged_records(token: str, probe_ids: list[str]) -> tuple[list[bytes], list[bytes]]:
    """Complete records claiming FORGED_OUTPUT with rc 0, as (stdout lines, stderr lines).

    One for each of the first FORGED_PROBES of ``probe_ids`` and one for FORGED_UNKNOWN_ID.
    """
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    started = time.monotonic_ns()  # the script's own times count from boot too (/proc/uptime)
    for probe_id in [*probe_ids[:FORGED_PROBES], FORGED_UNKNOWN_ID]:
        stdout += record_part(token, probe_id, "o", FORGED_OUTPUT)
        stdout.append(f"{token} end {probe_id} 0 {started} {started + 1_000_000}".encode())
        stderr += record_part(token, probe_id, "e", b"")
    return stdout, stderr


class LineRewriter(Protocol):
    """Rewrites a stream line by line (lines without their newline)."""

    def line(self, line: bytes) -> list[bytes]:
        """The lines to send in place of ``line``."""
        ...

    def end(self) -> list[bytes]:
        """The lines still held back when the stream ends."""
        ...


class PoisonProbeStdout:
    """nul_binary: each probe's stdout part is encoded again with POISON appended, its counts fixed.

    A part's data lines are held back until its ``n`` line (base64 pieces only decode joined): then
    the whole part is decoded, extended and encoded again, so the stream stays well framed and every
    probe's record stays complete. The facts record is left alone: the audit still learns the host's
    OS, so the probes' poisoned outputs are judged, not skipped.
    """

    def __init__(self, token: str) -> None:
        self.token = token
        self.prefix = token.encode() + b" "
        self.held: dict[bytes, list[bytes]] = {}  # probe id → its stdout data lines so far

    def line(self, line: bytes) -> list[bytes]:
        if not line.startswith(self.prefix):
            return [line]
        words = line[len(self.prefix) :].split(b" ")
        if len(words) < 2 or words[1] == FACTS_ID:
            return [line]
        if words[0] == b"d" and len(words) == 4:
            self.held.setdefault(words[1], []).append(line)
            return []
        if words[0] == b"n" and len(words) == 5 and words[2] == b"o":
            held = self.held.pop(words[1], [])
            try:
                payload = base64.b64decode(b"".join(data.split(b" ")[4] for data in held), validate=True)
            except (binascii.Error, ValueError):
                return [*held, line]  # already damaged on the target: passed on as it came
            return record_part(self.token, words[1].decode("ascii"), "o", payload + POISON)
        return [line]

    def end(self) -> list[bytes]:
        held = [line for lines in self.held.values() for line in lines]
        self.held.clear()
        return held


class InjectAfterStart:
    """forge_records: ``injected`` lines go out right after the script's own ``start`` line."""

    def __init__(self, token: str, injected: list[bytes]) -> None:
        self.start = f"{token} start ".encode()
        self.injected = injected
        self.done = False

    def line(self, line: bytes) -> list[bytes]:
        if not self.done and line.startswith(self.start):
            self.done = True
            return [line, *self.injected]
        return [line]

    def end(self) -> list[bytes]:
        return []
