"""The lab's two Debian releases: mirrors, host naming, postures per release, expectations per release."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lab.base import RELEASES, apt_mirrors, base_path
from lab.common import LabError
from lab.hosts import HostPaths
from lab.postures import LAB_CANNOT_RUN, POSTURES, configure_script, host_config
from tests.checkcases import CASES_DIR, Case, CaseFile, load_case_file

BOOKWORM_DEB822 = """Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def _apt_dir(tmp_path: Path, sources: str = "", lists: str = "") -> Path:
    (tmp_path / "sources.list.d").mkdir()
    if sources:
        (tmp_path / "sources.list.d/debian.sources").write_text(sources, encoding="utf-8")
    (tmp_path / "sources.list").write_text(lists, encoding="utf-8")
    (tmp_path / "sources.list.d/vendor.list").write_text("deb https://vendor.example/apt vendor-bookworm main\n")
    return tmp_path


def test_a_release_the_machine_uses_comes_from_its_own_entries(tmp_path: Path) -> None:
    apt = _apt_dir(tmp_path, BOOKWORM_DEB822)
    assert apt_mirrors("bookworm", apt) == ("http://mirror.example/debian", "http://mirror.example/debian-security")


def test_another_debian_release_uses_the_same_debian_mirror(tmp_path: Path) -> None:
    apt = _apt_dir(tmp_path, BOOKWORM_DEB822)
    assert apt_mirrors("trixie", apt) == ("http://mirror.example/debian", "http://mirror.example/debian-security")


def test_one_line_sources_lists_work_too_and_vendor_lists_are_ignored(tmp_path: Path) -> None:
    lists = "deb [arch=amd64] http://old.example/debian bookworm main\n# deb http://x/ trixie main\n"
    apt = _apt_dir(tmp_path, lists=lists)
    assert apt_mirrors("trixie", apt) == ("http://old.example/debian", None)


def test_no_debian_mirror_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="no Debian apt mirror"):
        apt_mirrors("trixie", _apt_dir(tmp_path))


def test_each_release_has_its_own_cached_base_and_trixie_has_no_syslog_daemon(tmp_path: Path) -> None:
    assert base_path(tmp_path, "bookworm") == tmp_path / "base"  # the cache CI already holds
    assert base_path(tmp_path, "trixie") != base_path(tmp_path, "bookworm")
    assert RELEASES["bookworm"].syslog_in_base and not RELEASES["trixie"].syslog_in_base
    assert "rsyslog" in RELEASES["trixie"].extra_groups  # postures that want it install it offline


def test_hosts_of_the_two_releases_never_share_names_namespaces_or_addresses(tmp_path: Path) -> None:
    hosts = [HostPaths(i, tmp_path, release) for release in RELEASES for i in (1, 2, 250)]
    for attribute in ("name", "netns", "veth", "address", "hostside", "dir"):
        values = [getattr(hp, attribute) for hp in hosts]
        assert len(set(values)) == len(values), attribute
    assert all(len(hp.veth) <= 15 for hp in hosts)  # the kernel's interface name limit
    assert HostPaths(1, tmp_path).name == "labh1" and HostPaths(1, tmp_path, "trixie").name == "labt1"


def test_postures_run_rsyslog_where_they_say_and_sshd_logs_accordingly(tmp_path: Path) -> None:
    mixed = POSTURES["mixed"]
    assert any("rsyslogd" in argv[0] for argv in mixed.release_services("bookworm"))
    assert not any("rsyslogd" in argv[0] for argv in mixed.release_services("trixie"))
    assert "-e" in mixed.sshd("trixie") and "-e" not in mixed.sshd("bookworm")
    script = configure_script(POSTURES["hardened"], paths=HostPaths(4, tmp_path, "trixie"))
    assert "LAB_RELEASE=trixie\n" in script and "LAB_SYSLOG=yes\n" in script and "LAB_ADDR=10.201.4.2\n" in script
    config = host_config(POSTURES["weak"], paths=HostPaths(2, tmp_path, "trixie"), config_hash="x")
    assert '"release": "trixie"' in config


def test_trixie_expectations_lay_over_bookworm_and_say_why() -> None:
    cases = CaseFile.model_validate(
        {
            "lab": {"hardened": "pass", "weak": "fail", "mixed": "pass"},
            "trixie": {"lab": {"mixed": "fail"}, "why": "no syslog daemon on a default Debian 13"},
            "cases": [{"name": "a", "expect": "pass", "stdout": "x"}, {"name": "b", "expect": "fail", "stdout": ""}],
        }
    )
    assert cases.lab_on("bookworm") == {"hardened": "pass", "weak": "fail", "mixed": "pass"}
    assert cases.lab_on("trixie") == {"hardened": "pass", "weak": "fail", "mixed": "fail"}
    with pytest.raises(ValidationError):
        CaseFile.model_validate({**cases.model_dump(), "trixie": {"lab": {"mixed": "fail"}}})


def test_a_one_release_case_must_say_why() -> None:
    with pytest.raises(ValidationError, match="release_why"):
        Case.model_validate({"name": "n", "expect": "pass", "files": {"/x": ""}, "release": "trixie"})
    case = Case.model_validate(
        {"name": "n", "expect": "pass", "files": {"/x": ""}, "release": "trixie", "release_why": "OpenSSH 10 only"}
    )
    assert case.runs_on("trixie") and not case.runs_on("bookworm")


def test_what_the_lab_cannot_run_is_expected_to_fail_on_the_hardened_hosts() -> None:
    for check_id, reason in LAB_CANNOT_RUN.items():
        assert reason and (CASES_DIR / f"{check_id}.yml").exists()
        assert load_case_file(check_id).lab_on("bookworm")["hardened"] in ("fail", "error")
        assert load_case_file(check_id).lab_on("trixie")["hardened"] in ("fail", "error")
