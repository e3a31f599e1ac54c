"""The batched probe script, run for real with dash and bash through LocalTransport, and its parser."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.collectors.ssh.collector import SshCollector
from auditor.collectors.ssh.script import (
    build_script,
    new_token,
    parse_stream,
    queue_order,
    shell_quote,
    summarize_stream,
)
from auditor.collectors.ssh.transport import ExecResult, LocalTransport, OutputSink, RunEnd, Transport
from auditor.errors import CollectorError, ExecError
from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome, ProbeRequest
from auditor.inventory import Host

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SHELLS = [
    pytest.param(name, marks=pytest.mark.skipif(shutil.which(name) is None, reason=f"{name} missing"))
    for name in ("dash", "bash")
]


@pytest.fixture(params=SHELLS)
def shell(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def run(
    shell: str, requests: Sequence[ProbeRequest], token: str | None = None, timeout_s: float = 60, jobs: int = 4
) -> tuple[ExecResult, HostFacts, dict[str, Observation]]:
    token = token or new_token()
    script = build_script(requests, token, jobs=jobs)
    result = LocalTransport(shell=shell).exec("sh -s", script.encode(), timeout_s)
    facts, observations = parse_stream(result.stdout, result.stderr, requests, token, NOW)
    return result, facts, observations


def probe(probe_id: str, command: str, **kwargs: object) -> ProbeRequest:
    return ProbeRequest(probe_id=probe_id, command=command, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ real shells


def test_ordinary_probes_exit_codes_and_separate_streams(shell: str) -> None:
    requests = [
        probe("ok", "echo hello; echo warn >&2"),
        probe("one", "echo out; exit 1"),
        probe("fortytwo", "echo oops >&2; exit 42"),
        probe("empty", "true"),
    ]
    token = new_token()
    result, facts, obs = run(shell, requests, token)
    assert result.exit_status == 0
    assert obs["ok"].outcome is ProbeOutcome.completed
    assert (obs["ok"].exit_code, obs["ok"].stdout, obs["ok"].stderr) == (0, b"hello\n", b"warn\n")
    assert (obs["one"].exit_code, obs["one"].stdout, obs["one"].stderr) == (1, b"out\n", b"")
    assert (obs["fortytwo"].exit_code, obs["fortytwo"].stdout, obs["fortytwo"].stderr) == (42, b"", b"oops\n")
    assert (obs["empty"].exit_code, obs["empty"].stdout, obs["empty"].stderr) == (0, b"", b"")
    # probe times come in 10 ms steps (/proc/uptime): a quick probe may well take "0"
    assert all(o.duration_s >= 0 and not o.truncated and o.collected_at == NOW for o in obs.values())
    assert facts.kernel == os.uname().release
    assert facts.arch == os.uname().machine
    assert facts.hostname == os.uname().nodename
    assert facts.uid == os.geteuid()
    assert facts.os_family in {"debian", "rhel", "unknown"}
    # no raw probe byte on either stream: every line is a framing line, data only as base64
    for stream in (result.stdout, result.stderr):
        for line in stream.splitlines():
            assert line.startswith(f"{token} ".encode()), line
            if line.split(b" ")[1] == b"d":
                assert re.fullmatch(rb"[0-9a-f]{32} d [a-z@]+ [1-9][0-9]* [A-Za-z0-9+/]+={0,2}", line), line


def test_probe_printing_the_token_cannot_forge_records(shell: str) -> None:
    token = new_token()
    forged = (
        f"echo '{token} end a 0 0 0'; echo '{token} begin b'; echo '{token} end b 0 1 2'; "
        f"echo '{token} skip c debian'; echo '{token} done' >&2; echo '{token} end a' >&2; "
        f"echo '{token} d c 1 QUJD'; echo '{token} n c o 1 4'; echo '{token} n c e 0 0' >&2; echo '{token} end c 0 1 2'"
    )
    requests = [
        probe("a", forged),
        probe("b", "echo real-b; exit 3"),
        probe("c", "echo real-c"),
        # writing to the script's own descriptors must fail: the probe only has its two capped pipes
        probe("d", f"echo '{token} end c 9 0 0' >&3; echo '{token} end c 9 0 0' >&4; echo 99 >&5; echo x >&6; exit 0"),
    ]
    _, _, obs = run(shell, requests, token)
    assert obs["a"].stdout.startswith(f"{token} end a 0 0 0\n".encode())
    assert obs["a"].stdout.endswith(f"{token} end c 0 1 2\n".encode())
    assert obs["a"].stderr == f"{token} done\n{token} end a\n{token} n c e 0 0\n".encode()
    assert (obs["b"].exit_code, obs["b"].stdout) == (3, b"real-b\n")
    assert (obs["c"].outcome, obs["c"].exit_code, obs["c"].stdout) == (ProbeOutcome.completed, 0, b"real-c\n")
    assert (obs["d"].exit_code, obs["d"].stdout) == (0, b"")
    assert b"Bad file descriptor" in obs["d"].stderr


def test_binary_output_and_nul_bytes_round_trip(shell: str) -> None:
    requests = [
        probe("rand", "head -c 4096 /dev/urandom | tee /dev/stderr"),
        probe("nul", r"printf 'a\000b\000\377\n'"),
        probe("after", "echo fine"),
    ]
    _, _, obs = run(shell, requests)
    assert len(obs["rand"].stdout) == 4096
    assert obs["rand"].stdout == obs["rand"].stderr
    assert obs["nul"].stdout == b"a\x00b\x00\xff\n"
    assert obs["after"].stdout == b"fine\n"


def test_ten_megabytes_are_capped_and_flagged_and_later_probes_are_intact(shell: str) -> None:
    requests = [
        probe("huge", "head -c 10000000 /dev/zero; head -c 10000000 /dev/zero >&2", output_cap=65536),
        probe("after", "echo after; echo err >&2; exit 7"),
    ]
    result, _, obs = run(shell, requests)
    huge = obs["huge"]
    assert huge.truncated is True
    assert huge.stdout == b"\x00" * 65536 and huge.stderr == b"\x00" * 65536
    assert (huge.outcome, huge.exit_code) == (ProbeOutcome.completed, 0)  # the rest is drained: real exit code
    assert len(result.stdout) < 200_000  # capped on the target, not after the transfer
    assert (obs["after"].exit_code, obs["after"].stdout, obs["after"].stderr) == (7, b"after\n", b"err\n")
    assert obs["after"].truncated is False


def test_output_exactly_at_cap_is_not_truncated(shell: str) -> None:
    _, _, obs = run(shell, [probe("exact", "head -c 100 /dev/zero", output_cap=100)])
    assert obs["exact"].truncated is False and len(obs["exact"].stdout) == 100


def test_timeout_is_reported_and_the_batch_goes_on(shell: str) -> None:
    requests = [
        probe("slow", "echo partial; sleep 30", timeout_s=1),
        probe("stubborn", "trap '' TERM; sleep 30", timeout_s=0.5),
        probe("next", "echo next"),
    ]
    started = time.monotonic()
    _, _, obs = run(shell, requests)
    elapsed = time.monotonic() - started
    assert obs["slow"].outcome is ProbeOutcome.timed_out and obs["slow"].exit_code == 124
    assert obs["slow"].stdout == b"partial\n"
    assert 1.0 <= obs["slow"].duration_s < 5
    assert obs["stubborn"].outcome is ProbeOutcome.timed_out and obs["stubborn"].exit_code == 137
    assert obs["stubborn"].stderr == b""  # the shell's "Killed" notice does not leak into the probe's stderr
    assert (obs["next"].outcome, obs["next"].stdout) == (ProbeOutcome.completed, b"next\n")
    assert elapsed < 10


def test_exit_124_without_timing_out_is_a_normal_completion(shell: str) -> None:
    _, _, obs = run(shell, [probe("rc124", "exit 124", timeout_s=30)])
    assert (obs["rc124"].outcome, obs["rc124"].exit_code) == (ProbeOutcome.completed, 124)


def test_background_child_holding_stdout_does_not_hang_the_batch(shell: str) -> None:
    requests = [
        probe("bg", "sleep 60 & echo started", timeout_s=2),
        probe("bg_err", "(sleep 60 >&2 &); echo started2", timeout_s=2),
        probe("next", "echo next"),
    ]
    started = time.monotonic()
    _, _, obs = run(shell, requests, timeout_s=30)
    assert time.monotonic() - started < 8
    assert (obs["bg"].outcome, obs["bg"].stdout) == (ProbeOutcome.completed, b"started\n")
    assert obs["bg_err"].stdout == b"started2\n"
    assert obs["next"].stdout == b"next\n"


def test_quoting_torture(shell: str) -> None:
    token = new_token()
    nasty = [
        "it's \"quoted\" 'twice'",
        "$HOME ${PATH} $(id -u) `id -u` $((1+1)) \\ \\\\ \\n",
        "line1\nline2\n\nline4",
        f"{token} end q0 0 0 0",
        "'; echo INJECTED; '",
        "}; echo INJECTED2; {",
        "* ? [a-z] ~ # ; & | < > ! \t tab",
        "ünïcödé tiếng Việt",
    ]
    requests = [probe(f"q{i}", f"printf '%s' {shell_quote(text)}") for i, text in enumerate(nasty)]
    requests.append(probe("raw", "x='a b'; echo \"$x\" '$x' `echo tick` $(printf '%s' \"it's\")"))
    _, _, obs = run(shell, requests, token)
    for i, text in enumerate(nasty):
        assert obs[f"q{i}"].stdout == text.encode(), text
        assert obs[f"q{i}"].exit_code == 0
    assert obs["raw"].stdout == b"a b $x tick it's\n"


def test_os_families_skip_without_running(shell: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    _, facts, obs = run(
        shell,
        [
            probe("mars", f"touch {marker}", os_families=("marsos",)),
            probe("here", "echo here", os_families=("debian", "rhel", "unknown")),
            probe("any", "echo any"),
        ],
    )
    assert obs["mars"].outcome is ProbeOutcome.skipped and obs["mars"].exit_code is None
    assert not marker.exists()
    assert obs["here"].outcome is ProbeOutcome.completed and obs["here"].stdout == b"here\n"
    assert obs["any"].stdout == b"any\n"
    assert facts.os_family in {"debian", "rhel", "unknown"}


def test_family_derivation_matches_os_release(shell: str) -> None:
    _, facts, _ = run(shell, [])
    release = Path("/etc/os-release")
    if not release.exists():
        pytest.skip("no /etc/os-release here")
    fields = dict(
        line.split("=", 1) for line in release.read_text().splitlines() if "=" in line and not line.startswith("#")
    )
    assert facts.os_id == fields.get("ID", "").strip('"')
    words = f"{fields.get('ID', '')} {fields.get('ID_LIKE', '')}"
    if "debian" in words or "ubuntu" in words:
        assert facts.os_family == "debian"


def test_stream_cut_in_the_middle_makes_the_rest_missing(shell: str) -> None:
    token = new_token()
    requests = [probe(f"p{i}", f"echo value{i}; echo e{i} >&2") for i in range(6)]
    result, _, _ = run(shell, requests, token, jobs=1)
    cut_at = result.stdout.index(f"{token} d p3 ".encode()) + len(token) + 8
    facts, obs = parse_stream(result.stdout[:cut_at], result.stderr, requests, token, NOW)
    assert facts.kernel
    assert [obs[f"p{i}"].outcome for i in range(6)] == [ProbeOutcome.completed] * 3 + [ProbeOutcome.missing] * 3
    assert obs["p2"].stdout == b"value2\n" and obs["p2"].stderr == b"e2\n"


def test_script_cut_in_transit_runs_nothing(shell: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    token = new_token()
    script = build_script([probe("a", f"touch {marker}"), probe("b", "echo b")], token).encode()
    result = LocalTransport(shell=shell).exec("sh -s", script[: len(script) - 40], 30)
    assert not marker.exists()
    assert summarize_stream(result.stdout, token).started is False


def test_fifty_probes_in_one_exec_request(shell: str) -> None:
    requests = [probe(f"p{i:02d}", f"echo {i}; uname -s") for i in range(50)]
    transport = LocalTransport(shell=shell)
    host = Host(name="local", address="127.0.0.1", use_agent=True)
    collector = SshCollector(Path("/nonexistent/known_hosts"), transport_factory=lambda h, k, t: transport)
    started = time.monotonic()
    result = collector.collect(host, requests)
    elapsed = time.monotonic() - started
    assert result.exec_requests == 1 and transport.exec_requests == 1
    assert all(o.outcome is ProbeOutcome.completed for o in result.observations.values())
    assert result.observations["p42"].stdout == b"42\nLinux\n"
    assert elapsed < 20
    print(f"{shell}: 50 probes in {elapsed:.2f} s")


# ------------------------------------------------------------------------------------------ concurrency


def _commits(stdout: bytes, token: str) -> dict[str, tuple[int, int]]:
    """Start and end ns of each probe, from its commit line."""
    spans = {}
    for line in stdout.splitlines():
        words = line.decode().split(" ")
        if words[:2] == [token, "end"] and len(words) == 6:
            spans[words[2]] = (int(words[4]), int(words[5]))
    return spans


def test_probes_really_overlap_with_four_jobs(shell: str) -> None:
    token = new_token()
    requests = [probe(f"sleep{i}", "sleep 0.5; echo done") for i in range(4)]
    result, _, obs = run(shell, requests, token, jobs=4)
    assert all(o.outcome is ProbeOutcome.completed and o.stdout == b"done\n" for o in obs.values())
    spans = _commits(result.stdout, token)
    assert set(spans) == {r.probe_id for r in requests}
    assert max(start for start, _ in spans.values()) < min(end for _, end in spans.values())  # all four at once
    assert all(end - start >= 500_000_000 for start, end in spans.values())


def test_one_job_runs_one_probe_at_a_time(shell: str) -> None:
    token = new_token()
    requests = [probe(f"p{i}", "sleep 0.1") for i in range(3)]
    result, _, _ = run(shell, requests, token, jobs=1)
    spans = sorted(_commits(result.stdout, token).values())
    assert len(spans) == 3
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(2))


def test_slow_probes_start_first(shell: str) -> None:
    token = new_token()
    requests = [
        probe("a", "sleep 0.2"),
        probe("s1", "sleep 0.2", slow=True),
        probe("b", "sleep 0.2"),
        probe("c", "sleep 0.2"),
        probe("s2", "sleep 0.2", slow=True),
    ]
    assert [r.probe_id for r in queue_order(requests)] == ["s1", "s2", "a", "b", "c"]
    result, _, _ = run(shell, requests, token, jobs=2)
    spans = _commits(result.stdout, token)
    assert max(spans["s1"][0], spans["s2"][0]) < min(spans[p][0] for p in "abc")
    assert min(spans["s1"][1], spans["s2"][1]) <= min(spans[p][0] for p in "abc")  # both workers were busy
    result, _, _ = run(shell, requests, token, jobs=1)
    spans = _commits(result.stdout, token)
    assert sorted(spans, key=lambda p: spans[p][0]) == ["s1", "s2", "a", "b", "c"]


MIXED = [
    probe("plain", "echo hello; echo warn >&2"),
    probe("fails", "echo out; echo err >&2; exit 3"),
    probe("binary", r"i=0; while [ $i -lt 300 ]; do printf 'a\000b\377\200\n%s\001' $i; i=$((i+1)); done"),
    probe("over_cap", "head -c 100000 /dev/zero; head -c 5000 /dev/zero | tr '\\000' x >&2", output_cap=1000),
    probe("times_out", "echo partial; sleep 5", timeout_s=0.5),
    probe("chatty", 'i=0; while [ $i -lt 3000 ]; do echo "warning line $i" >&2; i=$((i+1)); done; echo ok'),
    probe("skipped", "echo never", os_families=("marsos",)),
    probe("big", 'i=0; while [ $i -lt 2000 ]; do echo "line $i of some output"; i=$((i+1)); done'),
    probe("dotted.id", "printf 'no newline'", slow=True),
]


def test_one_job_and_four_jobs_give_identical_observations(shell: str) -> None:
    _, facts1, seq = run(shell, MIXED, jobs=1)
    _, facts4, par = run(shell, MIXED, jobs=4)
    assert facts1 == facts4
    for request in MIXED:
        a, b = seq[request.probe_id], par[request.probe_id]
        assert (a.outcome, a.exit_code, a.stdout, a.stderr, a.truncated) == (
            b.outcome,
            b.exit_code,
            b.stdout,
            b.stderr,
            b.truncated,
        ), request.probe_id
    assert par["binary"].stdout.count(b"a\x00b\xff\x80\n") == 300
    assert (par["over_cap"].stdout, par["over_cap"].stderr) == (b"\x00" * 1000, b"x" * 1000)
    assert par["over_cap"].truncated is True
    assert (par["times_out"].outcome, par["times_out"].exit_code) == (ProbeOutcome.timed_out, 124)
    assert par["times_out"].stdout == b"partial\n"
    assert par["chatty"].stderr.count(b"\n") == 3000 and par["chatty"].stdout == b"ok\n"
    assert par["skipped"].outcome is ProbeOutcome.skipped
    assert par["big"].stdout.count(b"\n") == 2000
    assert par["dotted.id"].stdout == b"no newline"


def test_probe_gets_dev_null_and_none_of_the_scripts_descriptors(shell: str) -> None:
    nosy = (
        "readlink /proc/$$/fd/0; ls /proc/$$/fd; cat; dd bs=3 count=1 2>/dev/null; "
        "for fd in 3 4 5 6 7 8 9; do (dd bs=3 count=1 <&$fd) 2>/dev/null && echo read $fd; done; true"
    )
    requests = [probe("nosy", nosy), *(probe(f"p{i}", f"sleep 0.1; echo {i}") for i in range(8))]
    _, _, obs = run(shell, requests, jobs=4)
    assert obs["nosy"].stdout == b"/dev/null\n0\n1\n2\n"  # nothing read from stdin or fds 3-9
    assert all(obs[f"p{i}"].stdout == f"{i}\n".encode() for i in range(8))  # no job was stolen


def test_the_script_renices_itself_once(shell: str) -> None:
    token = new_token()
    script = build_script([probe("a", "nice"), probe("b", "nice")], token)
    assert script.count("renice -n") == 1
    if os.nice(0) != 0:
        pytest.skip("the test runs at a non-default niceness")
    _, _, obs = run(shell, [probe("a", "nice"), probe("b", "nice")], token)
    assert obs["a"].stdout == obs["b"].stdout == b"10\n"


def test_without_dd_the_probes_run_one_after_another(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("sh", "timeout", "head", "cat", "base64", "date", "awk", "uname", "id", "sleep", "echo"):
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} missing")
        (bindir / tool).symlink_to(found)
    token = new_token()
    script = build_script([probe(f"p{i}", f"sleep 0.1; echo {i}") for i in range(3)], token, jobs=4)
    script = script.replace("export LC_ALL=C PATH=", f"export LC_ALL=C PATH={bindir}:", 1)
    script = script.replace(":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "", 1)
    result = LocalTransport(shell="dash" if shutil.which("dash") else "sh").exec("sh -s", script.encode(), 30)
    _, obs = parse_stream(result.stdout, result.stderr, [probe(f"p{i}", "") for i in range(3)], token, NOW)
    assert [obs[f"p{i}"].stdout for i in range(3)] == [b"0\n", b"1\n", b"2\n"]
    spans = sorted(_commits(result.stdout, token).values())
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(2))


# ------------------------------------------------------------------------------------------ sudo handling


def _fake_sudo(tmp_path: Path, body: str) -> dict[str, str]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    sudo = bindir / "sudo"
    sudo.write_text("#!/bin/sh\n" + body)
    sudo.chmod(0o755)
    return {"PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}


def _collector(transport: Transport) -> SshCollector:
    return SshCollector(Path("/nonexistent/known_hosts"), transport_factory=lambda h, k, t: transport)


def test_sudo_refusal_is_sudo_failed_with_the_first_stderr_line(tmp_path: Path) -> None:
    env = _fake_sudo(tmp_path, "echo 'sudo: a password is required\x1b[31m' >&2\nexit 1\n")
    host = Host(name="h", address="127.0.0.1", use_agent=True, sudo=True)
    with pytest.raises(ExecError) as caught:
        _collector(LocalTransport(env=env)).collect(host, [probe("a", "echo a")])
    assert caught.value.reason == "sudo_failed"
    assert "a password is required" in str(caught.value)
    assert "\x1b" not in str(caught.value)


def test_sudo_that_works_runs_the_batch(tmp_path: Path) -> None:
    env = _fake_sudo(tmp_path, 'echo "noise from a login banner"\n[ "$1" = -n ] && shift\nexec "$@"\n')
    transport = LocalTransport(env=env)
    host = Host(name="h", address="127.0.0.1", use_agent=True, sudo=True)
    result = _collector(transport).collect(host, [probe("a", "echo a")])
    assert result.observations["a"].stdout == b"a\n" and result.exec_requests == 1


def test_script_that_never_starts_without_sudo_is_exec_failed() -> None:
    class Dead:
        exec_requests = 0

        def run(self, command: str, stdin: bytes, sink: OutputSink, timeout_s: float) -> RunEnd:
            self.exec_requests += 1
            sink.feed_stderr(b"sh: not found\n")
            return RunEnd(exit_status=127)

        def close(self) -> None:
            return None

    with pytest.raises(ExecError) as caught:
        _collector(Dead()).collect(Host(name="h", address="127.0.0.1", use_agent=True), [probe("a", "true")])
    assert caught.value.reason == "exec_failed" and "sh: not found" in str(caught.value)


def test_local_transport_deadline() -> None:
    with pytest.raises(CollectorError) as caught:
        LocalTransport().exec("sh -s", b"sleep 30 &\nsleep 30\n", 0.5)
    assert caught.value.reason == "deadline_exceeded"


# ------------------------------------------------------------------------------------------ build_script


@pytest.mark.parametrize("bad", ["Upper", "has-dash", "", "a b", "x;y", "@facts", ".a", "a.", "a..b", "a.B"])
def test_bad_probe_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="probe id"):
        build_script([probe(bad, "true")], new_token())


def test_dotted_probe_ids_are_accepted() -> None:
    script = build_script([probe("source.sshd_effective", "true"), probe("a.b.c_1", "true")], new_token())
    assert "_aprobe source.sshd_effective " in script and "_aprobe a.b.c_1 " in script


@pytest.mark.parametrize("jobs", [0, -1, 65, True])
def test_bad_job_counts_are_refused(jobs: int) -> None:
    with pytest.raises(ValueError, match="jobs"):
        build_script([probe("a", "true")], new_token(), jobs=jobs)


def test_more_than_999_probes_are_refused() -> None:
    requests = [probe(f"p{i}", "true") for i in range(1000)]
    with pytest.raises(ValueError, match="999"):
        build_script(requests, new_token())
    assert "    999) _aprobe p998 " in build_script(requests[:999], new_token())


def test_duplicates_nul_and_bad_token_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        build_script([probe("a", "true"), probe("a", "false")], new_token())
    with pytest.raises(ValueError, match="NUL"):
        build_script([probe("a", "echo \x00")], new_token())
    with pytest.raises(ValueError, match="token"):
        build_script([], "not-a-token")


def test_script_shape() -> None:
    token = new_token()
    script = build_script([probe("a", "true", timeout_s=0.0001)], token)
    lines = script.splitlines()
    assert lines[0] == "export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert lines[1:3] == ["umask 077", "cd / || exit 1"]
    assert "_aprobe a 0.001 " in script  # never "0", which timeout(1) reads as "no limit"
    assert lines[-1] == "exit 0"
    assert len(new_token()) == 32 and new_token() != new_token()


# ------------------------------------------------------------------------------------------ recorded streams


def _tagged(t: bytes, pid: str, data: bytes, channel: str) -> list[bytes]:
    """What the script's tagger writes for one stream of one probe: its data lines, then its count line."""
    lines = base64.encodebytes(data).splitlines()  # wrapped at 76 characters, like GNU base64
    tagged = [b"%s d %s %d %s\n" % (t, pid.encode(), seq, line) for seq, line in enumerate(lines, start=1)]
    count = b"%s n %s %s %d %d\n" % (t, pid.encode(), channel.encode(), len(lines), sum(len(x) for x in lines))
    return [*tagged, count]


