"""The portal's secret is created once, whole, by whichever process comes first: a portal and a scheduler
started together share it and never read half of it."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from auditor.portal.security import load_secret


def _start(path: Path, barrier: threading.Barrier, got: list[bytes | BaseException]) -> None:
    barrier.wait()
    try:
        got.append(load_secret(path))
    except BaseException as exc:  # the test shows it
        got.append(exc)


def test_processes_starting_together_share_one_whole_secret(tmp_path: Path) -> None:
    for round_ in range(30):
        path = tmp_path / f"round-{round_}" / "portal.key"
        barrier = threading.Barrier(8)
        got: list[bytes | BaseException] = []
        threads = [threading.Thread(target=_start, args=(path, barrier, got)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(got)) == 1 and isinstance(got[0], bytes) and len(got[0]) == 64, got
        assert path.read_bytes() == got[0] + b"\n"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert [p.name for p in path.parent.iterdir()] == ["portal.key"]  # no written file left beside it
