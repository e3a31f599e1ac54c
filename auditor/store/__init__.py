"""The audit store: runs, targets, evidence, findings, governance and remediations in SQLite (default) or PostgreSQL.

Typical use: ``store = open_store(None)`` (``./auditor.db``, migrated to head), then ``store.start_run(...)``,
``store.save_host_result(run_id, agency, result)`` once per finished target (one committed transaction each) and
``store.finish_run(run_id, "completed")``. Every query lives here; callers never see a database session.
"""

from auditor.store.db import DEFAULT_URL, mask_url, open_store
from auditor.store.store import Store
from auditor.store.views import EvidenceRow, FindingRow, RunHostRow, RunStatus, RunSummary, TargetCounts

__all__ = [
    "DEFAULT_URL",
    "EvidenceRow",
    "FindingRow",
    "RunHostRow",
    "RunStatus",
    "RunSummary",
    "Store",
    "TargetCounts",
    "mask_url",
    "open_store",
]