def _recorded(token: str) -> tuple[bytes, bytes]:
    t = token.encode()
    facts = b'hostname=web1\nos_id="rocky"\nos_like="rhel centos fedora"\nos_version="9.3"\n'
    facts += (
        b'os_pretty="Rocky Linux 9.3 (Blue Onyx)"\nos_family=rhel\nkernel=5.14.0\narch=x86_64\nuid=0\nsystemd=yes\n'
    )
    ok_out, slow_out = _tagged(t, "ok", b"hello\n", "o"), _tagged(t, "slow", b"", "o")
    stdout = b"".join(
        [
            b"Welcome to web1 (motd)\n",
            t + b" start 2\n",
            *_tagged(t, "@facts", facts, "o"),
            t + b" end @facts\n",
            b"stray noise line\n",
            ok_out[0],
            slow_out[0],  # probes run concurrently: their lines interleave
            ok_out[1],
            t + b" end ok 0 1000000000 1250000000\n",
            t + b" skip deb debian\n",
            t + b" end slow 124 0 5000000000\n",
            *_tagged(t, "ghost", b"boo", "o"),  # unknown probe id: ignored
            t + b" end ghost 0 0 0\n",
            _tagged(t, "cut", b"partial output that never finished", "o")[0],
            t + b" end cu",  # the stream stops mid-line
        ]
    )
    stderr = b"".join(
        [
            b"sudo: unable to resolve host web1\n",
            t + b" start 2\n",
            _tagged(t, "ok", b"warning\n", "e")[0],
            b"bash: some shell complaint\n",  # noise between records: ignored
            *_tagged(t, "slow", b"", "e"),
            _tagged(t, "ok", b"warning\n", "e")[1],
            *_tagged(t, "ghost", b"", "e"),
        ]
    )
    return stdout, stderr


