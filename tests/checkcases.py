"""Pass/fail cases for every check, kept in tests/checks/<check_id>.yml.

A case is either a *recorded output* (stdout and exit code, judged by the check's expectation) or a
*scenario*: files (in the real formats of the distribution) laid over a copy of the lab's Debian
root filesystem, in which the check's real probe runs through the real batched script. Scenarios
exercise the shell parsing; recorded outputs cover live state a file cannot show (processes,
sockets, firewall rules). The same file says what the check must return on each lab posture.

A check that reads a shared source (checklists/sources/) is judged on that source's record: a
recorded case then gives the *source's* output (e.g. a whole `sshd -T` excerpt), to which the
check's selection is applied, and a scenario runs the source's command.

    lab: {hardened: pass, weak: fail, mixed: fail}
    cases:
      - name: debian pwquality minlen 14
        expect: pass
        files:
          /etc/security/pwquality.conf: "minlen = 14\\n"
        absent: [/etc/security/pwquality.conf.d/local.conf]
      - name: no firewall loaded
        expect: fail
        stdout: ""
        exit_code: 0
        os_family: rhel
        inputs: {lockout_attempts: 3}
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from auditor.collectors.ssh.script import build_script, new_token, parse_stream
from auditor.content.checks import Check, Probe
from auditor.content.loader import load_content
from auditor.content.sources import Source
from auditor.evaluation.evaluate import evaluate
from auditor.evaluation.findings import Finding
from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome, ProbeRequest
from auditor.service.plan import check_request

CASES_DIR = Path(__file__).parent / "checks"
# A RHEL-family scenario runs over the Debian base with this os-release, unless it brings its own.
ROCKY_OS_RELEASE = """NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
"""
Status = Literal["pass", "fail", "error", "not_applicable"]
Release = Literal["bookworm", "trixie"]
RELEASES: tuple[Release, ...] = ("bookworm", "trixie")  # lab bases that scenario cases run over


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    expect: Status
    os_family: Literal["debian", "rhel"] = "debian"
    inputs: dict[str, int | float | str | bool] = Field(default_factory=dict)
    # recorded output
    stdout: str | None = None
    stderr: str = ""
    exit_code: int = 0
    # scenario
    files: dict[str, str] = Field(default_factory=dict)
    modes: dict[str, str] = Field(default_factory=dict)  # path → octal mode, e.g. "0644"
    owners: dict[str, str] = Field(default_factory=dict)  # path → "user:group" (names in the base)
    absent: tuple[str, ...] = ()
    # A scenario runs over every lab base unless it names the one release it is about, and why.
    release: Release | None = None
    release_why: str = ""

    @model_validator(mode="after")
    def _release_has_reason(self) -> Case:
        if (self.release is None) != (not self.release_why.strip()):
            raise ValueError("`release` and `release_why` go together: a one-release case says why")
        return self

    @model_validator(mode="after")
    def _one_kind(self) -> Case:
        scenario = bool(self.files or self.absent or self.modes or self.owners)
        if (self.stdout is not None) != scenario:
            return self
        raise ValueError("a case gives either `stdout` (recorded output) or `files`/`absent`/`modes` (scenario)")

    @property
    def is_scenario(self) -> bool:
        return self.stdout is None

    def runs_on(self, release: Release) -> bool:
        return self.release in (None, release)


PostureName = Literal["hardened", "weak", "mixed"]
LabStatus = Status | Literal["manual"]


class ReleaseDifference(BaseModel):
    """Where a check's result on a lab posture of another release differs from bookworm, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lab: dict[PostureName, LabStatus] = Field(min_length=1)
    why: str = Field(min_length=10)


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lab: dict[PostureName, LabStatus]  # Debian 12 "bookworm" hosts
    trixie: ReleaseDifference | None = None  # Debian 13 hosts: only what differs from `lab`
    cases: tuple[Case, ...] = Field(min_length=2)

    def lab_on(self, release: Release) -> dict[PostureName, LabStatus]:
        """Each posture's expected status on the hosts of ``release``."""
        if release == "trixie" and self.trixie is not None:
            return {**self.lab, **self.trixie.lab}
        return dict(self.lab)


