"""Properties of the batched script's stream parser, through its public API only
(`parse_stream`, `summarize_stream`), on streams framed as the stream format (version 2) describes:

- it never raises, whatever the bytes;
- every requested probe gets exactly one observation, and no unrequested id gets one;
- a record that arrives whole and unmutated is parsed back to exactly the bytes that were encoded
  (capped at the request's output cap, flagged truncated beyond it), with its exit code;
- a probe of which nothing arrived is `missing`, with no output; a probe only skipped is `skipped`.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import event, given, settings
from hypothesis import strategies as st

from auditor.collectors.ssh.script import parse_stream, summarize_stream
from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome, ProbeRequest
from tests.fuzz.budget import examples

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TOKENS = st.text("0123456789abcdef", min_size=32, max_size=32)
PROBE_IDS = ["ok", "a1", "sshd_root_login", "x.y", "source.sshd_effective", "z_9.q_1", "b", "c2"]
BASE64_LINE = 76  # GNU base64 wraps its output at 76 characters
KINDS = (b"d", b"n", b"end", b"skip")


@dataclass(frozen=True)
class Record:
    probe_id: str
    stdout: bytes
    stderr: bytes
    rc: int
    start_ns: int
    end_ns: int


@dataclass(frozen=True)
class Stream:
    token: str
    requests: list[ProbeRequest]
    records: dict[str, Record]  # probe id → what it printed (requested or not)
    skipped: list[str]
    stdout: list[bytes]  # lines, each with its newline
    stderr: list[bytes]


def _part(token: str, probe_id: str, channel: str, payload: bytes, grouping: list[int]) -> list[bytes]:
    """`d` lines holding whole 76-character base64 lines joined in groups, then the `n` line."""
    encoded = base64.b64encode(payload).decode()
    wrapped = [encoded[i : i + BASE64_LINE] for i in range(0, len(encoded), BASE64_LINE)]
    chunks, taken = [], 0
    while taken < len(wrapped):
        size = grouping[len(chunks) % len(grouping)]
        chunks.append("".join(wrapped[taken : taken + size]))
        taken += size
    lines = [f"{token} d {probe_id} {seq} {chunk}\n".encode() for seq, chunk in enumerate(chunks, start=1)]
    return [*lines, f"{token} n {probe_id} {channel} {len(chunks)} {len(encoded)}\n".encode()]


def _interleave(sequences: list[list[bytes]], rng: random.Random) -> list[bytes]:
    """Lines of concurrent probes mix freely; each probe's own lines keep their order."""
    queues = [list(reversed(seq)) for seq in sequences if seq]
    merged = []
    while queues:
        queue = rng.choice(queues)
        merged.append(queue.pop())
        if not queue:
            queues.remove(queue)
    return merged


PAYLOADS = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"", b"\x00", b"no\n", "Báo Sóc Trăng\n".encode(), b"\xff\xfe\x00\n" * 20]),
    st.integers(1000, 20_000).map(lambda n: bytes(i % 251 for i in range(n))),
)


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    token = draw(TOKENS)
    ids = draw(st.permutations(PROBE_IDS))[: draw(st.integers(1, 6))]
    requested = ids[: draw(st.integers(0, len(ids)))]
    requests = [
        ProbeRequest(
            probe_id=probe_id,
            command=f"probe {probe_id}",
            timeout_s=draw(st.sampled_from([1.0, 20.0])),
            output_cap=draw(st.sampled_from([1, 64, 1000, 256 * 1024])),
        )
        for probe_id in requested
    ]
    # Each id either printed a record, was skipped (wrong OS family) or never ran (the batch died first).
    fates = {probe_id: draw(st.sampled_from(["record", "record", "skip", "none"])) for probe_id in ids}
    rng = draw(st.randoms(use_true_random=False))
    grouping = draw(st.lists(st.integers(1, 14), min_size=1, max_size=3))
    records: dict[str, Record] = {}
    out_parts: list[list[bytes]] = []
    err_parts: list[list[bytes]] = []
    for probe_id, fate in fates.items():
        if fate == "skip":
            out_parts.append([f"{token} skip {probe_id} {draw(st.sampled_from(['debian', 'rhel']))}\n".encode()])
        if fate != "record":
            continue
        start = draw(st.integers(0, 10**15))
        record = Record(
            probe_id,
            draw(PAYLOADS),
            draw(PAYLOADS),
            draw(st.one_of(st.integers(0, 255), st.sampled_from([0, 1, 124, 137]))),
            start,
            start + draw(st.integers(0, 10**11)),
        )
        records[probe_id] = record
        out = _part(token, probe_id, "o", record.stdout, grouping)
        # the exit line is written when the probe has exited: before, among or after its output lines
        end = f"{token} end {probe_id} {record.rc} {record.start_ns} {record.end_ns}\n".encode()
        out.insert(rng.randint(0, len(out)), end)
        out_parts.append(out)
        err_parts.append(_part(token, probe_id, "e", record.stderr, grouping))
    facts = b"hostname=web1\nos_id=debian\nos_family=debian\nkernel=6.1.0\nuid=0\nsystemd=yes\n"
    header = [f"{token} start 2\n".encode()]
    facts_lines = [*_part(token, "@facts", "o", facts, grouping), f"{token} end @facts\n".encode()]
    stdout = [*header, *facts_lines, *_interleave(out_parts, rng), f"{token} done\n".encode()]
    stderr = [*header, *_interleave(err_parts, rng), f"{token} done\n".encode()]
    return Stream(token, requests, records, [i for i, f in fates.items() if f == "skip"], stdout, stderr)


