"""What a run records of each agency it audits (migration 0010): the owner's name and title and the time zone,
read back through the store and sealed in the run's manifest; never the contact's email or phone, in the
database, the exports (JSON, CSV, OSCAL) or the bundle."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path

import yaml
from alembic import command
from sqlalchemy import MetaData, create_engine, select, text

from auditor.cli.app import run as cli
from auditor.evidence_chain.db_verify import verify_store
from auditor.evidence_chain.keys import create_key
from auditor.evidence_chain.manifest import parse_manifest
from auditor.evidence_chain.sealing import ChainSealer
from auditor.inventory import Agency, Contact, load_inventory
from auditor.oscal.assessment_results import assessment_results
from auditor.reports.exports import export_csv, export_json
from auditor.reports.owner import agency_owner
from auditor.service.audit import AuditScope, AuditService
from auditor.store import open_store
from auditor.store.db import alembic_config, normalize_url
from auditor.store.schema import RunAgencyRecord
from tests.unit.test_reports_support import content as report_content
from tests.unit.test_service import AGENCY as SERVICE_AGENCY
from tests.unit.test_service import CONTENT as SERVICE_CONTENT
from tests.unit.test_service import OPTIONS, FakeCollector, FakeNetwork
from tests.unit.test_store import T0, any_url, make_agency, ok_host, sqlite_url, start

__all__ = ["any_url", "sqlite_url"]  # fixtures used here

EMAIL = "an.tran@baosoctrang.example"
PHONE = "0299 3821 555"
OWNER = {"name": "Ông Trần Văn An", "title": "Trưởng phòng Kỹ thuật", "email": EMAIL, "phone": PHONE}


def with_contact(agency: Agency, **contact: str) -> Agency:
    return agency.model_copy(update={"contact": Contact(**contact), "timezone": "Asia/Tokyo"})


# -- the store -----------------------------------------------------------------------------------------------------


def test_a_run_records_the_owner_and_zone_once_and_never_email_or_phone(any_url: str) -> None:
    with open_store(any_url) as store:
        run_id = start(store)
        store.save_host_result(run_id, with_contact(make_agency(), **OWNER), ok_host(host_name="web-01"))
        later = with_contact(make_agency(), name="Someone Else", email="else@x.example")
        store.save_host_result(run_id, later, ok_host(host_name="web-02"))  # the first record of the run stands
        other = start(store)
        store.save_host_result(other, make_agency(), ok_host(host_name="web-01"))  # no contact, no zone

        recorded = store.run_agency(run_id, "vtv")
        assert recorded is not None
        assert (recorded.owner_name, recorded.owner_title, recorded.timezone) == (
            "Ông Trần Văn An",
            "Trưởng phòng Kỹ thuật",
            "Asia/Tokyo",
        )
        bare = store.run_agency(other, "vtv")
        assert bare is not None and (bare.owner_name, bare.owner_title, bare.timezone) == (None, None, None)
        assert store.run_agency(run_id, "nobody") is None
        assert [r.agency_id for r in store.run_agencies(run_id)] == ["vtv"]
        with store.engine.connect() as conn:
            rows = conn.execute(select(RunAgencyRecord.__table__)).all()
        assert len(rows) == 2 and not any(EMAIL in str(row) or PHONE in str(row) for row in rows)
    assert {column.name for column in RunAgencyRecord.__table__.columns} == {
        "run_id",
        "agency_id",
        "owner_name",
        "owner_title",
        "timezone",
    }


def test_the_report_owner_is_the_inventorys_else_the_runs_else_nobody(sqlite_url: str) -> None:
    profile = report_content().profile
    with open_store(sqlite_url) as store:
        run_id = start(store)
        store.save_host_result(run_id, with_contact(make_agency(), **OWNER), ok_host())
        from_run = agency_owner(store, profile, run_id, "vtv", None)
        assert from_run.source == "run" and from_run.settings.timezone == "Asia/Tokyo"
        assert from_run.contact == Contact(name="Ông Trần Văn An", title="Trưởng phòng Kỹ thuật")
        listed = with_contact(make_agency(), name="Bà Lê Thị Hoa", email=EMAIL)
        from_inventory = agency_owner(store, profile, run_id, "vtv", listed)
        assert from_inventory.source == "inventory" and from_inventory.contact == listed.contact
        nobody = agency_owner(store, profile, start(store), "vtv", None)
        assert (nobody.source, nobody.contact) == ("none", None)
        assert nobody.settings.timezone == "Asia/Ho_Chi_Minh"  # the profile's


# -- the migration -------------------------------------------------------------------------------------------------


def test_a_database_at_0009_upgrades_keeps_its_runs_and_records_new_ones(any_url: str) -> None:
    engine = create_engine(normalize_url(any_url))
    config = alembic_config()
    try:
        with engine.connect() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0009")
            assert "run_agencies" not in _tables(conn)
            conn.execute(
                text(
                    "INSERT INTO runs (id, started_at, finished_at, status, tool_version, checklist_version, "
                    "inventory_sha256, options) VALUES ('r-old', :t, :t, 'completed', '0.1', 'c', :sha, '{}')"
                ),
                {"t": T0, "sha": "0" * 64},
            )
            conn.execute(text("INSERT INTO agencies VALUES ('vtv', 'VTV', 'VTV')"))
            conn.execute(
                text(
                    "INSERT INTO run_hosts (run_id, agency_id, host_name, kind, address, status, exec_requests, "
                    "started_at, finished_at) VALUES ('r-old', 'vtv', 'web-01', 'host', '10.0.0.1', 'ok', 1, :t, :t)"
                ),
                {"t": T0},
            )
            conn.commit()
            command.upgrade(config, "head")
            conn.commit()
            assert "run_agencies" in _tables(conn)
    finally:
        engine.dispose()
    with open_store(any_url) as store:
        assert store.run_agency("r-old", "vtv") is None  # recorded before: nothing, and reports read as before
        assert agency_owner(store, report_content().profile, "r-old", "vtv", None).source == "none"
        new = start(store)
        store.save_host_result(new, with_contact(make_agency(), **OWNER), ok_host())
        recorded = store.run_agency(new, "vtv")
        assert recorded is not None and recorded.owner_name == "Ông Trần Văn An"
    engine = create_engine(normalize_url(any_url))
    try:
        with engine.connect() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0009")
            conn.commit()
            assert "run_agencies" not in _tables(conn)
            command.upgrade(config, "head")
            conn.commit()
    finally:
        engine.dispose()


def _tables(conn: object) -> set[str]:
    metadata = MetaData()
    metadata.reflect(conn)  # type: ignore[arg-type]
    return set(metadata.tables)


# -- the manifest --------------------------------------------------------------------------------------------------


def test_the_record_is_sealed_with_the_run_and_a_run_without_one_seals_as_before(
    sqlite_url: str, tmp_path: Path
) -> None:
    key = create_key(tmp_path / "keys" / "signing_key.pem")
    sealer = ChainSealer(lambda: key)
    with open_store(sqlite_url) as store:
        recorded = start(store)
        store.save_host_result(recorded, with_contact(make_agency(), **OWNER), ok_host())
        store.finish_run(recorded)
        names = [e.name for e in parse_manifest(sealer.seal_run(store, recorded, report_content(), None).body).entries]
        assert "agencies/vtv/agency.json" in names

        older = start(store)  # as a run recorded before migration 0010: no record of its agency
        store.save_host_result(older, make_agency(), ok_host())
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM run_agencies WHERE run_id = :run"), {"run": older})
        store.finish_run(older)
        old_names = [e.name for e in parse_manifest(sealer.seal_run(store, older, report_content(), None).body).entries]
        assert len(old_names) == len(names) - 1 and not any(n.endswith("/agency.json") for n in old_names)
        assert verify_store(store, [key.public]).problems == []

        with store.engine.begin() as conn:  # edited behind the tool's back: named
            conn.execute(
                text("UPDATE run_agencies SET owner_name = 'Someone Else' WHERE run_id = :run"), {"run": recorded}
            )
        problems = verify_store(store, [key.public]).problem_texts("en")
        assert any("the run's record of agency vtv" in p and "agencies/vtv/agency.json" in p for p in problems)


# -- no email or phone anywhere a run goes -------------------------------------------------------------------------


def test_an_inventory_with_email_and_phone_leaves_neither_in_the_run_its_exports_or_its_bundle(
    tmp_path: Path,
) -> None:
    inventory_file = tmp_path / "inventory.yml"
    key_file = tmp_path / "id_ed25519"
    key_file.write_text("not read: the collector is a fake\n")
    key_file.chmod(0o600)
    agency = SERVICE_AGENCY.model_dump(mode="json", exclude_defaults=True)
    agency.update(contact=OWNER, timezone="Asia/Tokyo")
    agency["hosts"] = [{**host, "key_file": str(key_file)} for host in agency["hosts"]]
    inventory_file.write_text(yaml.safe_dump({"agencies": [agency]}, allow_unicode=True), encoding="utf-8")
    inventory = load_inventory(inventory_file)
    assert inventory.agencies[0].contact == Contact(**OWNER)  # the inventory does carry both

    key = create_key(tmp_path / "keys" / "signing_key.pem")
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    with open_store(url) as store:
        service = AuditService(
            store,
            SERVICE_CONTENT,
            collector=lambda _options: FakeCollector(),
            network=FakeNetwork(),
            sealer=ChainSealer(lambda: key),
        )
        run_id = service.start_audit(AuditScope(inventory=inventory, inventory_sha256="0" * 64), OPTIONS)
        recorded = store.run_agency(run_id, "bst")
        assert recorded is not None and recorded.owner_name == OWNER["name"]  # what reports need is there

        with store.engine.connect() as conn:
            metadata = MetaData()
            metadata.reflect(conn)
            database = "\n".join(
                repr(row) for table in metadata.sorted_tables for row in conn.execute(select(table)).all()
            )
        assert OWNER["name"] in database  # the dump does read the stored rows
        as_of = datetime(2030, 1, 1, tzinfo=UTC)
        exports = {
            "json": export_json(store, run_id),
            "csv": export_csv(store, run_id, content=SERVICE_CONTENT),
            "oscal": assessment_results(store, run_id, report_content(), department="Sở", as_of=as_of).to_json(),
        }

    bundle = tmp_path / "bundle.zip"
    assert cli(["bundle", run_id, "-o", str(bundle), "--db", url, "--key", str(key.path)]) == 0
    with zipfile.ZipFile(bundle) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    assert OWNER["name"].encode() in members["agencies/bst/agency.json"]
    assert any(OWNER["title"].encode() in data for name, data in members.items() if name.startswith("reports/"))

    for where, data in [("database", database), *exports.items()]:
        assert EMAIL not in data and PHONE not in data, where
    for name, blob in members.items():
        assert EMAIL.encode() not in blob and PHONE.encode() not in blob, name
