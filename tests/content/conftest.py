from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.checkcases import Sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    if os.geteuid() != 0:
        if os.environ.get("AUDITOR_REQUIRE_LAB"):
            pytest.fail("scenario cases need root (mount namespaces, overlayfs)")
        pytest.skip("scenario cases need root (mount namespaces, overlayfs)")
    from lab.api import ensure_base

    box = Sandbox(ensure_base())
    yield box
    box.close()
