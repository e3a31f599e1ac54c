"""`auditor inventory check` and the checks every command makes while loading an inventory: roles known to the
content, key files present and private, names that resolve, credentials' variables, hosts given twice."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from click.testing import Result
from typer.testing import CliRunner

from auditor import yamlio
from auditor.cli.inventory import inventory_app, place, render
from auditor.cli.words import Lang, Words
from auditor.content.checks import Profile, ProfileInput
from auditor.content.loader import load_content
from auditor.errors import InventoryError
from auditor.inventory import builtin_roles, load_inventory, roles_known_to
from auditor.inventory_check import Resolution, check_inventory, resolve_names
from auditor.vocabulary import LocalizedText
from tests.hostile_ssh.fleet import Behaviour, Fleet
from tests.integration.conftest import lab_inventory
from tests.portal.support import write_inventory

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inventory.yml"
HEAD = 'agencies:\n  - id: demo\n    name: {vi: "Thử", en: "Demo"}\n    hosts:\n'


def private_key(folder: Path, name: str = "id_ed25519", mode: int = 0o600) -> Path:
    """A key file as the lab and the hostile fleet make theirs: written, then chmod 600."""
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / name
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n(test)\n", encoding="utf-8")
    key.chmod(mode)
    return key


def inventory_file(tmp_path: Path, hosts_yaml: str, extra: str = "") -> Path:
    private_key(tmp_path / "keys", "id")
    path = tmp_path / "inventory.yml"
    path.write_text(HEAD + hosts_yaml + extra, encoding="utf-8")
    return path


def check(path: Path, *args: str, lang: str = "en") -> Result:
    return CliRunner().invoke(inventory_app, ["check", str(path), "--lang", lang, *args], env={"COLUMNS": "80"})


# -- the project's own inventories still load ---------------------------------------------------------------------


def test_the_example_inventory_loads_with_its_key_in_place(tmp_path: Path) -> None:
    key = private_key(tmp_path / "lab")
    text = EXAMPLE.read_text(encoding="utf-8").replace("/var/tmp/auditor-lab/id_ed25519", str(key))
    path = tmp_path / "inventory.yml"
    path.write_text(text, encoding="utf-8")
    inventory = load_inventory(path)
    assert {role for agency in inventory.agencies for host in agency.hosts for role in host.roles} <= builtin_roles()
    assert check_inventory(path, resolve=False).errors == ()


def test_the_lab_tests_inventories_load(tmp_path: Path) -> None:
    key = private_key(tmp_path / "lab")
    hosts = [SimpleNamespace(name=f"labh{n}", address=f"10.200.{n}.2", port=22, user="auditor") for n in (1, 2, 3)]
    lab = SimpleNamespace(key_file=key, hosts=hosts)
    path = lab_inventory(lab, tmp_path / "lab.yml", roles={"labh2": ["web", "db"]}, agency_inputs={"a": "1"})
    assert [h.roles for h in load_inventory(path).agencies[0].hosts] == [("web",), ("web", "db"), ("web",)]

    portal = load_inventory(write_inventory(tmp_path / "portal.yml"))
    assert len(portal.agencies) > 1  # every agency's host at one address: a warning, never an error
    assert check_inventory(tmp_path / "portal.yml", resolve=False).errors == ()

    fleet = Fleet(
        ports={behaviour: 2200 + n for n, behaviour in enumerate(Behaviour)},
        user="auditor",
        client_key_file=key,
        encrypted_client_key_file=key,
        passphrase="x",
        known_hosts=tmp_path / "known_hosts",
        flood_bytes=1,
        log_file=tmp_path / "log",
        server_pid=0,
    )
    hostile = load_inventory(fleet.inventory(tmp_path / "fleet.yml", probe_jobs=2))
    assert len(hostile.agencies[0].hosts) == len(Behaviour)


# -- roles ---------------------------------------------------------------------------------------------------------


def test_known_roles_come_from_the_checks_and_the_profiles_ports() -> None:
    roles = builtin_roles()
    assert {"web", "db", "dns", "mail", "router", "gateway", "vpn"} <= roles
    assert "admin" not in roles  # allowed_ports_admin applies to every host: not a role


def test_a_profile_declares_a_role_by_giving_its_ports() -> None:
    content = load_content()
    ports = ProfileInput(default="8080", description=LocalizedText(vi="Cổng CMS", en="CMS ports"), origin="test")
    profile = Profile(
        id="p", title=content.profile.title, inputs={**content.profile.inputs, "allowed_ports_cms": ports}
    )
    assert "cms" in roles_known_to(dataclasses.replace(content, profile=profile))
    assert "cms" not in roles_known_to(content)


def test_an_unknown_role_is_refused_when_loading_with_the_known_ones(tmp_path: Path) -> None:
    path = inventory_file(
        tmp_path, "      - {name: web1, address: 10.0.0.1, key_file: keys/id, roles: [db, webserver]}\n"
    )
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    message = str(caught.value)
    assert str(path) in message
    assert "line 5: agencies[0] (id=demo) → hosts[0] (name=web1) → roles[1]: unknown role 'webserver'" in message
    assert "db, dns, gateway, mail, router, vpn, web" in message
    assert load_inventory(path, known_roles={"db", "webserver"}).agencies[0].hosts[0].roles == ("db", "webserver")


# -- key files -----------------------------------------------------------------------------------------------------


def test_a_relative_key_path_resolves_against_the_file(tmp_path: Path) -> None:
    path = inventory_file(tmp_path, "      - {name: web1, address: 10.0.0.1, key_file: keys/id}\n")
    assert load_inventory(path).agencies[0].hosts[0].key_file == tmp_path / "keys" / "id"


@pytest.mark.parametrize(
    ("key_file", "expected"),
    [
        ("keys/missing", "keys/missing does not exist"),
        ("keys", "keys is not a regular file"),
        ("keys/open", "can be read by other users (mode 0644); make it private: chmod 600"),
        ("keys/group", "can be read by other users (mode 0640)"),
    ],
)
def test_a_missing_or_unsafe_key_file_is_an_error_before_any_connection(
    tmp_path: Path, key_file: str, expected: str
) -> None:
    private_key(tmp_path / "keys", "open", 0o644)
    private_key(tmp_path / "keys", "group", 0o640)
    path = inventory_file(tmp_path, f"      - {{name: web1, address: 10.0.0.1, key_file: {key_file}}}\n")
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert "line 5: agencies[0] (id=demo) → hosts[0] (name=web1) → key_file: key file " in str(caught.value)
    assert expected in str(caught.value)


def test_owner_only_keys_are_accepted(tmp_path: Path) -> None:
    private_key(tmp_path / "keys", "read-only", 0o400)
    path = inventory_file(
        tmp_path,
        "      - {name: a, address: 10.0.0.1, key_file: keys/id}\n"
        "      - {name: b, address: 10.0.0.2, key_file: keys/read-only}\n",
    )
    assert len(load_inventory(path).agencies[0].hosts) == 2


def test_the_audit_command_stops_on_an_inventory_error_before_connecting(tmp_path: Path) -> None:
    from auditor.cli.audit import app as audit_app

    path = inventory_file(tmp_path, "      - {name: web1, address: 10.0.0.1, key_file: keys/none, roles: [web]}\n")
    result = CliRunner().invoke(audit_app, ["-i", str(path), "--db", f"sqlite:///{tmp_path / 'a.db'}"])
    assert result.exit_code == 3
    said = " ".join(result.output.split())  # in the default language, Vietnamese
    assert "trường key_file: tệp khóa" in said and "keys/none không tồn tại" in said
    assert not (tmp_path / "a.db").exists()  # nothing was started: not even the store


# -- what only `inventory check` looks at ---------------------------------------------------------------------------


def test_names_are_resolved_and_said_to_be_names(tmp_path: Path) -> None:
    path = inventory_file(
        tmp_path,
        "      - {name: a, address: localhost, key_file: keys/id}\n"
        "      - {name: b, address: no-such-host.invalid, key_file: keys/id}\n"
        "      - {name: c, address: 10.0.0.3, key_file: keys/id}\n",
    )
    report = check_inventory(path, lang="en")
    assert [(p.severity, p.location[3]) for p in report.problems] == [("note", 0), ("error", 1)]
    assert "localhost is a name; it resolves to " in report.problems[0].message
    assert "no-such-host.invalid is a name; it does not resolve" in report.problems[1].message
    assert report.where(report.problems[1]) == "line 6: agencies[0] (id=demo) → hosts[1] (name=b) → address"
    assert (
        place(report, report.problems[1], Words(Lang.en))
        == "file inventory.yml, line 6, agency demo, host b, field address"
    )
    vietnamese = check_inventory(path)  # Vietnamese unless asked otherwise
    assert "no-such-host.invalid là một tên miền; không phân giải được" in vietnamese.problems[1].message
    assert place(vietnamese, vietnamese.problems[1], Words(Lang.vi)) == (
        "tệp inventory.yml, dòng 6, cơ quan demo, máy chủ b, trường address"
    )
    assert check_inventory(path, resolve=False).problems == ()


def test_resolution_is_concurrent_and_gives_up_after_its_timeout() -> None:
    release = threading.Event()

    def slow(name: str) -> list[str]:
        if name.startswith("hang"):
            release.wait(10)
        if name.startswith("gone"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return ["192.0.2.1"]

    started = time.monotonic()
    names = [f"hang{n}.example" for n in range(5)] + [f"ok{n}.example" for n in range(50)] + ["gone.example"]
    outcome = resolve_names(names, slow, timeout_s=0.5)
    elapsed = time.monotonic() - started
    release.set()
    assert elapsed < 3
    assert _failure(outcome["hang0.example"], "en") == "no answer within 0.5 s"
    assert _failure(outcome["hang0.example"], "vi") == "không có trả lời trong 0.5 giây"
    assert outcome["ok49.example"].addresses == ("192.0.2.1",)
    assert _failure(outcome["gone.example"], "en") == "no such name"


def test_unset_credentials_variables_are_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDIT_PW_UNSET", raising=False)
    monkeypatch.setenv("AUDIT_PW_SET", "x")
    path = inventory_file(
        tmp_path,
        "      - {name: a, address: 10.0.0.1, password_env: AUDIT_PW_UNSET}\n"
        "      - {name: b, address: 10.0.0.2, password_env: AUDIT_PW_SET}\n"
        "      - {name: c, address: 10.0.0.3, key_file: keys/id, key_passphrase_env: AUDIT_PW_UNSET}\n",
    )
    report = check_inventory(path, resolve=False, lang="en")
    assert [(p.severity, p.location[3:]) for p in report.problems] == [
        ("warning", (0, "password_env")),
        ("warning", (2, "key_passphrase_env")),
    ]
    assert "AUDIT_PW_UNSET is not set here" in report.problems[0].message
    result = check(path, "--no-resolve")
    assert result.exit_code == 0, result.output
    assert "0 errors, 2 warnings" in " ".join(result.output.split())
    result = check(path, "--no-resolve", lang="vi")
    flat = " ".join(result.output.split())
    assert result.exit_code == 0 and "0 lỗi, 2 cảnh báo trong 1 cơ quan, 3 máy chủ; dùng được" in flat
    assert "cảnh báo tệp" in flat and "máy chủ a, trường password_env: biến môi trường AUDIT_PW_UNSET chưa" in flat


def test_hosts_given_twice_are_flagged_with_their_lines(tmp_path: Path) -> None:
    second = (
        '  - id: other\n    name: {vi: "Khác", en: "Other"}\n    hosts:\n'
        "      - {name: web1, address: 10.0.0.9, use_agent: true}\n"
        "      - {name: web2, address: 10.0.0.1, use_agent: true}\n"
    )
    path = inventory_file(tmp_path, "      - {name: web1, address: 10.0.0.1, key_file: keys/id}\n", second)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert (
        "line 9: agencies[1] (id=other) → hosts[0] (name=web1) → name: host names must be unique across agencies: "
        "web1 is also a host of agency demo"
    ) in str(caught.value)

    path.write_text(path.read_text(encoding="utf-8").replace("name: web1, address: 10.0.0.9", "name: x, address: h"))
    report = check_inventory(path, resolve=False, lang="en")
    assert [(p.severity, report.where(p)) for p in report.problems] == [
        ("warning", "line 10: agencies[1] (id=other) → hosts[1] (name=web2) → address")
    ]
    assert "10.0.0.1 port 22 is also host web1 of agency demo" in report.problems[0].message


def test_check_exit_codes_and_80_columns(tmp_path: Path) -> None:
    path = inventory_file(
        tmp_path,
        "      - {name: a-long-host-name-to-wrap, address: 10.0.0.1, key_file: keys/id, roles: [webserver]}\n"
        "      - {name: b, address: 10.0.0.2, key_file: keys/absent}\n",
    )
    result = check(path, "--no-resolve")
    assert result.exit_code == 3
    assert "unknown role 'webserver'" in " ".join(result.output.split())
    assert "2 errors, 0 warnings in 1 agency, 2 hosts; not usable" in " ".join(result.output.split())
    lines = [line.plain for line in render(check_inventory(path, resolve=False, lang="en"), words=Words(Lang.en))]
    assert all(len(line) <= 80 for line in lines if " " in line.strip()), lines  # only a lone long word may exceed
    flat = " ".join(" ".join(lines).split())
    assert flat.startswith(
        "error file inventory.yml, line 5, agency demo, host a-long-host-name-to-wrap, field roles item 1"
    )
    lines = [line.plain for line in render(check_inventory(path, resolve=False))]  # Vietnamese by default
    assert all(len(line) <= 80 for line in lines if " " in line.strip()), lines
    assert " ".join(" ".join(lines).split()).startswith(
        "lỗi tệp inventory.yml, dòng 5, cơ quan demo, máy chủ a-long-host-name-to-wrap, trường roles mục 1"
    )

    clean = inventory_file(tmp_path, "      - {name: a, address: 10.0.0.1, key_file: keys/id, roles: [web]}\n")
    result = check(clean, "--no-resolve")
    assert result.exit_code == 0, result.output
    assert "0 errors, 0 warnings in 1 agency, 1 host; usable" in " ".join(result.output.split())

    broken = tmp_path / "broken.yml"
    broken.write_text("agencies: [\n", encoding="utf-8")
    assert check(broken).exit_code == 3


def _failure(resolution: Resolution, lang: Lang) -> str:
    assert resolution.failure is not None
    return resolution.failure.text(lang)


def test_a_content_dir_adds_its_roles(tmp_path: Path) -> None:
    checks = tmp_path / "content" / "linux"
    checks.mkdir(parents=True)
    web_check = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "checklists/linux/web_error_log_enabled.yml").read_text()
    )
    web_check |= {"id": "cms_error_log_enabled", "applies_to": {"roles": ["cms"]}}
    (checks / "cms_error_log_enabled.yml").write_text(yaml.safe_dump(web_check, allow_unicode=True), encoding="utf-8")
    path = inventory_file(tmp_path, "      - {name: a, address: 10.0.0.1, key_file: keys/id, roles: [cms]}\n")
    assert check(path, "--no-resolve").exit_code == 3
    result = check(path, "--no-resolve", "--content-dir", str(tmp_path / "content"))
    assert result.exit_code == 0, result.output


# -- size ----------------------------------------------------------------------------------------------------------


def test_a_large_plain_file_is_not_taken_for_an_alias_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlio, "MAX_EXPANDED_NODES", 50)
    hosts = "".join(
        f"      - {{name: h{n}, address: 10.0.{n // 250}.{n % 250 + 1}, key_file: keys/id}}\n" for n in range(40)
    )
    path = inventory_file(tmp_path, "      # a comment with * in it\n" + hosts)
    assert len(load_inventory(path).agencies[0].hosts) == 40  # about 250 nodes, none reached twice
    bomb = tmp_path / "bomb.yml"
    bomb.write_text("a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b]\n")
    with pytest.raises(InventoryError, match="more than 50 nodes once aliases are expanded"):
        load_inventory(bomb)


def test_many_hosts_load_in_linear_time(tmp_path: Path) -> None:
    from bench.bench_inventory import write_inventory as write_large

    def cpu_seconds(agencies: int) -> float:
        folder = tmp_path / str(agencies)
        folder.mkdir()
        write_large(folder / "inventory.yml", agencies, 10)
        started = time.process_time()
        load_inventory(folder / "inventory.yml")
        return time.process_time() - started

    cpu_seconds(5)  # warm: the content's roles are read once per process
    small, large = cpu_seconds(40), cpu_seconds(400)
    assert large < 20 * small + 0.5, (small, large)  # ten times the hosts: about ten times the time, not a hundred
