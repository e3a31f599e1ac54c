"""The streaming parser: chunked input gives what whole input gives, memory stays bounded under floods,
differing records of one probe conflict, and a flood or noise ends a host with a clear reason."""

from __future__ import annotations

import base64
import random
import shutil
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.collectors.ssh.collector import SshCollector
from auditor.collectors.ssh.script import build_script, new_token, parse_stream
from auditor.collectors.ssh.stream import (
    HEAD_BYTES,
    MAX_RECORDS,
    LineScanner,
    StreamParser,
    stream_budget,
)
from auditor.collectors.ssh.transport import LocalTransport, OutputSink, RunEnd
from auditor.content.checks import Probe
from auditor.content.loader import load_content
from auditor.errors import ExecError
from auditor.evaluation.evaluate import evaluate, host_error_finding
from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome, ProbeRequest
from auditor.inventory import Host
from auditor.vocabulary import Status

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
MiB = 1024 * 1024
FLOOD = 64 * MiB
HOST = Host(name="h", address="127.0.0.1", use_agent=True)


def probe(probe_id: str, command: str, **kwargs: object) -> ProbeRequest:
    return ProbeRequest(probe_id=probe_id, command=command, **kwargs)  # type: ignore[arg-type]


MIXED = [
    probe("plain", "echo hello; echo warn >&2"),
    probe("fails", "echo out; echo err >&2; exit 3"),
    probe("binary", r"i=0; while [ $i -lt 300 ]; do printf 'a\000b\377\200\n%s\001' $i; i=$((i+1)); done"),
    probe("over_cap", "head -c 100000 /dev/zero; head -c 5000 /dev/zero | tr '\\000' x >&2", output_cap=1000),
    probe("chatty", 'i=0; while [ $i -lt 3000 ]; do echo "warning line $i" >&2; i=$((i+1)); done; echo ok'),
    probe("skipped", "echo never", os_families=("marsos",)),
    probe("big", 'i=0; while [ $i -lt 2000 ]; do echo "line $i of some output"; i=$((i+1)); done'),
    probe("dotted.id", "printf 'no newline'", slow=True),
]


def _shell() -> str:
    return "dash" if shutil.which("dash") else "sh"


@pytest.fixture(scope="module")
def recorded() -> tuple[str, bytes, bytes]:
    """A real stream of the MIXED probes, made by a real shell."""
    token = new_token()
    result = LocalTransport(shell=_shell()).exec("sh -s", build_script(MIXED, token).encode(), 60)
    assert result.exit_status == 0
    return token, result.stdout, result.stderr


def _pieces(data: bytes, rng: random.Random) -> Iterator[bytes]:
    at = 0
    while at < len(data):
        size = rng.choice((1, 2, 3, 7, 64, 500, 4096, 65536))
        yield data[at : at + size]
        at += size


def _key(observation: Observation) -> tuple[object, ...]:
    o = observation
    return (o.outcome, o.exit_code, o.stdout, o.stderr, o.truncated, o.duration_s)


def test_random_chunks_give_what_whole_buffers_give(recorded: tuple[str, bytes, bytes]) -> None:
    token, stdout, stderr = recorded
    facts, whole = parse_stream(stdout, stderr, MIXED, token, NOW)
    assert whole["binary"].stdout.count(b"a\x00b\xff\x80\n") == 300
    assert whole["over_cap"].truncated and whole["over_cap"].stdout == b"\x00" * 1000
    assert whole["skipped"].outcome is ProbeOutcome.skipped and whole["dotted.id"].stdout == b"no newline"
    for seed in range(12):
        rng = random.Random(seed)  # noqa: S311 - deterministic chunking, not cryptography
        parser = StreamParser(MIXED, token)
        outs, errs = list(_pieces(stdout, rng)), list(_pieces(stderr, rng))
        while outs or errs:  # the two channels interleave at random, as they do on the wire
            if outs and (not errs or rng.random() < 0.5):
                parser.feed_stdout(outs.pop(0))
            else:
                parser.feed_stderr(errs.pop(0))
        chunked_facts, chunked = parser.result(NOW)
        assert chunked_facts == facts
        assert {pid: _key(o) for pid, o in chunked.items()} == {pid: _key(o) for pid, o in whole.items()}, seed
        assert parser.summary().finished and parser.summary().records == len(MIXED) + 1