REQUESTS = [
    probe("ok", "echo hello"),
    probe("deb", "dpkg -l", os_families=("debian",)),
    probe("slow", "sleep 99", timeout_s=5),
    probe("cut", "cat big"),
    probe("never", "echo never"),
]


def test_recorded_stream_is_split_back() -> None:
    token = new_token()
    stdout, stderr = _recorded(token)
    facts, obs = parse_stream(stdout, stderr, REQUESTS, token, NOW)
    assert facts == HostFacts(
        hostname="web1",
        os_id="rocky",
        os_like="rhel centos fedora",
        os_version="9.3",
        os_pretty="Rocky Linux 9.3 (Blue Onyx)",
        os_family="rhel",
        kernel="5.14.0",
        arch="x86_64",
        uid=0,
        has_systemd=True,
    )
    assert set(obs) == {r.probe_id for r in REQUESTS}
    ok = obs["ok"]
    assert (ok.outcome, ok.exit_code, ok.stdout, ok.stderr, ok.duration_s, ok.truncated) == (
        ProbeOutcome.completed,
        0,
        b"hello\n",
        b"warning\n",
        0.25,
        False,
    )
    assert ok.command == "echo hello" and ok.collected_at == NOW
    assert obs["deb"].outcome is ProbeOutcome.skipped
    assert (obs["slow"].outcome, obs["slow"].exit_code) == (ProbeOutcome.timed_out, 124)
    cut = obs["cut"]
    assert (cut.outcome, cut.truncated, cut.stdout) == (
        ProbeOutcome.missing,
        True,
        b"partial output that never finished",
    )
    assert obs["never"].outcome is ProbeOutcome.missing and obs["never"].stdout == b""
    assert obs["never"].truncated is False
    summary = summarize_stream(stdout, token)
    assert summary.started is True and summary.finished is False
    assert summary.records == 5  # @facts, ok, deb, slow, ghost


