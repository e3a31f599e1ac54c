from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.checkcases import Release, Sandbox


@pytest.fixture(scope="session")
def sandbox_for() -> Iterator[Callable[[Release], Sandbox]]:
    """A sandbox over the lab base of a release, each base built (and cached) on first use."""
    if os.geteuid() != 0:
        if os.environ.get("AUDITOR_REQUIRE_LAB"):
            pytest.fail("scenario cases need root (mount namespaces, overlayfs)")
        pytest.skip("scenario cases need root (mount namespaces, overlayfs)")
    from lab.api import ensure_base

    boxes: dict[Release, Sandbox] = {}

    def get(release: Release) -> Sandbox:
        if release not in boxes:
            boxes[release] = Sandbox(ensure_base(release))
        return boxes[release]

    yield get
    for box in boxes.values():
        box.close()
