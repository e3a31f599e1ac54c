"""The audit store: runs, hosts, evidence and findings in SQLite (default) or PostgreSQL.

Typical use: ``store = open_store(None)`` (``./auditor.db``, migrated to head), then ``store.start_run(...)``,
``store.save_host_result(run_id, agency, result)`` once per finished host (one committed transaction each) and
``store.finish_run(run_id, "completed")``.
"""

from auditor.store import remediations as remediations  # registers the remediations table on the metadata
from auditor.store.db import DEFAULT_URL, mask_url, open_store
from auditor.store.repository import Store
from auditor.store.views import EvidenceRow, FindingRow, RunHostRow, RunStatus, RunSummary

__all__ = [
    "DEFAULT_URL",
    "EvidenceRow",
    "FindingRow",
    "RunHostRow",
    "RunStatus",
    "RunSummary",
    "Store",
    "mask_url",
    "open_store",
]
