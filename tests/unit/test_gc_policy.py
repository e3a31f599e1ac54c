"""While an audit runs, the cyclic collector runs less often and skips what was alive at the start; afterwards
everything is as it was, however audits nest or overlap."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from auditor.service.gc_policy import YOUNG_THRESHOLD, fewer_collections


@pytest.fixture(autouse=True)
def _default_collector() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_during_an_audit_the_young_generation_waits_longer_and_start_up_objects_are_frozen() -> None:
    assert gc.get_freeze_count() == 0
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_nested_audits_restore_the_collector_only_when_the_last_one_ends() -> None:
    with fewer_collections():
        with fewer_collections():
            pass
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD  # the outer audit still runs
    assert gc.get_threshold() == (700, 10, 10)


def test_an_error_in_the_audit_still_restores_the_collector() -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("boom")
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_a_collector_switched_off_stays_off_and_nothing_is_frozen() -> None:
    gc.set_threshold(0)
    with fewer_collections():
        assert gc.get_threshold()[0] == 0
        assert gc.get_freeze_count() == 0
    assert gc.get_threshold()[0] == 0


def test_objects_frozen_before_stay_frozen_after() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with fewer_collections():
            pass
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()