def test_recorded_stream_with_the_wrong_token_yields_nothing() -> None:
    stdout, stderr = _recorded(new_token())
    facts, obs = parse_stream(stdout, stderr, REQUESTS, new_token(), NOW)
    assert facts == HostFacts()
    assert all(o.outcome is ProbeOutcome.missing for o in obs.values())


def _record(t: bytes, pid: str, out: bytes, end: bytes, err: bytes = b"") -> tuple[list[bytes], list[bytes]]:
    return [*_tagged(t, pid, out, "o"), t + b" end " + pid.encode() + b" " + end + b"\n"], _tagged(t, pid, err, "e")


def _streams(*records: tuple[list[bytes], list[bytes]]) -> tuple[bytes, bytes]:
    return b"".join(line for r in records for line in r[0]), b"".join(line for r in records for line in r[1])


def test_two_different_complete_records_conflict_and_bad_end_lines_are_missing() -> None:
    token = new_token()
    t = token.encode()
    g_first = _record(t, "g", b"bad", b"0 1 2")
    g_first[0].pop(0)  # its data line got lost: its count no longer matches
    f = _record(t, "f", b"no stderr count", b"0 1 2")
    stdout, stderr = _streams(
        _record(t, "a", b"first", b"0 1 2"),
        _record(t, "a", b"second", b"1 1 2"),
        _record(t, "b", b"x", b"notanumber 1 2"),
        _record(t, "c", b"y", b"999 1 2"),
        ([*_tagged(t, "d", b"z", "o")], []),  # never committed
        _record(t, "e", b"", b"0 x x"),
        (f[0], []),  # its stderr part never arrived
        _record(t, "h", b"", b"0 1 2 3"),  # one word too many on the commit line
        g_first,
        _record(t, "g", b"good", b"5 1 2"),
    )
    reqs = [probe(p, "true") for p in "abcdefgh"]
    _, obs = parse_stream(stdout, stderr, reqs, token, NOW)
    assert (obs["a"].outcome, obs["a"].stdout, obs["a"].exit_code) == (ProbeOutcome.conflicting, b"", None)
    assert obs["b"].outcome is ProbeOutcome.missing
    assert obs["c"].outcome is ProbeOutcome.missing
    assert (obs["d"].outcome, obs["d"].stdout, obs["d"].truncated) == (ProbeOutcome.missing, b"z", True)
    assert (obs["e"].outcome, obs["e"].duration_s) == (ProbeOutcome.completed, 0.0)
    assert (obs["f"].outcome, obs["f"].stdout, obs["f"].truncated) == (ProbeOutcome.missing, b"no stderr count", True)
    assert (obs["g"].outcome, obs["g"].stdout, obs["g"].exit_code) == (ProbeOutcome.completed, b"good", 5)
    assert obs["h"].outcome is ProbeOutcome.missing


