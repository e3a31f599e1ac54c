"""The Store: one object offering every query of the audit store, composed of one part per concern."""

from __future__ import annotations

from auditor.store.evidence import EvidenceStore
from auditor.store.exports import ExportStore
from auditor.store.remediations import RemediationStore
from auditor.store.results import ResultStore


class Store(ExportStore, ResultStore, EvidenceStore, RemediationStore):
    """Runs (`runs`), results written per target (`results`), findings, resolutions and diffs (`findings`),
    evidence (`evidence`), exports (`exports`), attestations and waivers (`governance`), remediations
    (`remediations`). Thread-safe; each call uses its own short session."""
