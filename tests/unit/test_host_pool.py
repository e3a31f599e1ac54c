"""The SSH phase at fleet scale: plans shared by hosts alike, results handed over in batches, memory bounded."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from auditor.evaluation.observations import HostObservations, ProbeRequest
from auditor.inventory import Agency, Host, Inventory
from auditor.service.hosts import BATCH_MAX, HostPool
from auditor.service.plan import HostPlan, plan_audit
from auditor.vocabulary import LocalizedText, Only
from tests.unit.test_service import CONTENT, FakeCollector


def _fleet(hosts: int, roles: tuple[str, ...] = ("web",)) -> Inventory:
    agency = Agency(
        id="bst",
        name=LocalizedText(vi="Báo", en="Paper"),
        hosts=tuple(
            Host(name=f"h{n:04d}", address="10.0.0.1", port=2000 + n, roles=roles, use_agent=True) for n in range(hosts)
        ),
    )
    return Inventory(agencies=(agency,))


def _plans(inventory: Inventory) -> list[HostPlan]:
    checks = CONTENT.select(())
    return plan_audit(inventory, checks, CONTENT.profile, sources=CONTENT.sources, only=Only.ssh).hosts


def test_hosts_alike_share_one_plan_and_each_keeps_its_own_host() -> None:
    inventory = _fleet(50)
    extra = Host(name="db1", address="10.0.0.9", roles=("db",), use_agent=True)
    agency = inventory.agencies[0].model_copy(update={"hosts": (*inventory.agencies[0].hosts, extra)})
    plans = _plans(Inventory(agencies=(agency,)))
    assert [p.host.name for p in plans] == [h.name for h in agency.hosts]
    web = plans[:50]
    assert len({id(p.to_probe) for p in web}) == 1 and len({id(p.prepared) for p in web}) == 1
    assert web[0].requests() == web[49].requests() and web[0].requests() is not web[49].requests()
    assert plans[-1].prepared is not web[0].prepared  # another role: its own plan
    fresh = HostPlan(web[0].agency, web[0].host, web[0].inputs, web[0].to_probe, web[0].decided, web[0].sources)
    assert fresh.requests() == web[0].requests()  # what was prepared is what the plan asks for


class SlowCollector(FakeCollector):
    def collect(self, host: Host, requests: Sequence[ProbeRequest]) -> HostObservations:
        time.sleep(0.01)
        return super().collect(host, requests)


def test_results_come_in_batches_of_what_finished_and_memory_stays_bounded() -> None:
    plans = _plans(_fleet(300))
    pool = HostPool(plans, SlowCollector(), concurrency=4)
    sizes: list[int] = []
    names: list[str] = []
    waiting_most = 0

    def slow_store(batch: list) -> None:  # type: ignore[type-arg]
        nonlocal waiting_most
        sizes.append(len(batch))
        names.extend(result.host_name for _, result in batch)
        time.sleep(0.05)  # a store slower than the hosts: results must not pile up
        waiting_most = max(waiting_most, pool._finished.qsize())

    assert pool.deliver_batches(slow_store) is False
    assert sorted(names) == sorted(p.host.name for p in plans)  # each host once
    assert max(sizes) > 1 and max(sizes) <= BATCH_MAX
    assert waiting_most <= 4 + BATCH_MAX  # hosts under way plus one batch: never the whole fleet


def test_deliver_hands_results_one_by_one_as_before() -> None:
    plans = _plans(_fleet(5))
    seen: list[str] = []
    lock = threading.Lock()

    def one(plan: HostPlan, result: object) -> None:
        with lock:
            seen.append(plan.host.name)

    assert HostPool(plans, FakeCollector(), concurrency=2).deliver(one) is False
    assert sorted(seen) == [p.host.name for p in plans]