def test_parse_stream_never_raises_on_hostile_input() -> None:
    token = new_token()
    t = token.encode()
    rng = random.Random(1234)  # noqa: S311 - deterministic fuzz input, not cryptography
    pieces = [t + b" d a 1 QUJD\n", t + b" n a o 1 4\n", t + b" n a e 0 0\n", t + b" end a 0 1 2\n", b"\n", b"====\n"]
    pieces += [t + b" d @facts 1 QUJD\n", t + b" n @facts o 1 4\n", t + b" end @facts\n", t + b" d a 1 QUJDRUZH\n"]
    pieces += [t + b" end a \xff\xfe 1\n", t + b" skip\n", t + b" \n", t + b" d\n", b"QUJD\n", b"\x00\xff\n"]
    pieces += [
        t + b" n a o 99999999999999999999 1\n",
        t + b" d a 1 \xff\n",
        t + b" d \xff 1 QUJD\n",
        t + b" n a e x y\n",
    ]
    reqs = [probe("a", "true", output_cap=4)]
    for _ in range(300):
        blob = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        blob += bytes(rng.randrange(256) for _ in range(rng.randint(0, 50)))
        _, obs = parse_stream(blob, blob[::-1], reqs, token, NOW)
        assert set(obs) == {"a"}
        assert len(obs["a"].stdout) <= 4
        summarize_stream(blob, token)


