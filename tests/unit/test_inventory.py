"""Inventory validation: strict, secrets only by reference, precise errors."""

from pathlib import Path

import pytest

from auditor.errors import InventoryError
from auditor.inventory import load_inventory

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inventory.yml"


def test_example_inventory_has_the_plans_press_agencies() -> None:
    inventory = load_inventory(EXAMPLE)
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
    ],
)
def test_errors_name_file_item_and_field(tmp_path: Path, host_yaml: str, field: str) -> None:
    path = _inventory(tmp_path, host_yaml)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    message = str(caught.value)
    assert str(path) in message
    assert "agencies[0] (id=demo) → hosts[0] (name=web1)" in message
    assert field in message
    assert "hunter2" not in message  # a secret typed into the wrong place is not echoed back


def test_duplicate_host_names_are_refused(tmp_path: Path) -> None:
    path = _inventory(
        tmp_path,
        "      - {name: web1, address: 10.0.0.1, key_file: k}\n      - {name: web1, address: 10.0.0.2, key_file: k}\n",
    )
    with pytest.raises(InventoryError, match="duplicate host names: web1"):
        load_inventory(path)


def test_unknown_agency_is_a_clear_error() -> None:
    with pytest.raises(InventoryError, match="no agency with id 'nope'"):
        load_inventory(EXAMPLE).agency("nope")
