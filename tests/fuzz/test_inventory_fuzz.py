"""Property: any inventory file loads, or fails with an InventoryError naming the file (and, for a bad
field, the agency, the host, the field and its line) — never with any other exception."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from auditor.errors import InventoryError
from auditor.inventory import Inventory, builtin_roles, load_inventory
from tests.fuzz.budget import examples
from tests.fuzz.documents import (
    ANY_VALUE,
    TEXT,
    alias_bomb,
    assert_clear_error,
    byte_soup,
    dump,
    mutated_mapping,
    mutated_text,
    wild,
    write,
)

LOWER = "abcdefghijklmnopqrstuvwxyz"
SLUGS = st.builds(lambda head, tail: head + tail, st.sampled_from(LOWER), st.text(LOWER + "0123456789-", max_size=10))
DNS_LABELS = st.builds(
    lambda head, tail: head + tail, st.sampled_from(LOWER), st.text(LOWER + "0123456789", max_size=8)
)
ADDRESSES = st.one_of(st.ip_addresses().map(str), st.lists(DNS_LABELS, min_size=1, max_size=4).map(".".join))


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="inventory-fuzz-") as name:
        for key in KEY_FILES:  # loading checks that key files exist and are private
            (Path(name) / key).parent.mkdir(exist_ok=True)
            (Path(name) / key).write_text("(test key)\n", encoding="utf-8")
            (Path(name) / key).chmod(0o600)
        yield Path(name)


KEY_FILES = ("keys/id", "keys/second key")  # relative to the inventory: made private in `workdir`
# Built once: strategies made inside a draw are rebuilt (and re-validated) for every example.
HOST = st.fixed_dictionaries(
    {"address": ADDRESSES, "key_file": st.sampled_from(KEY_FILES)},
    optional={
        "port": st.integers(1, 65535),
        "user": st.sampled_from(["root", "audit", "quản-trị"]),
        "sudo": st.booleans(),
        "roles": st.lists(st.sampled_from(sorted(builtin_roles())), max_size=3),  # only roles the content knows
        "os_family": st.sampled_from(["debian", "rhel"]),
        "probe_jobs": st.integers(1, 16),
        "use_agent": st.booleans(),
        "password_env": st.builds(lambda tail: "AUDIT_" + tail, st.text("ABCZ019_", max_size=8)),
    },
)
AGENCY_FIELDS = st.fixed_dictionaries(
    {
        "id": SLUGS,
        "name": st.just({"vi": "Báo Sóc Trăng", "en": "Soc Trang Newspaper"}),
        "hosts": st.lists(HOST, max_size=2),
    },
    optional={
        "networks": st.lists(st.sampled_from(["10.20.0.0/24", "192.0.2.0/28", "2001:db8::/64"]), max_size=2),
        "websites": st.lists(st.sampled_from(["https://baosoctrang.vn", "http://[2001:db8::1]/"]), max_size=2),
        "inputs": st.dictionaries(SLUGS, st.one_of(st.integers(), st.text(max_size=5), st.booleans()), max_size=3),
        "contact": st.fixed_dictionaries({}, optional={"name": TEXT, "email": TEXT, "phone": TEXT}),
    },
)


@st.composite
def valid_inventory(draw: st.DrawFn) -> dict[str, Any]:
    """A valid inventory: unique agency ids (a suffix makes them so), host names unique across agencies."""
    agencies = []
    for index, agency in enumerate(draw(st.lists(AGENCY_FIELDS, min_size=1, max_size=3))):
        agency_id = f"{agency.pop('id')}-{index}"
        hosts = [{"name": f"{agency_id}-h{n}", **h} for n, h in enumerate(agency.pop("hosts"))]
        # id and name first: as people write them, and where the tests below expect them
        agencies.append({"id": agency_id, "name": agency.pop("name")} | ({"hosts": hosts} if hosts else {}) | agency)
    return {"agencies": agencies}


@st.composite
def plausible_inventory(draw: st.DrawFn) -> dict[str, Any]:
    """A valid inventory whose mappings then lose keys, gain keys and take values of any type."""
    inventory = draw(valid_inventory())
    agencies = []
    for agency in inventory["agencies"]:
        agency = dict(agency)
        if "hosts" in agency:
            agency["hosts"] = [draw(mutated_mapping(h)) for h in agency["hosts"]]
        agencies.append(draw(mutated_mapping(agency)))
    if draw(st.integers(0, 5)) == 0 and agencies:
        agencies.append(dict(draw(st.sampled_from(agencies))))  # the same id twice
    return draw(mutated_mapping({"agencies": draw(wild(st.just(agencies)))}))


def _check(path: Path) -> Inventory | str:
    try:
        inventory = load_inventory(path)
    except InventoryError as error:
        event("refused: " + ("schema" if "problem(s)" in str(error) else "file"))
        return assert_clear_error(error, path)
    event("loaded")
    return inventory


@settings(max_examples=examples(1500))
@given(document=plausible_inventory(), flow=st.sampled_from([None, True, False]))
def test_plausible_inventories_load_or_fail_clearly(workdir: Path, document: dict[str, Any], flow: bool | None) -> None:
    loaded = _check(write(workdir / "inventory.yml", dump(document, flow)))
    if isinstance(loaded, Inventory):  # what loads is what the file says
        assert [a.id for a in loaded.agencies] == [a["id"] for a in document["agencies"]]


@settings(max_examples=examples(1000))
@given(data=st.data())
def test_damaged_inventory_text_loads_or_fails_clearly(workdir: Path, data: st.DataObject) -> None:
    text = dump(data.draw(valid_inventory()), data.draw(st.sampled_from([None, True, False])))
    content: str | bytes = data.draw(
        st.one_of(
            mutated_text(text),
            alias_bomb().map(lambda bomb: bomb + text),
            alias_bomb().map(lambda bomb: bomb + text.replace("hosts:", "hosts: *l1\n  old_hosts:", 1)),
            byte_soup(),
            ANY_VALUE.map(dump),
        )
    )
    _check(write(workdir / "inventory.yml", content))


# --------------------------------------------------------------------- one bad field: named precisely

# Values each field refuses, chosen to cover wrong types, bounds, formats and injection attempts.
BAD_HOST_FIELDS: dict[str, list[Any]] = {
    "address": ["10.200.1.999", "256.1.1.1", "", "bad host!", "a..b", "-a.example", "::g", "x" * 300, 5, None, []],
    "port": [0, 65536, -1, "ssh", 22.5, [22], None, 2**70],
    "user": ["", 5, None, ["root"]],
    "key_file": ["a\x00b", "~nobody\x00/x", "~no-such-user/id", 5, ["k"]],
    "use_agent": ["maybe", 2, [True]],
    "password_env": ["not a name", "lower", "", 5],
    "sudo": ["maybe", 3, {}],
    "roles": ["web", [5], ["Bad Role"], [None], {"a": 1}],
    "os_family": ["windows", 5, ""],
    "probe_jobs": [0, 17, "x", 1.5],
    "password": ["hunter2"],  # not a field: secrets are only referenced by an environment variable's name
}
BAD_AGENCY_FIELDS: dict[str, list[Any]] = {
    "name": ["Báo", {"vi": ""}, {"vi": "Báo"}, None, {"vi": "a", "en": "b", "fr": "c"}],
    "networks": [["10.0.0.0/33"], ["nonsense"], "10.0.0.0/8", [5], ["10.0.0.1/24"], [None]],
    "websites": [["not a url"], ["ftp://example.org"], [5], "https://example.org"],
    "inputs": [{"Bad Key": 1}, {"x": [1]}, {"x": None}, "x", {"x": {"y": 1}}],
    "contact": ["someone", {"name": 5}, {"phone": [1]}, {"fax": "1"}],
    "hosts": ["web1", [5], {"name": "web1"}],
    "ids": [["a"]],  # a misspelt field
}


@st.composite
def one_bad_host_field(draw: st.DrawFn) -> tuple[dict[str, Any], int, int, str]:
    inventory = draw(valid_inventory())
    agency_index = draw(st.integers(0, len(inventory["agencies"]) - 1))
    agency = inventory["agencies"][agency_index]
    hosts = agency.setdefault("hosts", [{"name": f"{agency['id']}-only", "address": "10.0.0.9", "use_agent": True}])
    host_index = draw(st.integers(0, len(hosts) - 1))
    field = draw(st.sampled_from(sorted(BAD_HOST_FIELDS)))
    hosts[host_index][field] = draw(st.sampled_from(BAD_HOST_FIELDS[field]))
    if field == "use_agent":  # the only credential, so that its own error is the one reported
        for key in ("key_file", "password_env"):
            hosts[host_index].pop(key, None)
    return inventory, agency_index, host_index, field


@settings(max_examples=examples(700))
@given(case=one_bad_host_field(), flow=st.sampled_from([None, True, False]))
def test_a_bad_host_field_is_named_with_its_agency_host_and_line(
    workdir: Path, case: tuple[dict[str, Any], int, int, str], flow: bool | None
) -> None:
    inventory, agency_index, host_index, field = case
    path = write(workdir / "inventory.yml", dump(inventory, flow))
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    message = assert_clear_error(caught.value, path)
    agency = inventory["agencies"][agency_index]
    name = agency["hosts"][host_index]["name"]
    where = rf"line \d+: agencies\[{agency_index}\] \(id={agency['id']}\) → hosts\[{host_index}\] \(name={name}\) → "
    assert re.search(where + re.escape(field), message), message
    assert "hunter2" not in message  # a secret typed into the wrong place is not echoed


@st.composite
def one_bad_agency_field(draw: st.DrawFn) -> tuple[dict[str, Any], int, str]:
    inventory = draw(valid_inventory())
    agency_index = draw(st.integers(0, len(inventory["agencies"]) - 1))
    field = draw(st.sampled_from(sorted(BAD_AGENCY_FIELDS)))
    inventory["agencies"][agency_index][field] = draw(st.sampled_from(BAD_AGENCY_FIELDS[field]))
    return inventory, agency_index, field


@settings(max_examples=examples(500))
@given(case=one_bad_agency_field(), flow=st.sampled_from([None, True, False]))
def test_a_bad_agency_field_is_named_with_its_agency_and_line(
    workdir: Path, case: tuple[dict[str, Any], int, str], flow: bool | None
) -> None:
    inventory, agency_index, field = case
    path = write(workdir / "inventory.yml", dump(inventory, flow))
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    message = assert_clear_error(caught.value, path)
    agency_id = inventory["agencies"][agency_index]["id"]
    assert re.search(rf"line \d+: agencies\[{agency_index}\] \(id={agency_id}\) → {field}", message), message


@settings(max_examples=examples(300))
@given(inventory=valid_inventory(), data=st.data())
def test_duplicates_are_refused_with_the_names(workdir: Path, inventory: dict[str, Any], data: st.DataObject) -> None:
    agencies = inventory["agencies"]
    kind = data.draw(st.sampled_from(["agency id", "host name", "yaml key"]))
    if kind == "agency id":
        agencies.append({**agencies[0], "hosts": []})
        expected = f"duplicate agency ids: {agencies[0]['id']}"
        text = dump(inventory)
    elif kind == "host name":
        agencies[-1].setdefault("hosts", []).append({"name": "twin", "address": "10.0.0.1", "use_agent": True})
        agencies[0].setdefault("hosts", []).append({"name": "twin", "address": "10.0.0.2", "use_agent": True})
        expected = "twin"
        text = dump(inventory)
    else:  # the same key twice in one mapping: YAML keeps the last silently, the loader refuses it
        text = dump(inventory, flow=False).replace("  name:", "  name: {vi: a, en: b}\n  name:", 1)
        expected = "duplicate key 'name'"
    path = write(workdir / "inventory.yml", text)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert expected in assert_clear_error(caught.value, path)


@settings(max_examples=examples(300))
@given(inventory=valid_inventory(), flow=st.sampled_from([None, True, False]))
def test_valid_inventories_load_whole(workdir: Path, inventory: dict[str, Any], flow: bool | None) -> None:
    loaded = load_inventory(write(workdir / "inventory.yml", dump(inventory, flow)))
    assert [a.id for a in loaded.agencies] == [a["id"] for a in inventory["agencies"]]
    assert [h.name for a in loaded.agencies for h in a.hosts] == [
        h["name"] for a in inventory["agencies"] for h in a.get("hosts", [])
    ]
