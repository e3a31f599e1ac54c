"""Inventory validation: strict, secrets only by reference, precise errors."""

from pathlib import Path

import pytest

from auditor.errors import InventoryError
from auditor.inventory import load_inventory

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inventory.yml"


def _example(tmp_path: Path) -> Path:
    """The example inventory with its lab key (made by the lab, 0600) at a path of the test's own."""
    key = tmp_path / "id_ed25519"
    key.write_text("(test key)\n", encoding="utf-8")
    key.chmod(0o600)
    path = tmp_path / "example.yml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8").replace("/var/tmp/auditor-lab/id_ed25519", str(key)))
    return path


def test_example_inventory_has_the_plans_press_agencies(tmp_path: Path) -> None:
    inventory = load_inventory(_example(tmp_path))
    names = {agency.name.vi for agency in inventory.agencies}
    assert {
        "Báo Sóc Trăng",
        "Đài Phát thanh - Truyền hình Sóc Trăng",
        "Tạp chí Văn hóa Nghệ thuật Sóc Trăng",
        "Cổng Thông tin điện tử tỉnh Sóc Trăng",
    } <= names


def _inventory(tmp_path: Path, host_yaml: str) -> Path:
    path = tmp_path / "inventory.yml"
    path.write_text(
        'agencies:\n  - id: demo\n    name: {vi: "Thử", en: "Demo"}\n    hosts:\n' + host_yaml, encoding="utf-8"
    )
    return path


def test_relative_key_path_resolves_against_the_file(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "id").write_text("(test key)\n", encoding="utf-8")
    (tmp_path / "keys" / "id").chmod(0o600)
    path = _inventory(tmp_path, "      - {name: web1, address: 10.0.0.1, key_file: keys/id}\n")
    host = load_inventory(path).agencies[0].hosts[0]
    assert host.key_file == tmp_path / "keys" / "id"


@pytest.mark.parametrize(
    ("host_yaml", "field"),
    [
        ("      - {name: web1, address: 10.0.0.1, key_file: k, port: 70000}\n", "port"),
        ("      - {name: web1, address: 'bad host!', key_file: k}\n", "address"),
        ("      - {name: web1, address: 10.0.0.1, key_file: k, password: hunter2}\n", "password"),
        ("      - {name: web1, address: 10.0.0.1}\n", "key_file, use_agent"),
        ("      - {name: web1, address: 10.0.0.1, password_env: 'not a name'}\n", "password_env"),
        ("      - {name: web1, address: 10.200.1.999, key_file: k}\n", "address"),  # not an IP, not a name
        ("      - {name: web1, address: a..example, key_file: k}\n", "address"),
        ('      - {name: web1, address: 10.0.0.1, key_file: "keys/a\\0b"}\n', "key_file"),  # a YAML-escaped NUL
        ("      - {name: web1, address: 10.0.0.1, key_file: ~no-such-user/id}\n", "key_file"),
        ("      - {name: web1, address: 10.0.0.1, key_file: k, Port: 22}\n", "Port"),  # an upper-case extra key
    ],
)
def test_errors_name_file_item_and_field(tmp_path: Path, host_yaml: str, field: str) -> None:
    path = _inventory(tmp_path, host_yaml)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    message = str(caught.value)
    assert str(path) in message
    assert "line 5: agencies[0] (id=demo) → hosts[0] (name=web1)" in message
    assert field in message
    assert "Tuple should have at least" not in message  # the agency list is not "empty" because a host failed
    assert "hunter2" not in message  # a secret typed into the wrong place is not echoed back


def test_duplicate_host_names_are_refused(tmp_path: Path) -> None:
    path = _inventory(
        tmp_path,
        "      - {name: web1, address: 10.0.0.1, key_file: k}\n      - {name: web1, address: 10.0.0.2, key_file: k}\n",
    )
    with pytest.raises(InventoryError, match="duplicate host names: web1"):
        load_inventory(path)


def test_unknown_agency_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="no agency with id 'nope'"):
        load_inventory(_example(tmp_path)).agency("nope")


def test_a_bad_network_gets_one_plain_message(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yml"
    path.write_text(
        'agencies:\n  - id: demo\n    name: {vi: "Thử", en: "Demo"}\n    networks: [10.20.0.0/24, 10.0.0.0/33]\n',
        encoding="utf-8",
    )
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    message = str(caught.value)
    assert "1 problem(s)" in message
    assert "line 4: agencies[0] (id=demo) → networks[1]: must be a network in CIDR notation" in message
    assert "lax-or-strict" not in message and "IPv6Network" not in message


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    # YAML keeps the last of two equal keys silently: here the first host list would vanish from the audit.
    path = _inventory(tmp_path, "      - {name: web1, address: 10.0.0.1, key_file: k}\n    hosts: []\n")
    with pytest.raises(
        InventoryError,
        match=r"inventory.yml: line 6, column 5: invalid YAML: duplicate key 'hosts' \(first on line 4\)",
    ):
        load_inventory(path)


def test_an_alias_bomb_is_refused_before_validation(tmp_path: Path) -> None:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10**9 leaves
    path = tmp_path / "inventory.yml"
    path.write_text("\n".join(lines) + "\nagencies: *l8\n", encoding="utf-8")
    with pytest.raises(InventoryError, match="nodes once aliases are expanded"):
        load_inventory(path)


def test_a_control_character_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yml"
    path.write_bytes(b"agencies:\n  - id: demo\x00\n")
    with pytest.raises(InventoryError, match=r"inventory.yml: line 2: invalid YAML: character #x0000"):
        load_inventory(path)


def test_an_impossible_date_is_refused_with_its_line(tmp_path: Path) -> None:
    # The YAML loader's own constructors raise plain ValueError (or KeyError, for `!!bool maybe`).
    path = _inventory(
        tmp_path, "      - {name: web1, address: 10.0.0.1, key_file: k}\n    inputs: {since: 2026-02-30}\n"
    )
    with pytest.raises(InventoryError, match=r"line 6, column 21: invalid YAML: not a valid !!timestamp value"):
        load_inventory(path)
