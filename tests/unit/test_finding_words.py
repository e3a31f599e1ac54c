"""Every shipped check, judged on recorded outcomes, explains itself in words: a Vietnamese reason or
requirement holds no matcher syntax and no English state name, except inside quoted target output."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.collectors.network import facts as network_facts
from auditor.collectors.network.facts import address_facts, exposure_fact, fact, ssh_facts
from auditor.collectors.network.inside import InsideView
from auditor.collectors.network.nmap import parse_xml
from auditor.collectors.network.sshalgos import SshAlgorithms
from auditor.content.checks import Check, NetworkProbe
from auditor.evaluation.evaluate import evaluate, host_error_finding, manual_finding
from auditor.evaluation.expected_words import expected_in_words
from auditor.evaluation.findings import Finding
from auditor.evaluation.observations import HostFacts, Observation
from auditor.evaluation.observed_words import line_in_words, not_applicable_in_words
from auditor.evaluation.parsers import listening_sockets
from auditor.messages import reason
from auditor.reports import build_agency_report, render_html
from auditor.store.db import open_store
from auditor.vocabulary import Status
from tests.checkcases import CASES_DIR, Case, judge_recorded, load_case_file
from tests.unit.test_network import XML
from tests.unit.test_store import make_agency, ok_host, start
from tests.wording import problems, raw_syntax, regexes, shipped, vietnamese_texts


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
    check = shipped().checks[finding.check_id]
    for field, text in vietnamese_texts(finding):
        assert not problems(text), f"{name} {field}: {text}"
        assert not raw_syntax(check, text), f"{name} {field} shows a pattern: {text}"


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
    # scenario-only checks pass only in a sandbox (tests/content checks the words of those passes), most network
    # checks only on a well-kept target
    assert len(passed & automated) >= len(automated) // 2


def test_every_expectation_has_words_in_both_languages() -> None:
    inputs = shipped().profile.values()
    for check_id, check in shipped().checks.items():
        if check.expect is None:
            continue
        words = check.expect.explain(inputs)
        assert not problems(words.vi), f"{check_id}: {words.vi}"
        passed = reason("pass", expected=words).vi  # the sentence of every pass, as evaluate() builds it
        assert not raw_syntax(check, words.vi) and not raw_syntax(check, passed), f"{check_id}: {passed}"
        assert words.vi != words.en and check.expect.describe(inputs) not in (words.vi, words.en), check_id


def test_every_pattern_says_what_it_means() -> None:
    """A pattern is not something a reader should decode: every regex of a shipped check, host or network,
    carries `means:` in both languages."""
    for check_id, check in shipped().checks.items():
        bare = [r.regex for r in regexes((check.expect, check.configured)) if r.means is None]
        assert not bare, f"{check_id}: give these patterns `means:` {bare}"


BARE = {
    "id": "demo_bare_pattern",
    "title": {"vi": "Ví dụ", "en": "Example"},
    "severity": "low",
    "probe": {"command": "echo 0.0.0.0:2222"},
    "expect": {"regex": ":2222$"},
    "rationale": {"vi": "Ví dụ.", "en": "Example."},
    "remediation": {"vi": "Không.", "en": "None."},
}


@pytest.mark.parametrize(("stdout", "status"), [("0.0.0.0:2222", Status.passed), ("0.0.0.0:22", Status.failed)])
def test_a_pattern_without_means_is_caught_in_pass_and_fail_sentences(stdout: str, status: Status) -> None:
    """The guard above is only as good as its detector: a check without `means:` shows its pattern, and is
    caught, whether it passes or fails; with `means:` it reads as words."""
    bare = Check.model_validate(BARE)
    case = Case(name="demo", expect="pass" if status is Status.passed else "fail", stdout=stdout)
    finding = judge_recorded(bare, case, {})
    assert finding.status is status
    assert raw_syntax(bare, finding.reason.vi) and finding.expected_text is not None
    assert raw_syntax(bare, finding.expected_text.vi)
    means = {"vi": "lắng nghe ở cổng 2222", "en": "listens on port 2222"}
    worded = Check.model_validate({**BARE, "expect": {"regex": ":2222$", "means": means}})
    finding = judge_recorded(worded, case, {})
    assert finding.status is status
    assert not raw_syntax(worded, finding.reason.vi) and "cổng 2222" in finding.reason.vi


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


def test_findings_stored_without_words_are_read_in_words(tmp_path: Path) -> None:
    """Rows written before the store kept words hold only the notation (NULL words): readers word them from the
    check as it is defined now, say so when that definition no longer gives the stored notation, fall back to a
    neutral sentence for a check that is gone, and never show the notation."""
    check = shipped().checks["net_remote_admin_not_exposed"]
    admin = next(o for o in agent_observations() if o.probe_id == "admin_ports" and "3389" in o.stdout_text)
    judged = evaluate(check, admin, HostFacts(), shipped().profile.values())
    old = judged.model_copy(update={"expected_text": None})
    other_inputs = old.model_copy(update={"expected": "subset of [2222]"})  # judged with an agency's own input
    gone = old.model_copy(update={"check_id": "sshd_retired_check", "expected": "~ /^PermitRootLogin no$/"})
    manual = next(manual_finding(c) for c in shipped().checks.values() if c.is_manual)
    hosts = {"web-01": (old, manual), "web-02": (other_inputs,), "web-03": (gone,)}
    with open_store(f"sqlite:///{tmp_path / 'audit.db'}") as store:
        run_id = start(store)
        for host_name, findings in hosts.items():
            result = ok_host(host_name=host_name).model_copy(update={"findings": findings, "observations": (admin,)})
            store.save_host_result(run_id, make_agency(), result)
        rows = {(row.host_name, row.check_id): row for row in store.list_findings(run_id)}
        html = render_html(build_agency_report(store, shipped(), run_id, "vtv"))
    assert all(row.expected_text is None for row in rows.values())  # nothing stored in words
    same = expected_in_words(rows["web-01", check.id], shipped())
    assert same == judged.expected_text and same is not None and same.vi == "chỉ gồm các giá trị: “22”"
    differs = expected_in_words(rows["web-02", check.id], shipped())
    assert differs is not None and differs.vi.startswith("chỉ gồm các giá trị: “22”")
    assert "định nghĩa hiện hành" in differs.vi and "defined now" in differs.en
    retired = expected_in_words(rows["web-03", "sshd_retired_check"], shipped())
    assert retired is not None and "không còn" in retired.vi and "no longer" in retired.en
    assert expected_in_words(rows["web-01", manual.check_id], shipped()) is None  # nothing was expected
    for words in (same, differs, retired):
        assert not problems(words.vi) and "subset of" not in words.vi and "~ /" not in words.vi
    # the report reads the same words: the notation stays for machines
    assert "chỉ gồm các giá trị: “22”" in html.replace("&#34;", '"')
    assert "subset of [" not in html and "~ /^PermitRootLogin" not in html
