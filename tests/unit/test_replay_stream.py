"""The replay fleet's answers are the collector's own stream format: parsed back, they are the recording."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from auditor.collectors.ssh.script import build_script, new_token
from auditor.collectors.ssh.stream import StreamParser
from auditor.evaluation.observations import ProbeOutcome, ProbeRequest
from tests.hostile_ssh.replay import RecordedProbe, Recording, ReplayStream

RECORDING = Path(__file__).resolve().parents[2] / "bench" / "fleet_recording.json"


def _parse(requests: list[ProbeRequest], answer: tuple[bytes, bytes, int], token: str):  # type: ignore[no-untyped-def]
    parser = StreamParser(requests, token)
    parser.feed_stdout(answer[0])
    parser.feed_stderr(answer[1])
    return parser.summary(), parser.result(datetime.now(UTC))


def test_a_recorded_host_is_answered_under_each_scripts_own_token() -> None:
    recording = Recording(
        host="lab",
        facts={"hostname": "lab", "os_id": "debian", "os_family": "debian", "uid": "0", "systemd": "yes"},
        probes={
            "a.out": RecordedProbe("a.out", "completed", 3, b"line\n" * 500 + b"\x00\xff", b"warn\n", 0.25),
            "b.skipped": RecordedProbe("b.skipped", "skipped", None, b"", b"", 0.0),
            "c.lost": RecordedProbe("c.lost", "missing", None, b"", b"", 0.0),
        },
    )
    requests = [ProbeRequest(probe_id=p, command="true") for p in ("a.out", "b.skipped", "c.lost", "d.unrecorded")]
    stream = ReplayStream(Recording.from_json(recording.to_json()))
    for _ in range(2):
        token = new_token()
        answer = stream.answer(build_script(requests, token).encode())
        summary, (facts, observations) = _parse(requests, answer, token)
        assert summary.started and summary.finished and answer[2] == 0
        assert facts.hostname == "lab" and facts.os_family == "debian" and facts.uid == 0 and facts.has_systemd
        out = observations["a.out"]
        assert (out.outcome, out.exit_code, out.stdout, out.stderr) == (
            ProbeOutcome.completed,
            3,
            recording.probes["a.out"].stdout,
            b"warn\n",
        )
        assert abs(out.duration_s - 0.25) < 0.01
        assert observations["b.skipped"].outcome is ProbeOutcome.skipped
        assert observations["c.lost"].outcome is ProbeOutcome.missing  # never whole on the recorded host
        assert observations["d.unrecorded"].outcome is ProbeOutcome.missing


def test_a_stranger_command_gets_no_records_and_the_shipped_recording_loads() -> None:
    recording = Recording.load(RECORDING)
    stdout, stderr, status = ReplayStream(recording).answer(b"uname -a\n")
    assert (stdout, status) == (b"", 127) and stderr
    assert recording.facts["os_family"] == "debian" and len(recording.probes) > 50
