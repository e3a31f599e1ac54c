"""Every shipped check, judged on recorded outcomes, explains itself in words: a Vietnamese reason or
requirement holds no matcher syntax and no English state name, except inside quoted target output."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from pydantic import BaseModel

from auditor.collectors.network import facts as network_facts
from auditor.collectors.network.facts import address_facts, exposure_fact, fact, ssh_facts
from auditor.collectors.network.inside import InsideView
from auditor.collectors.network.nmap import parse_xml
from auditor.collectors.network.sshalgos import SshAlgorithms
from auditor.content.checks import NetworkProbe
from auditor.content.expectations import Regex
from auditor.content.loader import Content, load_content
from auditor.evaluation.evaluate import evaluate, host_error_finding, manual_finding
from auditor.evaluation.findings import Finding
from auditor.evaluation.observations import HostFacts, Observation
from auditor.evaluation.observed_words import line_in_words, not_applicable_in_words
from auditor.evaluation.parsers import listening_sockets
from auditor.store.db import open_store
from auditor.vocabulary import Status
from tests.checkcases import CASES_DIR, Case, judge_recorded, load_case_file
from tests.unit.test_network import XML
from tests.unit.test_store import make_agency, ok_host, start

MATCHER_SYNTAX = ("~ /", "none(", "all(", "any(", "subset of", "contains [", "excludes [", '= "', "!=", "<=", ">=")
STATE_NAMES = re.compile(
    r"\b(pass|passed|fail|failed|error|manual|not_applicable|not_evaluated|completed|completed_with_errors|"
    r"awaiting_evidence|not_met|partly_met|met|meets|waived|interrupted)\b",
    re.IGNORECASE,
)
QUOTED = re.compile(r"“[^”]*”")  # what a target sent, or a value a check names, quoted as data


@cache
def shipped() -> Content:
    return load_content()


def problems(text: str) -> list[str]:
    """Matcher syntax or English state names outside quoted data."""
    plain = QUOTED.sub("“…”", text)
    found = [token for token in MATCHER_SYNTAX if token in plain]
    found += [match.group(0) for match in STATE_NAMES.finditer(plain)]
    return found


def vietnamese_texts(finding: Finding) -> Iterator[tuple[str, str]]:
    yield "reason", finding.reason.vi
    if finding.expected_text is not None:
        yield "expected", finding.expected_text.vi


def recorded_findings() -> Iterator[tuple[str, Finding]]:
    """Host checks on the recorded outputs of their cases (scenario cases need a sandbox and are left out)."""
    for check_id, check in sorted(shipped().checks.items()):
        if check.is_manual or check.scope != "host" or not (CASES_DIR / f"{check_id}.yml").exists():
            continue
        for case in load_case_file(check_id).cases:
            if case.is_scenario:
                continue
            inputs = shipped().profile.values(case.inputs)
            yield f"{check_id}-{case.name}", judge_recorded(check, case, inputs, shipped().sources)


# Outputs for checks whose cases are scenarios (they run in a sandbox as root): enough to take each matcher
# down its failure paths (nothing, a stray word, numbers on either side of a bound, several lines).
STRAY_OUTPUTS = ("", "unexpected-value", "0", "99999", "-1\n7", "a:22\nroot 0 x\nfile=off")


def stray_findings() -> Iterator[tuple[str, Finding]]:
    for check_id, check in sorted(shipped().checks.items()):
        if check.is_manual or check.scope != "host":
            continue
        for number, stdout in enumerate(STRAY_OUTPUTS):
            case = Case(name=f"stray{number}", expect="fail", stdout=stdout)
            inputs = shipped().profile.values()
            yield f"{check_id}-stray{number}", judge_recorded(check, case, inputs, shipped().sources)


def agent_observations() -> list[Observation]:
    """What the network agents hand over, built by the agents' own code where it runs without a network,
    and in their line format where it needs one (TLS, web)."""
    (host,) = parse_xml(XML)
    sockets = "tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\ntcp LISTEN 0 80 [::]:3306 [::]:*\ntcp LISTEN 0 9 *:9000 *:*\n"
    inside = InsideView("10.0.0.5", tuple(listening_sockets(sockets)), "source.listening_sockets")
    algos = SshAlgorithms(
        banner="SSH-2.0-x",
        kex=("diffie-hellman-group1-sha1", "curve25519-sha256"),
        host_key=("ssh-ed25519",),
        ciphers=("aes128-cbc", "aes128-ctr"),
        macs=("hmac-sha1", "hmac-sha2-256"),
    )
    lines = {
        "ftp_anonymous": ["anonymous login allowed (nmap ftp-anon: Anonymous FTP login allowed (FTP code 230))"],
        "tls_protocols": [
            "TLSv1.0 offered [decided by python handshake; nmap agrees]",
            "TLSv1.3 offered [decided by python handshake; nmap gave no result]",
            "SSLv3 not offered [decided by nmap; python client cannot test it]",
        ],
        "tls_ciphers": [
            "cipher TLSv1.0 TLS_RSA_WITH_3DES_EDE_CBC_SHA grade C [nmap]",
            "cipher TLSv1.2 family RC4 accepted [python handshake]",
            "python tried weak families: TLSv1.2",
        ],
        "tls_certificate_status": [
            "chain: failed: self-signed certificate",
            "dates: NOT current (not before 2020-01-01, not after 2021-01-01)",
        ],
        "tls_certificate_hostname": ["mismatch: www.example.vn against DNS:other.vn"],
        "tls_certificate_days_left": ["3"],
        "tls_certificate_key_strength": ["1024"],
        "web_csp": ["content-security-policy absent"],
        "web_content_type_options": ["x-content-type-options: sniff"],
        "web_referrer_policy": ["referrer-policy: unsafe-url"],
        "web_frame_options": ["x-frame-options absent"],
        "web_https_redirect": ["no redirect to https: 200"],
        "web_cookies": ["sid: secure=no httponly=no samesite=absent"],
        "web_directory_listing": ["/uploads/: listing", "/: no listing (200)"],
        "web_admin_paths": ["/phpmyadmin/: 200 reachable", "/admin/: 404 not public"],
        "web_trace": ["TRACE /: 200"],
        "web_hsts": ["strict-transport-security absent"],
        "web_version_headers": ["server: nginx/1.14.0"],
        "web_cms": ["generator: WordPress 4.9"],
    }
    return [
        *address_facts(host, "nmap test"),
        exposure_fact(inside, host, {"22", "443", "3306"}, {"443"}),
        *ssh_facts(algos, None),
        *(fact(name, "recorded agent lines", text) for name, text in lines.items()),
        fact("admin_ports", "recorded agent lines", ["22", "3389"]),
        fact("web_https_redirect", "recorded agent lines", [], not_applicable="no plain-HTTP form to check"),
    ]


def network_findings() -> Iterator[tuple[str, Finding]]:
    """Every network check judged on the agents' observations of the fact it reads."""
    observations = agent_observations()
    for check_id, check in sorted(shipped().checks.items()):
        if check.is_manual or not isinstance(check.probe, NetworkProbe):
            continue
        observed = [o for o in observations if o.probe_id == check.probe.observe]
        assert observed, f"{check_id}: no recorded observation of {check.probe.observe}"
        for number, observation in enumerate(observed):
            finding = evaluate(check, observation, HostFacts(), shipped().profile.values())
            yield f"{check_id}-agent{number}", finding


