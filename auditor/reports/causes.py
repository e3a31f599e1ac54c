"""Root causes of failing results: one per failing check, except that the network checks that each see a port
reachable from outside (admin ports, ports beyond the host's roles, database or legacy ports, inside vs outside)
are one cause per port, counted once however many of those checks observed it."""

from __future__ import annotations

import re
from collections.abc import Iterable

from auditor.content.expectations import Excludes, SubsetOf
from auditor.content.loader import Content
from auditor.store import FindingRow

# The network checks whose failure means "a port answers the scanner that should not".
EXPOSURE_CHECKS: frozenset[str] = frozenset(
    {
        "net_remote_admin_not_exposed",
        "net_unexpected_services_absent",
        "net_db_ports_not_exposed",
        "net_legacy_services_not_exposed",
        "net_exposure_matches_inside_view",
    }
)
PORT_CAUSE_PREFIX = "port:"
_PORT = re.compile(r"^\d{1,5}(?:/[a-z]+)?$")
_LISTED_PORT = re.compile(r"(?<![\w.])\d{1,5}(?:/[a-z]+)?(?![\w.])")
_BEYOND_ROLE = re.compile(r"^exposed beyond role: (\d{1,5}(?:/[a-z]+)?)\b")


def exposed_ports(finding: FindingRow, content: Content) -> tuple[str, ...]:
    """The port labels ("22", "161/udp") a failing exposure finding blames; () when it is not one or names none."""
    if finding.check_id not in EXPOSURE_CHECKS or finding.status.value != "fail":
        return ()
    lines = [line.strip() for line in finding.observed.splitlines() if line.strip()]
    beyond = [m.group(1) for line in lines if (m := _BEYOND_ROLE.match(line))]
    if beyond:
        return tuple(dict.fromkeys(beyond))
    observed = [line for line in lines if _PORT.match(line)]
    listed = set(_LISTED_PORT.findall(finding.expected))
    check = content.checks.get(finding.check_id)
    expect = check.expect if check is not None else None
    if isinstance(expect, SubsetOf):
        return tuple(dict.fromkeys(p for p in observed if p not in listed))
    if isinstance(expect, Excludes):
        return tuple(dict.fromkeys(p for p in observed if p in listed))
    return ()


def cause_keys(finding: FindingRow, content: Content) -> tuple[str, ...]:
    """The causes a failing finding belongs to: ``port:<label>`` for each port it blames, else its check id."""
    ports = exposed_ports(finding, content)
    return tuple(PORT_CAUSE_PREFIX + port for port in ports) if ports else (finding.check_id,)


def group_by_cause(failing: Iterable[FindingRow], content: Content) -> dict[str, list[FindingRow]]:
    """Failing findings by cause, in first-seen order; a finding blaming two ports supports both."""
    causes: dict[str, list[FindingRow]] = {}
    for finding in failing:
        for key in cause_keys(finding, content):
            causes.setdefault(key, []).append(finding)
    return causes