def test_a_flood_of_short_lines_keeps_memory_bounded() -> None:
    parser = StreamParser([probe("a", "true")], new_token())
    chunk = b"x\n" * 32768
    tracemalloc.start()
    try:
        for _ in range(FLOOD // len(chunk)):
            parser.feed_stdout(chunk)
            parser.feed_stderr(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"
    assert parser.received == 2 * FLOOD and not parser.summary().started
    assert len(parser.stdout_head) == len(parser.stderr_head) == HEAD_BYTES


def test_a_giant_line_is_never_buffered() -> None:
    token = new_token()
    parser = StreamParser([probe("a", "true")], token)
    tracemalloc.start()
    try:
        parser.feed_stdout(token.encode() + b" d a 1 ")  # looks like framing at first
        chunk = b"QUJD" * 16384
        for _ in range(FLOOD // len(chunk)):
            parser.feed_stdout(chunk)
        parser.feed_stdout(b"\n" + token.encode() + b" start 2\n")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"
    _, observations = parser.result(NOW)
    assert parser.summary().started  # the line after the giant one is read
    assert observations["a"].outcome is ProbeOutcome.missing and observations["a"].stdout == b""


def test_framing_floods_keep_to_the_probe_caps() -> None:
    """A well-framed flood for one probe (a forged record that never ends) keeps at most its cap."""
    token = new_token()
    t = token.encode()
    parser = StreamParser([probe("a", "true", output_cap=1000)], token)
    payload = base64.b64encode(b"\x00" * 750)  # 1000 characters, as the tagger joins them
    tracemalloc.start()
    try:
        for seq in range(1, 40001):  # 30 MB of data lines for one part
            parser.feed_stdout(b"%s d a %d %s\n" % (t, seq, payload))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB"
    parser.feed_stdout(b"%s n a o 40000 40000000\n%s end a 0 1 2\n" % (t, t))
    parser.feed_stderr(b"%s n a e 0 0\n" % t)
    _, observations = parser.result(NOW)
    a = observations["a"]
    assert (a.outcome, a.truncated, a.stdout) == (ProbeOutcome.completed, True, b"\x00" * 1000)


def _part(t: bytes, pid: str, data: bytes, channel: str) -> bytes:
    lines = base64.encodebytes(data).splitlines()
    tagged = b"".join(b"%s d %s %d %s\n" % (t, pid.encode(), n, line) for n, line in enumerate(lines, start=1))
    return tagged + b"%s n %s %s %d %d\n" % (t, pid.encode(), channel.encode(), len(lines), sum(map(len, lines)))


def _record(t: bytes, pid: str, out: bytes, rc: int = 0, err: bytes = b"") -> tuple[bytes, bytes]:
    return _part(t, pid, out, "o") + b"%s end %s %d 1 2\n" % (t, pid.encode(), rc), _part(t, pid, err, "e")


def _parse(token: str, records: list[tuple[bytes, bytes]], requests: list[ProbeRequest]) -> dict[str, Observation]:
    stdout = b"".join(r[0] for r in records)
    stderr = b"".join(r[1] for r in records)
    return parse_stream(stdout, stderr, requests, token, NOW)[1]


def test_two_different_complete_records_make_the_probe_conflicting() -> None:
    token = new_token()
    t = token.encode()
    requests = [probe("a", "true"), probe("b", "true"), probe("c", "true"), probe("d", "true")]
    observations = _parse(
        token,
        [
            _record(t, "a", b"forged: compliant\n"),  # a forgery first, the real record after
            _record(t, "a", b"real output\n", rc=1),
            _record(t, "b", b"same\n"),
            _record(t, "b", b"same\n"),  # an identical repeat changes nothing
            _record(t, "c", b"x\n"),
            _record(t, "c", b"x\n", rc=2),  # same bytes, another exit code: a different answer
            _record(t, "forged.unknown", b"not requested\n"),
            _record(t, "d", b"only one\n"),
        ],
        requests,
    )
    assert (observations["a"].outcome, observations["a"].stdout, observations["a"].exit_code) == (
        ProbeOutcome.conflicting,
        b"",
        None,
    )
    assert (observations["b"].outcome, observations["b"].stdout) == (ProbeOutcome.completed, b"same\n")
    assert observations["c"].outcome is ProbeOutcome.conflicting
    assert (observations["d"].outcome, observations["d"].stdout) == (ProbeOutcome.completed, b"only one\n")
    assert set(observations) == {"a", "b", "c", "d"}  # the unknown id is dropped


def test_a_second_record_that_is_not_whole_does_not_conflict() -> None:
    token = new_token()
    t = token.encode()
    out, err = _record(t, "a", b"real\n")
    cut = _part(t, "a", b"other\n", "o").splitlines(keepends=True)[0]  # a data line, never closed or committed
    observations = _parse(token, [(out + cut, err)], [probe("a", "true")])
    assert (observations["a"].outcome, observations["a"].stdout) == (ProbeOutcome.completed, b"real\n")


def test_more_records_than_can_be_compared_conflict() -> None:
    token = new_token()
    t = token.encode()
    records = [_record(t, "a", b"same\n") for _ in range(MAX_RECORDS + 1)]
    assert _parse(token, records, [probe("a", "true")])["a"].outcome is ProbeOutcome.conflicting


def test_conflicting_facts_are_unknown() -> None:
    token = new_token()
    t = token.encode()
    facts_a = _part(t, "@facts", b"hostname=a\nos_family=debian\n", "o") + t + b" end @facts\n"
    facts_b = _part(t, "@facts", b"hostname=b\nos_family=rhel\n", "o") + t + b" end @facts\n"
    facts, _ = parse_stream(facts_a + facts_b, b"", [], token, NOW)
    assert facts.hostname == "" and facts.os_family == "unknown"
    facts, _ = parse_stream(facts_a + facts_a, b"", [], token, NOW)
    assert facts.hostname == "a" and facts.os_family == "debian"


def test_line_scanner_finds_framing_lines_split_anywhere() -> None:
    found: list[bytes] = []
    scanner = LineScanner(b"TOK ", 40, found.append)
    stream = b"noise\nTOK one\nTO\nTOK two words\n" + b"y" * 100 + b"\nTOK " + b"z" * 60 + b"\nTOK last\nTOK cut"
    for size in (1, 2, 3, 5, 8, 13, len(stream)):
        found.clear()
        scanner = LineScanner(b"TOK ", 40, found.append)
        for at in range(0, len(stream), size):
            scanner.feed(stream[at : at + size])
        assert found == [b"one", b"two words", b"last"], size  # the 60-character line is too long


def test_the_budget_covers_the_script_and_stops_at_it() -> None:
    requests = [probe("a", "head -c 300000 /dev/zero", output_cap=256 * 1024)]
    token = new_token()
    result = LocalTransport(shell=_shell()).exec("sh -s", build_script(requests, token).encode(), 60)
    assert len(result.stdout) + len(result.stderr) < stream_budget(requests)  # an honest cap-busting probe fits
    parser = StreamParser(requests, token, max_bytes=1000)
    parser.feed_stdout(result.stdout)
    assert parser.saturated and parser.received == len(result.stdout)
    parser.feed_stderr(result.stderr)  # ignored once saturated
    assert parser.received == len(result.stdout)


# ------------------------------------------------------------------------------------------ the collector


class Flooding:
    """A transport whose target answers any command with ``size`` bytes of ``line``s on one channel."""

    def __init__(self, line: bytes, size: int, *, stderr: bool = False, prefix: bytes = b"") -> None:
        self.line, self.size, self.stderr, self.prefix = line, size, stderr, prefix
        self.exec_requests = 0
        self.fed = 0

    def run(self, command: str, stdin: bytes, sink: OutputSink, timeout_s: float) -> RunEnd:
        self.exec_requests += 1
        sink.feed_stdout(self.prefix)
        chunk = (self.line * (65536 // len(self.line) + 1))[:65536]
        feed = sink.feed_stderr if self.stderr else sink.feed_stdout
        while self.fed < self.size:
            if sink.saturated:
                return RunEnd(exit_status=None, stopped=True)
            feed(chunk)
            self.fed += len(chunk)
        return RunEnd(exit_status=0)

    def close(self) -> None:
        return None


def _collect(transport: Flooding, requests: list[ProbeRequest]) -> ExecError:
    collector = SshCollector(Path("/nonexistent/known_hosts"), transport_factory=lambda h, k, t: transport)
    tracemalloc.start()
    try:
        with pytest.raises(ExecError) as caught:
            collector.collect(HOST, requests)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"
    return caught.value


@pytest.mark.parametrize(("line", "stderr"), [(b"x\n", False), (b"x\n", True), (b"x" * (8 * MiB - 1) + b"\n", False)])
def test_a_flood_ends_the_host_as_output_cap_exceeded(line: bytes, stderr: bool) -> None:
    requests = [probe(f"p{i}", "true", output_cap=64 * 1024) for i in range(20)]
    transport = Flooding(line, FLOOD, stderr=stderr)
    error = _collect(transport, requests)
    assert error.reason == "output_cap_exceeded"
    assert "none of it was the probe script's" in str(error) and "exit none" not in str(error)
    assert transport.fed <= stream_budget(requests) + 65536  # reading stopped at the budget


def test_a_flood_after_the_script_started_says_how_far_it_got() -> None:
    class StartsThenFloods(Flooding):
        def run(self, command: str, stdin: bytes, sink: OutputSink, timeout_s: float) -> RunEnd:
            token = stdin.split(b"_at=", 1)[1][:32]
            self.prefix = token + b" start 2\n"
            return super().run(command, stdin, sink, timeout_s)

    error = _collect(StartsThenFloods(b"x\n", FLOOD), [probe("a", "true")])
    assert error.reason == "output_cap_exceeded" and "0 records had arrived" in str(error)


def test_noise_that_is_not_the_script_is_exec_failed_with_its_first_line() -> None:
    transport = Flooding(b"export LC_ALL=C PATH=/usr/bin\n", 4096)  # the script echoed back, say
    error = _collect(transport, [probe("a", "true")])
    assert error.reason == "exec_failed"
    assert "not the script's records" in str(error) and "export LC_ALL=C" in str(error)
    assert "exit 0" in str(error)


# ------------------------------------------------------------------------------------------ what is judged


def test_a_conflicting_probe_is_an_error_in_both_languages() -> None:
    content = load_content()
    check = next(c for c in content.checks.values() if isinstance(c.probe, Probe) and c.probe.command is not None)
    observation = Observation(probe_id=check.id, command="x", outcome=ProbeOutcome.conflicting, collected_at=NOW)
    finding = evaluate(check, observation, HostFacts(os_family="debian"), content.profile.values())
    assert finding.status is Status.error and finding.evidence_probe_id == check.id
    assert "two different results" in finding.reason.en and "hai kết quả khác nhau" in finding.reason.vi


@pytest.mark.parametrize("code", ["exec_failed", "exec_refused", "connection_lost", "output_cap_exceeded"])
def test_new_host_reasons_have_their_own_text(code: str) -> None:
    check = next(iter(load_content().checks.values()))
    finding = host_error_finding(check, code, "detail")
    other = host_error_finding(check, "something_else", "detail")
    assert finding.reason.vi != other.reason.vi and finding.reason.en != other.reason.en
    assert "detail" in finding.reason.vi and "detail" in finding.reason.en
