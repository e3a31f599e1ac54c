"""What finished runs hold, read once per process: a finished run never changes, so the pages keep what they read
or derive from one."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sized
from typing import Any, TypeVar

from auditor.store import RunStatus, RunSummary, Store

T = TypeVar("T")


class RunCache:
    """A finished run never changes (runs are append-only; a finished run gets no more targets or findings), so
    what is read or derived from it is kept: its targets per agency, the failing pairs of an agency, the changes
    between two finished runs, an agency's judgement under one exact governance state. Keys name everything a
    value depends on, and a running run is always read afresh, so nothing kept can be stale. Least recently used
    entries go first past ``capacity``, weighed in rows (a finding row is about 3 KiB)."""

    def __init__(self, capacity: int = 40_000) -> None:
        self._lock = threading.Lock()
        self._data: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()
        self._capacity = capacity
        self._weight = 0

    def get(
        self, key: tuple[Any, ...], final: bool, load: Callable[[], T], weight: Callable[[T], int] | None = None
    ) -> T:
        """The value under ``key``, loaded (and kept when ``final``) if absent; weighed by ``weight`` (default: its
        length, when it has one)."""
        if not final:
            return load()
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
                value: T = found[0]
                return value
        value = load()
        size = max(1, weight(value) if weight else len(value) if isinstance(value, Sized) else 1)
        with self._lock:
            if key not in self._data:
                self._data[key] = (value, size)
                self._weight += size
            while self._weight > self._capacity and len(self._data) > 1:
                _key, (_value, dropped) = self._data.popitem(last=False)
                self._weight -= dropped
        return value


_CACHES: weakref.WeakKeyDictionary[Store, RunCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def run_cache(store: Store) -> RunCache:
    """The cache of a store (one per store, kept while the store lives)."""
    with _CACHES_LOCK:
        cache = _CACHES.get(store)
        if cache is None:
            cache = _CACHES[store] = RunCache()
        return cache


def finished(run: RunSummary) -> bool:
    """The run has ended (whatever its status), so what it holds no longer changes."""
    return run.status is not RunStatus.running
