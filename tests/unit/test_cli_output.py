"""The command line with what targets send: `hosts trust` goes on past a changed key, and every table or line
showing target text shows it inert (control, bidirectional and zero-width characters escaped, no Rich markup)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import paramiko
import pytest
import yaml
from typer.testing import CliRunner

from auditor.cli.hosts import hosts_app
from auditor.cli.results import app as results_app
from auditor.collectors.ssh.known_hosts import KnownHostsStore, fingerprint
from auditor.errors import ConnectError
from auditor.evaluation.findings import Finding, HostResult, HostStatus
from auditor.evaluation.observations import Observation, ProbeOutcome
from auditor.store import RunStatus, open_store
from auditor.textsafe import inert_text, terminal_safe, terminal_text
from auditor.vocabulary import LocalizedText, Severity, Status
from tests.unit.test_known_hosts import ed25519_key
from tests.unit.test_store import T0, make_agency

# What the brief of inert text names: controls, bidirectional formatting, zero-width characters.
INVISIBLE = [chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, 0x9B]]
INVISIBLE += [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]]
INVISIBLE += [chr(c) for c in [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF]]
HOSTILE = "ok\u202egnp.exe\u2066 [red]fake[/red] [link=http://evil.example]x[/link] \x1b[2J zero\u200bwidth \u061c end"


def _cli() -> CliRunner:
    return CliRunner()


@pytest.fixture(autouse=True)
def _default_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDITOR_LANG", raising=False)  # the default (Vietnamese) unless a test asks otherwise


# -- the shared rules ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("char", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
def test_every_control_bidi_and_zero_width_character_is_shown_as_an_escape(char: str) -> None:
    escape = f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    assert inert_text(f"a{char}b") == f"a{escape}b"


def test_ordinary_text_tabs_and_newlines_stay_and_lone_surrogates_become_escapes() -> None:
    assert inert_text("Việt Nam\tđạt\n✓ 100%") == "Việt Nam\tđạt\n✓ 100%"
    assert inert_text("bad \udc80 byte") == "bad \\udc80 byte"
    assert terminal_safe("x" * 10, 4) == "xxxx\n… 6 characters omitted"
    assert terminal_text("[red]not markup[/red]").plain == "[red]not markup[/red]"


# -- hosts trust -----------------------------------------------------------------------------------------------------


@pytest.fixture
def trust_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, dict[str, paramiko.PKey]]:
    hosts = [
        {"name": "moved", "address": "10.0.0.1", "use_agent": True},
        {"name": "fresh", "address": "10.0.0.2", "use_agent": True},
        {"name": "down", "address": "10.0.0.3", "use_agent": True},
        {"name": "later", "address": "10.0.0.4", "use_agent": True},
    ]
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump({"agencies": [{"id": "bst", "name": {"vi": "Báo", "en": "Paper"}, "hosts": hosts}]}),
        encoding="utf-8",
    )
    known = tmp_path / "known_hosts"
    KnownHostsStore(known).trust("10.0.0.1", 22, ed25519_key())  # recorded before: the host now shows another
    presented = {"10.0.0.1": ed25519_key(), "10.0.0.2": ed25519_key(), "10.0.0.4": ed25519_key()}

    def fetch(_self: KnownHostsStore, address: str, port: int = 22, timeout: float = 10.0) -> paramiko.PKey:
        if address not in presented:
            raise ConnectError(f"{address}:{port}: Connection refused", reason="unreachable")
        return presented[address]

    monkeypatch.setattr(KnownHostsStore, "fetch_host_key", fetch)
    return inventory, known, presented


def test_trust_goes_on_past_a_changed_key_and_names_what_was_not_enrolled(
    trust_setup: tuple[Path, Path, dict[str, paramiko.PKey]],
) -> None:
    inventory, known, presented = trust_setup
    before = KnownHostsStore(known).lookup("10.0.0.1")
    args = ["trust", "-i", str(inventory), "--known-hosts", str(known), "--yes", "--lang", "en"]
    result = _cli().invoke(hosts_app, args)

    assert result.exit_code == 2, result.output
    store = KnownHostsStore(known)
    assert store.lookup("10.0.0.2") == presented["10.0.0.2"]  # enrolled
    assert store.lookup("10.0.0.4") == presented["10.0.0.4"]  # after the changed one: enrolled too
    assert store.lookup("10.0.0.1") == before  # the changed key was not taken
    out = " ".join(result.output.split())  # whatever the terminal width wrapped
    assert fingerprint(presented["10.0.0.1"]) in out and "not recorded" in out
    assert "2 host(s) not enrolled" in out
    assert "moved (10.0.0.1:22): key changed" in out and "down (10.0.0.3:22): no key fetched" in out
    assert "out of band" in out and "--replace --host moved" in out
    assert "replace=True" not in out

    again = _cli().invoke(hosts_app, [*args, "--replace", "--host", "moved"])
    assert again.exit_code == 0, again.output
    assert KnownHostsStore(known).lookup("10.0.0.1") == presented["10.0.0.1"]


def test_a_key_the_officer_does_not_confirm_is_not_enrolled(
    trust_setup: tuple[Path, Path, dict[str, paramiko.PKey]],
) -> None:
    inventory, known, presented = trust_setup
    args = ["trust", "-i", str(inventory), "--known-hosts", str(known), "--host", "fresh", "--lang", "en"]
    result = _cli().invoke(hosts_app, args, input="n\n")
    assert result.exit_code == 2 and "fresh (10.0.0.2:22): not confirmed" in " ".join(result.output.split())
    assert KnownHostsStore(known).lookup("10.0.0.2") is None
    result = _cli().invoke(hosts_app, args, input="y\n")
    assert result.exit_code == 0 and KnownHostsStore(known).lookup("10.0.0.2") == presented["10.0.0.2"]


# -- runs, findings, evidence ----------------------------------------------------------------------------------------


def _hostile_run(db: str) -> tuple[str, int]:
    observation = Observation(
        probe_id="motd",
        command="cat /etc/motd",
        outcome=ProbeOutcome.completed,
        exit_code=0,
        stdout=HOSTILE.encode() + b"\x00\xff",
        stderr=HOSTILE.encode(),
        collected_at=T0,
    )
    result = HostResult(
        agency_id="vtv",
        host_name="web-01",
        address="10.0.0.1",
        status=HostStatus.ok,
        exec_requests=1,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=1),
        observations=(observation,),
        findings=(
            Finding(
                check_id="motd.banner",
                status=Status.failed,
                severity=Severity.low,
                observed=HOSTILE,
                expected=f"!= {HOSTILE}",
                reason=LocalizedText(vi=f"Không đạt: {HOSTILE}", en=f"Fail: {HOSTILE}"),
                evidence_probe_id="motd",
            ),
        ),
    )
    with open_store(db) as store:
        run_id = store.start_run("0.1.0", "2026.11", "0" * 64, {})
        store.save_host_result(run_id, make_agency(), result)
        store.finish_run(run_id, RunStatus.failed, f"OperationalError: {HOSTILE}")
        (finding,) = store.list_findings(run_id)
    return run_id, finding.id


def _assert_inert(output: str) -> None:
    for char in ("\u202e", "\u2066", "\u200b", "\u061c", "\x1b", "\x00"):
        assert char not in output
    assert "\\u202e" in output and "\\u200b" in output and "\\x1b" in output
    assert "[red]fake[/red]" in output  # shown as it was sent, never read as markup


@pytest.mark.parametrize(
    "command",
    [
        ["evidence", "{finding}", "--lang", "en"],
        ["findings", "latest"],
        ["findings", "latest", "--lang", "en"],
        ["runs", "--lang", "en"],
    ],
    ids=lambda c: " ".join(c),
)
def test_target_text_is_shown_inert_in_the_terminal(tmp_path: Path, command: list[str]) -> None:
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    _run_id, finding_id = _hostile_run(db)
    args = [part.format(finding=finding_id) for part in command]
    result = _cli().invoke(results_app, [*args, "--db", db], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    _assert_inert(result.output)
    if command[0] == "runs":
        assert "failed" in result.output and "OperationalError" in result.output
    if command[0] == "evidence":
        assert "verified" in result.output and "end\\x00\\xff" in result.output  # the bytes as stored
