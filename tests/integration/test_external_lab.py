"""OpenSCAP and Lynis run against a lab host at test time; their results are imported and judged with the
auditor's own checks: the verdict and the report name each source."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from auditor.store.db import open_store
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.lab

SSG_DEBIAN11 = Path("/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml")
PROFILE = "xccdf_org.ssgproject.content_profile_anssi_np_nt28_high"
RULES = (
    "sshd_disable_root_login",
    "sshd_disable_empty_passwords",
    "sshd_set_max_auth_tries",
    "no_empty_passwords_etc_shadow",
    "file_permissions_etc_shadow",
    "package_telnetd_removed",
    "package_rsyslog_installed",
    "service_cron_enabled",  # not in the mapping: imported as unmapped
)
LYNIS_TESTS = "SSH-7402 SSH-7408 AUTH-9204 AUTH-9283 AUTH-9286 KRNL-6000 HRDN-7230 BANN-7126"
LYNIS_FILES = ("/usr/sbin/lynis", "/usr/share/lynis/include", "/usr/share/lynis/db", "/etc/lynis/plugins")


def _tools_or_skip() -> None:
    missing = [tool for tool in ("oscap", "lynis", "nsenter") if shutil.which(tool) is None]
    if not SSG_DEBIAN11.is_file():
        missing.append("ssg-debian")
    if missing:
        message = f"needs {', '.join(missing)} (scripts/setup.sh --dev installs them)"
        if os.environ.get("AUDITOR_REQUIRE_LAB"):
            pytest.fail(message)
        pytest.skip(message)


def _debian12_datastream(workdir: Path) -> Path:
    """ssg-debian ships no Debian 12 content: its Debian 11 data stream, with the platform check widened to 12."""
    text = SSG_DEBIAN11.read_text(encoding="utf-8")
    adapted, n = re.subn(r"\^11\.\[0-9\]\+\$", "^1[12].[0-9]+$", text)
    assert n > 0, "the Debian 11 platform pattern was not found in the data stream"
    path = workdir / "ssg-debian12-ds.xml"
    path.write_text(adapted, encoding="utf-8")
    return path


def _openscap(host, workdir: Path) -> Path:  # type: ignore[no-untyped-def]
    """`oscap xccdf eval` of a profile subset against the host's root filesystem (OSCAP_PROBE_ROOT: oscap-chroot)."""
    arf = workdir / f"{host.name}-arf.xml"
    rules = [arg for rule in RULES for arg in ("--rule", f"xccdf_org.ssgproject.content_rule_{rule}")]
    done = subprocess.run(
        [
            "oscap",
            "xccdf",
            "eval",
            "--profile",
            PROFILE,
            *rules,
            "--results-arf",
            str(arf),
            str(_debian12_datastream(workdir)),
        ],
        env={**os.environ, "OSCAP_PROBE_ROOT": str(host.rootdir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 2), done.stderr  # 2: some rule failed
    return arf


def _lynis(host, workdir: Path) -> Path:  # type: ignore[no-untyped-def]
    """Lynis run inside the host (its namespaces and root), from a copy removed afterwards."""
    staged = Path(host.rootdir) / "opt/lynis-test"
    report = Path(host.rootdir) / "var/tmp/lynis-test-report.dat"
    try:
        staged.mkdir(parents=True, exist_ok=True)
        for source in LYNIS_FILES:
            target = staged / Path(source).name
            if Path(source).is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target)
        shutil.copy2("/etc/lynis/default.prf", staged / "default.prf")
        command = (
            "cd /opt/lynis-test && ./lynis audit system --quick --no-colors --no-plugins --profile default.prf "
            f"--tests '{LYNIS_TESTS}' --report-file /var/tmp/lynis-test-report.dat --log-file /dev/null"
        )
        done = subprocess.run(
            ["nsenter", "-t", str(host.pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w/", "sh", "-c", command],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        kept = workdir / f"{host.name}-lynis-report.dat"
        shutil.copy2(report, kept)
        return kept
    finally:
        shutil.rmtree(staged, ignore_errors=True)
        report.unlink(missing_ok=True)


def test_openscap_and_lynis_results_join_the_verdict_and_report(lab, enrolled, audit, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    _tools_or_skip()
    inventory, _known_hosts = enrolled
    started = time.monotonic()
    weak = next(host for host in lab.hosts if host.name == "labh2")
    db = workdir / "external.db"
    with ThreadPoolExecutor(max_workers=3) as pool:  # Lynis takes longest (it steps past every test it skips)
        audited = pool.submit(audit, "--host", "labh2", db=db)
        scanned = {"openscap": pool.submit(_openscap, weak, workdir), "lynis": pool.submit(_lynis, weak, workdir)}
        call = audited.result()
        produced = {tool: future.result() for tool, future in scanned.items()}
    assert call.returncode in (0, 1), call.stdout + call.stderr
    run_id = open_store(f"sqlite:///{db}").list_runs(1)[0].id

    for tool, path in produced.items():
        call = run_cli(
            "import", str(path), "--tool", tool, "--agency", "lab", "--host", "labh2",
            "-i", str(inventory), "--db", f"sqlite:///{db}", "--format", "json",
        )  # fmt: skip
        assert call.returncode == 0, call.stderr
        summary = json.loads(call.stdout)
        assert summary["source"] == f"external:{tool}" and summary["target_in_file"] == "labh2"
        assert summary["mapped"] > 0 and summary["unmapped"] > 0  # service_cron_enabled, BANN-7126
        assert summary["statuses"].get("fail", 0) > 0  # the weak posture fails both tools too

    call = run_cli("verdict", run_id, "--agency", "lab", "--db", f"sqlite:///{db}", "--format", "json")
    assert call.returncode == 1, call.stderr  # the weak host does not meet level 3
    clauses = {row["clause"]: row for row in json.loads(call.stdout)}
    sources = clauses["7.2.2.1"]["sources"].split(", ")
    assert sources == ["auditor", "external:lynis", "external:openscap"]
    assert clauses["7.2.2.2"]["state"] == "failed"

    html = workdir / "external-report.html"
    call = run_cli(
        "report", run_id, "--agency", "lab", "--lang", "vi", "--format", "html", "-o", str(html),
        "--db", f"sqlite:///{db}",
    )  # fmt: skip
    assert call.returncode == 0, call.stderr
    page = html.read_text(encoding="utf-8")
    assert "Kết quả từ công cụ khác" in page
    assert 'data-source="external:openscap"' in page and 'data-source="external:lynis"' in page
    assert re.search(r"xccdf_org\.ssgproject\.content_rule_\w+", page)  # a mapped OpenSCAP failure is listed
    assert "AUTH-9283" in page  # accounts without a password: a Lynis warning on the weak host
    print(f"produced, imported and judged in {time.monotonic() - started:.1f}s")