def other_findings() -> Iterator[tuple[str, Finding]]:
    for check_id, check in sorted(shipped().checks.items()):
        if check.is_manual:
            yield f"{check_id}-manual", manual_finding(check)
        else:
            yield f"{check_id}-unreachable", host_error_finding(check, "unreachable", "connection refused")


ALL = [*recorded_findings(), *stray_findings(), *network_findings(), *other_findings()]


@pytest.mark.parametrize(("name", "finding"), ALL, ids=[name for name, _ in ALL])
def test_vietnamese_words_only(name: str, finding: Finding) -> None:
    for field, text in vietnamese_texts(finding):
        assert not problems(text), f"{name} {field}: {text}"


def test_network_reasons_never_repeat_the_agents_lines() -> None:
    """The agents' lines are our own English: a Vietnamese reason puts them into words instead."""
    agent_lines = {line for o in agent_observations() for line in o.stdout_text.splitlines()}
    known = {line for line in agent_lines if not line_in_words(line).vi.startswith("“")}
    assert len(known) >= 20
    for name, finding in ALL:
        leaked = [line for line in known if line in finding.reason.vi]
        assert not leaked, f"{name}: {finding.reason.vi}"


def test_the_cases_cover_every_outcome() -> None:
    """The words are checked on passes and failures alike, on every automated check."""
    statuses = {finding.status for _, finding in ALL}
    assert {Status.passed, Status.failed, Status.error, Status.not_applicable, Status.manual} <= statuses
    automated = {check_id for check_id, check in shipped().checks.items() if not check.is_manual}
    failed = {name.split("-", 1)[0] for name, finding in ALL if finding.status is Status.failed}
    passed = {name.split("-", 1)[0] for name, finding in ALL if finding.status is Status.passed}
    assert failed >= automated  # a failure sentence is the one that quotes what was seen
    # a pass sentence is one template around the requirement's words, which every check is tested for above;
    # scenario-only checks pass only in a sandbox, most network checks only on a well-kept target
    assert len(passed & automated) >= len(automated) // 2


