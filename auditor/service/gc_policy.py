"""Python's cyclic garbage collector during an audit: fewer collections, none of them walking the start-up's objects.

A fleet's audit makes millions of short-lived objects (parsed output, findings, rows to store, SSH packets).
With Python's default thresholds the cyclic collector runs after every 700 of them, and each full collection
walks every object alive, the modules and the content included: about a quarter of the auditor's CPU time on
a few hundred hosts, growing with what is alive. While an audit runs, what was alive when it started (modules,
content, inventory, plans) is frozen out of the collector's walks (``gc.freeze``), and the youngest generation
is collected after ``YOUNG_THRESHOLD`` allocations instead. Objects are still freed by reference counting the
moment they are no longer used; only reference cycles wait a little longer. When the last audit under way
ends, the thresholds are restored and the frozen objects are handed back to the collector.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000  # allocations between two collections of the youngest generation (Python's default: 700)


class _Policy:
    """Audits under way in this process (several may run at once, in threads) and the thresholds to restore."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.saved: tuple[int, int, int] | None = None
        self.unfreeze = False  # whether the frozen objects go back to the collector at the end (none were before)


_POLICY = _Policy()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect less while the block runs (see the module's documentation); a collector switched off stays off."""
    with _POLICY.lock:
        if _POLICY.active == 0:
            saved = gc.get_threshold()
            _POLICY.saved = saved
            if saved[0] != 0:  # 0: collections switched off by the threshold; left so
                _POLICY.unfreeze = gc.get_freeze_count() == 0
                gc.freeze()
                gc.set_threshold(max(saved[0], YOUNG_THRESHOLD), *saved[1:])
        _POLICY.active += 1
    try:
        yield
    finally:
        with _POLICY.lock:
            _POLICY.active -= 1
            if _POLICY.active == 0 and _POLICY.saved is not None:
                gc.set_threshold(*_POLICY.saved)
                if _POLICY.unfreeze:
                    gc.unfreeze()
                _POLICY.saved, _POLICY.unfreeze = None, False