NOISE = st.sampled_from(
    [
        b"Last login: Mon Jan  1 00:00:00 2026 from 10.0.0.1\n",
        b"sudo: unable to resolve host web1\n",
        b"\x1b[31mmotd\x1b[0m\n",
        b"\n",
        b"\xff\xfe\xfd\n",
        b"d ok 1 QUJD\n",
    ]
)


@st.composite
def mutated(draw: st.DrawFn, lines: list[bytes], token: str) -> list[bytes]:
    """The channel's lines damaged as transfers and hostile targets damage them."""
    lines = list(lines)
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        at = draw(st.integers(0, len(line)))
        op = draw(st.integers(0, 10))
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, line)
        elif op == 2:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 3:  # cut: the line loses its end and its newline, and runs into the next one
            lines[i] = line[: min(at, len(line) - 1)]
        elif op == 4 and line:
            flipped = bytearray(line)
            flipped[min(at, len(line) - 1)] = draw(st.integers(0, 255))
            lines[i] = bytes(flipped)
        elif op == 5:
            lines[i] = (
                line[:at]
                + draw(st.sampled_from([b"\x00", b"\xff", b"\xc3(", b"\xed\xa0\x80", b" ", b"\r"]))
                + line[at:]
            )
        elif op == 6:
            lines.insert(i, draw(NOISE))
        elif op == 7:
            words = draw(
                st.lists(
                    st.sampled_from(
                        [
                            b"d",
                            b"n",
                            b"end",
                            b"skip",
                            b"start",
                            b"done",
                            b"ok",
                            b"@facts",
                            b"1",
                            b"-1",
                            b"o",
                            b"e",
                            b"QUJD",
                            b"====",
                            b"99999999999999999999",
                        ]
                    ),
                    max_size=6,
                )
            )
            lines.insert(i, token.encode() + b" " + b" ".join(words) + b"\n")
        elif op == 8:  # a huge line: a probe spilling raw output, or a forged data line
            huge = draw(st.sampled_from([b"A" * 200_000, token.encode() + b" d ok 1 " + b"QUJD" * 60_000]))
            lines.insert(i, huge + b"\n")
        elif op == 9:  # the transfer stopped here
            lines = [*lines[:i], line[:at]]
        else:
            lines.insert(i, line.replace(b" o ", b" e ") if b" o " in line else line.replace(b" e ", b" o "))
    return lines


def _lines_of(stream: bytes, token: str, probe_id: str) -> list[bytes]:
    """Every complete framing line that names the probe (what the format lets the parser attribute to it)."""
    prefix = token.encode() + b" "
    owned = []
    for line in stream.split(b"\n")[:-1]:
        words = line[len(prefix) :].split(b" ") if line.startswith(prefix) else []
        if len(words) >= 2 and words[0] in KINDS and words[1] == probe_id.encode():
            owned.append(line)
    return owned


def _subsequence(short: list[bytes], long: list[bytes]) -> bool:
    remaining = iter(long)
    return all(any(line == candidate for candidate in remaining) for line in short)


