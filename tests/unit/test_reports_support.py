"""Synthetic audit data for the report tests, written through the real Store API (no lab needed)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache

from auditor.content.loader import Content, load_content
from auditor.evaluation.findings import Finding, HostResult, HostStatus
from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome
from auditor.inventory import Agency
from auditor.store import Store
from auditor.vocabulary import LocalizedText, Severity, Status

T0 = datetime(2026, 10, 1, 8, 0, 0, tzinfo=UTC)
AGENCY = Agency(id="baosoctrang", name=LocalizedText(vi="Báo Sóc Trăng", en="Soc Trang Newspaper"))
HOSTILE = (
    b"<script>alert('xss')</script><img src=x onerror=alert(1)> <b>bold</b>\n"
    b"\x1b[31mRED\x1b[0m \x1b]0;title\x07 bell\x07 nul\x00 \xff\xfe\xc3\x28 invalid\n"
    b"\xe2\x80\xaeevil-rtl \xe2\x80\x8bzero-width https://evil.example/x.css\n"
)


@cache
def content() -> Content:
    return load_content()


def automated_checks(n: int) -> list[str]:
    """The first n automated shell checks of the shipped content (ids are real, so titles and fixes are too)."""
    ids = [c.id for c in content().checks.values() if not c.is_manual and c.scope == "host"]
    return (ids * (n // len(ids) + 1))[:n] if n > len(ids) else ids[:n]


def manual_items() -> list[str]:
    return [c.id for c in content().checks.values() if c.is_manual and c.scope == "agency"]


def host_result(
    host_name: str,
    statuses: Mapping[str, Status],
    *,
    agency: Agency = AGENCY,
    stdout: bytes | Mapping[str, bytes] = b"value\n",
    started: datetime = T0,
    address: str = "10.200.1.2",
) -> HostResult:
    findings: list[Finding] = []
    observations: list[Observation] = []
    for index, (check_id, status) in enumerate(statuses.items()):
        probe_id = check_id if check_id not in {f.check_id for f in findings} else f"{check_id}_{index}"
        out = stdout.get(check_id, b"value\n") if isinstance(stdout, Mapping) else stdout
        check = content().checks.get(check_id)
        observations.append(
            Observation(
                probe_id=probe_id,
                command=f"cat /etc/{check_id}.conf",
                outcome=ProbeOutcome.completed,
                exit_code=0,
                stdout=out,
                stderr=b"",
                duration_s=0.05,
                collected_at=started + timedelta(seconds=1),
            )
        )
        findings.append(
            Finding(
                check_id=check_id,
                status=status,
                severity=check.severity if check else Severity.medium,
                observed=out.decode("utf-8", errors="replace")[:200],
                expected="== no",
                reason=LocalizedText(
                    vi=f"Giá trị thực tế không khớp ({check_id})", en=f"Observed value differs ({check_id})"
                ),
                requirements=content().requirements_of(check_id),
                evidence_probe_id=probe_id,
            )
        )
    return HostResult(
        agency_id=agency.id,
        host_name=host_name,
        address=address,
        status=HostStatus.ok,
        facts=HostFacts(hostname=host_name, os_id="debian", os_version="12", os_pretty="Debian GNU/Linux 12"),
        exec_requests=1,
        started_at=started,
        finished_at=started + timedelta(seconds=3),
        findings=tuple(findings),
        observations=tuple(observations),
    )


def agency_result(agency: Agency = AGENCY, started: datetime = T0) -> HostResult:
    findings = tuple(
        Finding(
            check_id=check_id,
            status=Status.manual,
            severity=content().checks[check_id].severity,
            observed="",
            expected="",
            reason=LocalizedText(vi="Chờ bằng chứng", en="Awaiting evidence"),
            requirements=content().requirements_of(check_id),
        )
        for check_id in manual_items()
    )
    return HostResult(
        agency_id=agency.id,
        host_name=f"agency:{agency.id}",
        kind="agency",
        address="",
        status=HostStatus.ok,
        started_at=started,
        finished_at=started,
        findings=findings,
    )


def store_run(store: Store, results: list[HostResult], agencies: Mapping[str, Agency], started: datetime) -> str:
    run_id = store.start_run("0.1.0", "level3-test", "ab" * 32, {"profile": "level3"}, started_at=started)
    for result in results:
        store.save_host_result(run_id, agencies[result.agency_id], result)
    store.finish_run(run_id, "completed")
    return run_id


def test_support_builds_valid_results() -> None:
    checks = automated_checks(3)
    result = host_result("web-01", dict.fromkeys(checks, Status.failed))
    assert [f.check_id for f in result.findings] == checks
    assert all(f.evidence_probe_id for f in result.findings)
    assert manual_items()