def test_hostile_facts_are_bounded() -> None:
    token = new_token()
    t = token.encode()
    facts = b"hostname=" + b"h" * 10_000 + b"\nuid=-5\nos_family=windows\nsystemd=maybe\n=\nnoequals\n"
    stream = b"".join([*_tagged(t, "@facts", facts, "o"), t + b" end @facts\n"])
    facts, _ = parse_stream(stream, b"", [], token, NOW)
    assert len(facts.hostname) == 512
    assert facts.uid is None and facts.os_family == "unknown" and facts.has_systemd is False


# ------------------------------------------------------------------------------------------ forged and garbled lines


def _interleaved(t: bytes, outputs: dict[str, bytes]) -> tuple[list[bytes], list[bytes]]:
    """Stream lines of several probes as concurrent workers write them: round robin, line by line."""
    out_lists = [
        [*_tagged(t, pid, data, "o"), t + b" end " + pid.encode() + b" 0 1 2\n"] for pid, data in outputs.items()
    ]
    err_lists = [_tagged(t, pid, data[::-1], "e") for pid, data in outputs.items()]
    merged: tuple[list[bytes], list[bytes]] = ([], [])
    for lists, target in zip((out_lists, err_lists), merged, strict=True):
        for i in range(max(len(x) for x in lists)):
            target.extend(x[i] for x in lists if i < len(x))
    return merged