def _check(stream: Stream, stdout: bytes, stderr: bytes) -> None:
    facts, observations = parse_stream(stdout, stderr, stream.requests, stream.token, NOW)
    assert isinstance(facts, HostFacts)
    assert list(observations) == [r.probe_id for r in stream.requests]  # one each, none for other ids
    original_out, original_err = b"".join(stream.stdout), b"".join(stream.stderr)
    for request in stream.requests:
        observation = observations[request.probe_id]
        assert isinstance(observation, Observation)
        assert (observation.probe_id, observation.command, observation.collected_at) == (
            request.probe_id,
            request.command,
            NOW,
        )
        assert len(observation.stdout) <= request.output_cap and len(observation.stderr) <= request.output_cap
        own = [(_lines_of(s, stream.token, request.probe_id)) for s in (stdout, stderr)]
        sent = [(_lines_of(s, stream.token, request.probe_id)) for s in (original_out, original_err)]
        record = stream.records.get(request.probe_id)
        if record is not None and own == sent:  # arrived whole and unmutated
            cap = request.output_cap
            assert observation.outcome in (ProbeOutcome.completed, ProbeOutcome.timed_out), observation
            assert observation.exit_code == record.rc
            assert (observation.stdout, observation.stderr) == (record.stdout[:cap], record.stderr[:cap])
            assert observation.truncated == (len(record.stdout) > cap or len(record.stderr) > cap)
            event("record arrived whole")
        elif own == [[], []]:  # nothing arrived: never a result made up
            assert observation.outcome is ProbeOutcome.missing
            assert (observation.stdout, observation.stderr, observation.exit_code) == (b"", b"", None)
            event("nothing arrived")
        elif record is None and own == sent:  # only its skip line, untouched
            assert observation.outcome is ProbeOutcome.skipped
            event("skip arrived")
        elif record is not None and all(_subsequence(o, s) for o, s in zip(own, sent, strict=True)):
            # lines were lost, none altered or added: never whole, and what it keeps arrived before the gap
            assert observation.outcome is ProbeOutcome.missing and observation.truncated, observation
            assert record.stdout[: request.output_cap].startswith(observation.stdout)
            assert record.stderr[: request.output_cap].startswith(observation.stderr)
            event("record lost lines")
    summary = summarize_stream(stdout, stream.token)
    assert summary.records >= 0
    assert summary.probes_wall_s is None or summary.probes_wall_s >= 0


@settings(max_examples=examples(1500))
@given(stream=streams())
def test_whole_streams_parse_back_exactly(stream: Stream) -> None:
    stdout, stderr = b"".join(stream.stdout), b"".join(stream.stderr)
    _check(stream, stdout, stderr)
    summary = summarize_stream(stdout, stream.token)
    assert summary.started and summary.finished
    assert summary.records == len({"@facts", *stream.records, *stream.skipped})


@settings(max_examples=examples(2500))
@given(data=st.data(), stream=streams())
def test_damaged_streams_never_raise_and_keep_what_arrived_whole(data: st.DataObject, stream: Stream) -> None:
    channel = data.draw(st.sampled_from(["stdout", "stderr", "both"]))
    stdout, stderr = stream.stdout, stream.stderr
    if channel in ("stdout", "both"):
        stdout = data.draw(mutated(stdout, stream.token))
    if channel in ("stderr", "both"):
        stderr = data.draw(mutated(stderr, stream.token))
    _check(stream, b"".join(stdout), b"".join(stderr))


SOUP_WORDS = st.sampled_from(
    [
        b"d",
        b"n",
        b"end",
        b"skip",
        b"start",
        b"done",
        b"ok",
        b"a1",
        b"@facts",
        b"1",
        b"2",
        b"0",
        b"-1",
        b"255",
        b"256",
        b"o",
        b"e",
        b"QUJD",
        b"QQ==",
        b"Q",
        b"====",
        b"!",
        b"\x00",
        b"\xff",
        b"",
        b"99999999999999999999",
        b"debian",
    ]
)


@settings(max_examples=examples(1500))
@given(
    token=TOKENS,
    ids=st.lists(st.sampled_from(PROBE_IDS), max_size=4, unique=True),
    stdout=st.one_of(
        st.binary(max_size=600),
        st.lists(st.lists(SOUP_WORDS, max_size=6), max_size=30).map(
            lambda lines: b"".join(b"\x00TOKEN " + b" ".join(words) + b"\n" for words in lines)
        ),
    ),
    stderr=st.binary(max_size=200),
    prefix_token=st.booleans(),
)
def test_arbitrary_bytes_never_raise(
    token: str, ids: list[str], stdout: bytes, stderr: bytes, prefix_token: bool
) -> None:
    if prefix_token:  # framing-like soup carrying the real token, to reach past the noise filter
        stdout = stdout.replace(b"\x00TOKEN", token.encode())
    requests = [ProbeRequest(probe_id=probe_id, command="true", output_cap=100) for probe_id in ids]
    facts, observations = parse_stream(stdout, stderr, requests, token, NOW)
    assert isinstance(facts, HostFacts)
    assert list(observations) == ids
    for probe_id, observation in observations.items():
        assert observation.probe_id == probe_id
        assert len(observation.stdout) <= 100 and len(observation.stderr) <= 100
        if observation.outcome is ProbeOutcome.completed:
            assert observation.exit_code is not None and 0 <= observation.exit_code <= 255
    summary = summarize_stream(stdout, token)
    assert summary.records >= 0