def load_case_file(check_id: str) -> CaseFile:
    path = CASES_DIR / f"{check_id}.yml"
    return CaseFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@cache
def shipped_sources() -> Mapping[str, Source]:
    return load_content().sources


def probe_request(check: Check, inputs: dict, sources: Mapping[str, Source] | None = None) -> ProbeRequest:
    """What the host is asked for this check: the shared source it reads (its record is the one the check
    is judged on), or the check's own command. ``sources`` defaults to the shipped ones."""
    probe = check.probe
    assert isinstance(probe, Probe)
    if probe.source is not None:
        return (shipped_sources() if sources is None else sources)[probe.source].request(inputs)
    return check_request(check, probe, inputs)


def judge_recorded(check: Check, case: Case, inputs: dict, sources: Mapping[str, Source] | None = None) -> Finding:
    request = probe_request(check, inputs, sources)
    observation = Observation(
        probe_id=request.probe_id,
        command=request.command,
        outcome=ProbeOutcome.completed,
        exit_code=case.exit_code,
        stdout=(case.stdout or "").encode(),
        stderr=case.stderr.encode(),
        collected_at=datetime.now(UTC),
    )
    return evaluate(check, observation, HostFacts(os_family=case.os_family), inputs)


class Sandbox:
    """Runs probes over a throwaway overlay of the lab's base root filesystem (root only).

    The overlay lives in a private mount namespace that dies with the command; nothing outside the
    temporary directory is touched. /proc is not mounted: probes of live processes use recorded
    outputs instead.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.keys = Path(tempfile.mkdtemp(prefix="auditor-sandbox-keys-"))
        # sshd -T needs host keys and its privilege-separation directory.
        for kind in ("ed25519", "ecdsa", "rsa"):
            target = self.keys / f"ssh_host_{kind}_key"
            subprocess.run(
                ["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(target)]
                + (["-b", "3072"] if kind == "rsa" else []),
                check=True,
            )

    def close(self) -> None:
        shutil.rmtree(self.keys, ignore_errors=True)

    def run(
        self,
        check: Check,
        case: Case,
        inputs: dict[str, int | float | str | bool],
        sources: Mapping[str, Source] | None = None,
    ) -> Observation:
        """The record the check is judged on: its own probe's, or the shared source's it reads."""
        request = probe_request(check, inputs, sources)
        with tempfile.TemporaryDirectory(prefix="auditor-sandbox-") as tmp:
            upper, work, merged = (Path(tmp) / name for name in ("upper", "work", "merged"))
            for folder in (upper, work, merged, upper / "etc/ssh", upper / "run/sshd", upper / "proc"):
                folder.mkdir(parents=True, exist_ok=True)
            for key in self.keys.iterdir():
                shutil.copy2(key, upper / "etc/ssh" / key.name)
            files = dict(case.files)
            if case.os_family == "rhel":
                files.setdefault("/etc/os-release", ROCKY_OS_RELEASE)
            for path, text in files.items():
                target = upper / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            for path in case.absent:
                target = upper / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                os.mknod(target, 0o600 | 0o020000, os.makedev(0, 0))  # overlayfs whiteout
            chmods = [f"chmod {mode} '{path}'" for path, mode in case.modes.items()]
            chowns = [f"chown {owner} '{path}'" for path, owner in case.owners.items()]
            token = new_token()
            script = build_script([request], token, os_family_hint=case.os_family)
            setup = "; ".join(
                [
                    f"mount -t overlay overlay -o lowerdir={self.base},upperdir={upper},workdir={work} {merged}",
                    *(f'chroot {merged} sh -c "{command}"' for command in chmods + chowns),
                    f"exec chroot {merged} sh -s",
                ]
            )
            done = subprocess.run(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", setup],
                input=script.encode(),
                capture_output=True,
                timeout=request.timeout_s + 30,
                check=False,
            )
            _, observations = parse_stream(done.stdout, done.stderr, [request], token, datetime.now(UTC))
            return observations[request.probe_id]