OUTPUTS = {"a": bytes(range(256)) * 2, "b": b"B" * 300, "c": b"c\n" * 100}


def _parse_lines(token: str, out: list[bytes], err: list[bytes]) -> dict[str, Observation]:
    return parse_stream(b"".join(out), b"".join(err), [probe(p, "true") for p in OUTPUTS], token, NOW)[1]


def _only_exact_or_missing(obs: dict[str, Observation]) -> None:
    for pid, data in OUTPUTS.items():
        o = obs[pid]
        if o.outcome is ProbeOutcome.missing:
            assert o.truncated is True
        else:
            assert (o.outcome, o.stdout, o.stderr, o.exit_code) == (ProbeOutcome.completed, data, data[::-1], 0)


def test_interleaved_lines_of_concurrent_probes_are_sorted_back() -> None:
    token = new_token()
    out, err = _interleaved(token.encode(), OUTPUTS)
    obs = _parse_lines(token, out, err)
    assert all(obs[p].outcome is ProbeOutcome.completed and obs[p].stdout == d for p, d in OUTPUTS.items())
    _only_exact_or_missing(obs)


def test_a_cut_line_merged_with_another_probes_line_rejects_both_records() -> None:
    token = new_token()
    t = token.encode()
    out, err = _interleaved(t, OUTPUTS)
    i = out.index(_tagged(t, "a", OUTPUTS["a"], "o")[1])
    assert out[i + 1].startswith(t + b" d b ")
    for cut in (len(t) + 3, len(t) + 6, len(t) + 10, len(t) + 40):  # in the prefix, the id, the payload
        garbled = [*out[:i], out[i][:cut] + out[i + 1], *out[i + 2 :]]
        obs = _parse_lines(token, garbled, err)
        assert obs["a"].outcome is ProbeOutcome.missing and obs["a"].truncated is True
        assert obs["b"].outcome is ProbeOutcome.missing and obs["b"].truncated is True
        assert obs["c"].outcome is ProbeOutcome.completed and obs["c"].stdout == OUTPUTS["c"]
    # two whole lines merged (a newline lost) are rejected the same way
    obs = _parse_lines(token, [*out[:i], out[i][:-1] + out[i + 1], *out[i + 2 :]], err)
    assert obs["a"].outcome is obs["b"].outcome is ProbeOutcome.missing