def test_every_expectation_has_words_in_both_languages() -> None:
    inputs = shipped().profile.values()
    for check_id, check in shipped().checks.items():
        if check.expect is None:
            continue
        words = check.expect.explain(inputs)
        assert not problems(words.vi), f"{check_id}: {words.vi}"
        assert words.vi != words.en and check.expect.describe(inputs) not in (words.vi, words.en), check_id


def regexes(node: object) -> Iterator[Regex]:
    if isinstance(node, Regex):
        yield node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from regexes(getattr(node, name))
    elif isinstance(node, tuple):
        for item in node:
            yield from regexes(item)


def test_network_patterns_say_what_they_mean() -> None:
    """A network check matches the agents' own English lines: its requirement must read as words, not as
    a pattern over those lines."""
    for check_id, check in shipped().checks.items():
        if isinstance(check.probe, NetworkProbe):
            bare = [r.regex for r in regexes(check.expect) if r.means is None]
            assert not bare, f"{check_id}: give these patterns `means:` {bare}"


def test_exposure_failure_is_told_in_words_not_in_the_agents_line() -> None:
    check = shipped().checks["net_exposure_matches_inside_view"]
    exposure = next(o for o in agent_observations() if o.probe_id == "inside_outside")
    finding = evaluate(check, exposure, HostFacts(), shipped().profile.values())
    assert finding.status is Status.failed
    assert "exposed beyond role" not in finding.reason.vi and "listens inside" not in finding.reason.vi
    assert "cổng 22" in finding.reason.vi and "cổng 3306" in finding.reason.vi
    assert "cổng 9000" not in finding.reason.vi  # only the lines that break the rule are named
    assert finding.expected == "none(~ /^exposed beyond role/)"  # the notation stays for machines
    assert finding.expected_text is not None and "vai trò" in finding.expected_text.vi


def test_subset_requirement_reads_as_words() -> None:
    check = shipped().checks["net_remote_admin_not_exposed"]
    admin = next(o for o in agent_observations() if o.probe_id == "admin_ports")
    finding = evaluate(check, admin, HostFacts(), {**shipped().profile.values(), "allowed_ports_admin": "2222"})
    assert finding.expected == "subset of [2222]"
    assert finding.expected_text is not None
    assert (finding.expected_text.vi, finding.expected_text.en) == ("chỉ gồm các giá trị: “2222”", "only: “2222”")
    assert finding.reason.vi == "Không đạt: có mục nằm ngoài danh sách cho phép: “22”."


def test_unknown_agent_line_is_quoted_as_data() -> None:
    words = line_in_words("something new: 8443")
    assert words.vi == words.en == "“something new: 8443”"
    known = line_in_words("blocked (firewall): 8080 listens inside, not reachable from the scanner")
    assert known.vi == "cổng 8080 lắng nghe bên trong nhưng bị tường lửa chặn"


def test_the_store_keeps_the_requirement_in_words_beside_the_notation(tmp_path: Path) -> None:
    check = shipped().checks["net_remote_admin_not_exposed"]
    admin = next(o for o in agent_observations() if o.probe_id == "admin_ports" and "3389" in o.stdout_text)
    judged = evaluate(check, admin, HostFacts(), shipped().profile.values())
    manual = next(manual_finding(c) for c in shipped().checks.values() if c.is_manual)
    result = ok_host().model_copy(update={"findings": (judged, manual), "observations": (admin,)})
    with open_store(f"sqlite:///{tmp_path / 'audit.db'}") as store:
        run_id = start(store)
        store.save_host_result(run_id, make_agency(), result)
        rows = {row.check_id: row for row in store.list_findings(run_id)}
    row = rows[check.id]
    assert row.expected == "subset of [22]"
    assert row.expected_text == judged.expected_text
    assert row.expected_text is not None and row.expected_text.vi == "chỉ gồm các giá trị: “22”"
    assert rows[manual.check_id].expected_text is None  # manual evidence has no expectation to word


def test_every_shipped_not_applicable_message_has_words() -> None:
    """What a probe prints when its check does not apply (exit code 100) is our wording: a report says it in
    the reader's language."""
    shell = {
        message
        for path in (CASES_DIR.parent.parent / "checklists").rglob("*.yml")
        for message in re.findall(r'echo "([^"$]*)"; exit 100', path.read_text(encoding="utf-8"))
    }
    agents = {
        message
        for path in Path(network_facts.__file__).parent.glob("*.py")
        for message in re.findall(r'not_applicable="([^"]*)"', path.read_text(encoding="utf-8"))
    }
    assert len(agents) >= 4
    assert len(shell) >= 15
    missing = sorted(message for message in shell | agents if not_applicable_in_words(message) is None)
    assert not missing
    ssh = not_applicable_in_words("OpenSSH server is not installed (no /etc/ssh/sshd_config)")
    assert ssh is not None and ssh.vi == "máy chủ OpenSSH (sshd) chưa được cài đặt"
