"""The selection vocabulary and the named parsers, on recorded source outputs: pure functions."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from auditor.content.checks import Probe
from auditor.content.select import Selection, select_text, source_lines
from auditor.evaluation.parsers import listening_ports, listening_sockets

SSHD_T = """port 2222
permitrootlogin without-password
PermitRootLogin yes
# permitrootlogin no
ciphers chacha20-poly1305@openssh.com,AES128-CBC ,aes256-ctr
kbdinteractiveauthentication no
challengeresponseauthentication yes
allowusers alice
allowusers bob
subsystem sftp /usr/lib/openssh/sftp-server -l INFO
"""
SYSCTL = """net.ipv4.conf.all.accept_redirects = 0
net.ipv4.conf.all.accept_redirects_extra = 1
net.ipv4.ip_forward = 1
kernel.randomize_va_space=2
"""
LOGIN_DEFS = "PASS_MAX_DAYS 99999\npass_max_days 30\nPASS_MAX_DAYS 90\nUMASK 027\n"


def sel(**fields: object) -> Selection:
    return Selection.model_validate(fields)


@pytest.mark.parametrize(
    ("fields", "text", "expected"),
    [
        (
            {"key": "permitrootlogin", "lower": True},
            SSHD_T,
            "without-password\nyes",
        ),  # every occurrence, comment skipped
        ({"key": "permitrootlogin", "last": True}, SSHD_T, "yes"),
        (
            {"key": "ciphers", "split": ",", "lower": True},
            SSHD_T,
            "chacha20-poly1305@openssh.com\naes128-cbc\naes256-ctr",
        ),
        (
            {"key": ["kbdinteractiveauthentication", "challengeresponseauthentication"], "first_key": True},
            SSHD_T,
            "no",
        ),
        ({"key": ["challengeresponseauthentication", "nosuch"], "first_key": True}, SSHD_T, "yes"),
        ({"key": ["allowusers", "allowgroups"], "show_key": True}, SSHD_T, "allowusers alice\nallowusers bob"),
        ({"key": "subsystem"}, SSHD_T, "sftp /usr/lib/openssh/sftp-server -l INFO"),
        (
            {
                "key": ["net.ipv4.conf.all.accept_redirects", "kernel.randomize_va_space"],
                "separator": "=",
                "show_key": True,
            },
            SYSCTL,
            "net.ipv4.conf.all.accept_redirects=0\nkernel.randomize_va_space=2",
        ),
        ({"key": "net.ipv6.conf.all.forwarding", "separator": "="}, SYSCTL, ""),  # absent key: nothing
        ({"key": "PASS_MAX_DAYS", "ignore_case": False, "last": True}, LOGIN_DEFS, "90"),
        ({"key": "PASS_MIN_DAYS", "ignore_case": False, "default": "0"}, LOGIN_DEFS, "0"),
        ({"key": "PASS_WARN_AGE", "ignore_case": False, "default": "-1"}, "PASS_WARN_AGE\n", "-1"),  # no value
        (
            {"key": "suid"},
            "suid /usr/bin/passwd\nunowned /tmp/x\nsuid /opt/my tool/run\n",
            "/usr/bin/passwd\n/opt/my tool/run",
        ),
    ],
)
def test_selection(fields: dict[str, object], text: str, expected: str) -> None:
    assert select_text(sel(**fields), text) == expected


def test_source_lines_are_the_lines_a_selection_reads_as_written() -> None:
    assert source_lines(sel(key="permitrootlogin", last=True), SSHD_T) == ["PermitRootLogin yes"]
    assert source_lines(sel(key="ciphers"), SSHD_T) == [SSHD_T.splitlines()[4]]
    assert source_lines(sel(parse="listening_ports"), "a\nb") == ["a", "b"]  # a parser reads it all
    assert source_lines(None, "x\ny") == ["x", "y"]


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"key": "a", "parse": "listening_ports"},
        {"parse": "listening_ports", "lower": True},
        {"key": "a", "separator": " "},
    ],
)
def test_a_selection_is_either_keys_or_one_parser(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        sel(**fields)


def test_probe_reads_a_source_or_runs_its_own_command() -> None:
    assert Probe.model_validate({"source": "sshd_effective"}).probe_id_for == "source.sshd_effective"
    assert Probe.model_validate({"command": "true"}).probe_id_for is None
    for bad in (
        {},
        {"command": "true", "source": "x"},
        {"command": "true", "select": {"key": "a"}},
        {"source": "x", "timeout": 5},
    ):
        with pytest.raises(ValidationError):
            Probe.model_validate(bad)


SS = """tcp   LISTEN 0      128          0.0.0.0:22        0.0.0.0:*
tcp   LISTEN 0      80         127.0.0.1:3306      0.0.0.0:*
tcp   LISTEN 0      511             [::]:443          [::]:*
tcp   LISTEN 0      128            [::1]:631          [::]:*
udp   UNCONN 0      0            0.0.0.0:68        0.0.0.0:*
udp   UNCONN 0      0      10.0.0.2%eth0:123       0.0.0.0:*
udp   UNCONN 0      0        127.0.0.53%lo:53       0.0.0.0:*
"""
NETSTAT = """Active Internet connections (only servers)
Proto Recv-Q Send-Q Local Address           Foreign Address         State
tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN
tcp6       0      0 :::80                   :::*                    LISTEN
udp        0      0 127.0.0.1:323           0.0.0.0:*
"""


def test_listening_sockets_from_ss_and_netstat() -> None:
    assert listening_ports(SS) == "22\n123\n443"  # loopback and the DHCP client port are left out
    assert {s.label for s in listening_sockets(SS) if not s.loopback} == {"22", "443", "68/udp", "123/udp"}
    assert listening_ports(NETSTAT) == "22\n80"
    assert listening_ports("garbage\n\ntcp LISTEN 0 1 nowhere\n") == ""


def test_one_text_read_by_selections_that_split_it_differently_gives_each_its_own_lines() -> None:
    # A host's source is split once per way of splitting it: the separator and the case rule are part of that.
    text = "Key=1\nkey 2\n"
    assert select_text(Selection(key="key", separator="="), text) == "1"
    assert select_text(Selection(key="key"), text) == "2"
    assert select_text(Selection(key="key", ignore_case=False), text) == "2"
    assert select_text(Selection(key="Key", ignore_case=False, separator="="), text) == "1"
    assert select_text(Selection(key="Key", ignore_case=False), text) == ""
    assert select_text(Selection(key="key", separator="="), text) == "1"  # asked again, same answer