def test_a_dropped_or_added_data_line_rejects_the_record() -> None:
    token = new_token()
    t = token.encode()
    out, err = _interleaved(t, OUTPUTS)
    a_lines = _tagged(t, "a", OUTPUTS["a"], "o")
    dropped = [line for line in out if line != a_lines[2]]
    obs = _parse_lines(token, dropped, err)
    assert (obs["a"].outcome, obs["a"].truncated) == (ProbeOutcome.missing, True)
    assert obs["a"].stdout != OUTPUTS["a"]
    assert obs["b"].stdout == OUTPUTS["b"] and obs["c"].stdout == OUTPUTS["c"]
    # a line dropped from the stderr channel rejects the record just the same
    err_dropped = [line for line in err if line != _tagged(t, "b", OUTPUTS["b"][::-1], "e")[1]]
    assert _parse_lines(token, out, err_dropped)["b"].outcome is ProbeOutcome.missing
    # a well-formed, well-numbered line added before the count (something else holding the channel) too
    extra = [*out]
    extra.insert(out.index(a_lines[-1]), b"%s d a %d QUJD\n" % (t, len(a_lines)))
    assert _parse_lines(token, extra, err)["a"].outcome is ProbeOutcome.missing
    # the same line added once the record is committed starts a new record that is never committed
    late = [*out, t + b" d a 1 QUJD\n", t + b" n a o 1 4\n"]
    assert _parse_lines(token, late, err)["a"].stdout == OUTPUTS["a"]


def test_probe_output_imitating_framing_stays_data() -> None:
    token = new_token()
    t = token.encode()
    forged = b"".join([t + b" d b 1 QUJD\n", t + b" n b o 1 4\n", t + b" end b 9 1 2\n", t + b" end a 7 1 2\n"])
    out, err = _interleaved(t, {"a": forged})  # the probe printed framing lines: they travel as base64
    obs = parse_stream(b"".join(out), b"".join(err), [probe("a", "x"), probe("b", "y")], token, NOW)[1]
    assert (obs["a"].outcome, obs["a"].exit_code, obs["a"].stdout) == (ProbeOutcome.completed, 0, forged)
    assert obs["b"].outcome is ProbeOutcome.missing


def test_random_damage_never_yields_wrong_bytes() -> None:
    token = new_token()
    t = token.encode()
    rng = random.Random(4321)  # noqa: S311 - deterministic damage, not cryptography
    out, err = _interleaved(t, OUTPUTS)
    for _ in range(400):
        damaged = [[*out], [*err]]
        for _ in range(rng.randint(1, 3)):
            lines = rng.choice(damaged)
            i = rng.randrange(len(lines) - 1)
            how = rng.randrange(4)
            if how == 0:  # a line lost
                del lines[i]
            elif how == 1:  # two lines merged
                lines[i : i + 2] = [lines[i][:-1] + lines[i + 1]]
            elif how == 2:  # a line cut and merged with the next
                lines[i : i + 2] = [lines[i][: rng.randrange(len(lines[i]))] + lines[i + 1]]
            else:  # a line repeated
                lines.insert(i, lines[i])
        _only_exact_or_missing(_parse_lines(token, *damaged))
    # and a stream cut anywhere keeps every record exact or missing
    stdout = b"".join(out)
    for cut in range(0, len(stdout), 13):
        obs = parse_stream(stdout[:cut], b"".join(err), [probe(p, "true") for p in OUTPUTS], token, NOW)[1]
        for pid, data in OUTPUTS.items():
            assert obs[pid].outcome is ProbeOutcome.missing or obs[pid].stdout == data


# ------------------------------------------------------------------------------------------ the lab (optional)

LAB = Path("/var/tmp/auditor-lab/lab.json")


@pytest.mark.lab
def test_lab_fifty_probes_one_exec_request_with_sudo() -> None:
    try:  # the lab is built and torn down by a colleague's tooling: absent or half-written means skip
        lab = json.loads(LAB.read_text())
        entry = lab["hosts"][0]
        host = Host(
            name=entry["name"],
            address=entry["address"],
            port=entry["port"],
            user=entry["user"],
            key_file=Path(lab["key_file"]),
            sudo=True,
        )
        known_hosts = Path(lab["known_hosts_file"])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        pytest.skip("the lab is not up")
    requests = [probe(f"p{i:02d}", f"echo {i}; id -u") for i in range(50)]
    started = time.monotonic()
    try:
        result = SshCollector(known_hosts, connect_timeout_s=5).collect(host, requests)
    except CollectorError as exc:  # the lab may be rebuilt under us
        pytest.skip(f"lab host not usable right now: {exc.reason}")
    elapsed = time.monotonic() - started
    assert result.exec_requests == 1
    assert result.facts.uid == 0 and result.facts.hostname == entry["name"]
    assert all(o.outcome is ProbeOutcome.completed for o in result.observations.values())
    assert result.observations["p49"].stdout == b"49\n0\n"
    print(f"lab {entry['name']}: 50 probes in {elapsed:.2f} s")
