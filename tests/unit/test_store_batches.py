"""Finished hosts written together: one transaction for every host that finished during the previous commit."""

from __future__ import annotations

import pytest

from auditor.errors import StoreError
from auditor.store import Store, open_store
from tests.unit.test_store import error_host, make_agency, ok_host, sqlite_url, start, store

__all__ = ["sqlite_url", "store"]  # the fixtures, shared with the store's own tests


@pytest.mark.parametrize("url_fixture", ["sqlite_url", pytest.param("pg_url", marks=pytest.mark.postgres)])
def test_a_batch_stores_each_host_with_its_own_evidence_and_findings(
    url_fixture: str, request: pytest.FixtureRequest
) -> None:
    with open_store(str(request.getfixturevalue(url_fixture))) as store:
        run_id = start(store)
        other = make_agency("vov", "Đài Tiếng nói Việt Nam", "Voice of Vietnam")
        batch = [
            (make_agency(), ok_host(host_name="web-01")),
            (other, ok_host(agency_id="vov", host_name="web-02")),
            (make_agency(), error_host(host_name="db-01")),
        ]
        ids = store.save_host_results(run_id, batch)
        assert len(set(ids)) == 3
        hosts = {h.host_name: h for h in store.list_run_hosts(run_id)}
        assert [hosts[r.host_name].id for _, r in batch] == ids  # ids in the order given
        assert hosts["web-02"].agency_name.en == "Voice of Vietnam"
        for name in ("web-01", "web-02"):
            findings = {f.check_id: f for f in store.list_findings(run_id, host_name=name)}
            cited = findings["ssh.root_login"].evidence_id
            assert cited is not None and findings["policy.doc"].evidence_id is None
            evidence = store.get_evidence(findings["ssh.root_login"].id)
            assert evidence.probe_id == "sshd" and evidence.stdout == b"PermitRootLogin yes\n"
            assert evidence.verified
        cited = {f.evidence_id for n in ("web-01", "web-02") for f in store.list_findings(run_id, host_name=n)}
        assert len(cited - {None}) == 4  # each host's findings cite that host's own evidence
        assert {f.status.value for f in store.list_findings(run_id, host_name="db-01")} == {"error"}


def test_a_batch_is_stored_whole_or_not_at_all(store: Store) -> None:
    run_id = start(store)
    store.save_host_result(run_id, make_agency(), ok_host(host_name="web-01"))
    batch = [(make_agency(), ok_host(host_name="web-02")), (make_agency(), ok_host(host_name="web-01"))]
    with pytest.raises(StoreError, match="2 hosts"):
        store.save_host_results(run_id, batch)  # web-01 is already stored: the whole batch is refused
    assert {h.host_name for h in store.list_run_hosts(run_id)} == {"web-01"}
    assert store.save_host_results(run_id, []) == []
