"""The Store: one object offering every query of the audit store, composed of one part per concern."""

from __future__ import annotations

from auditor.store.accounts import AccountStore
from auditor.store.activity import ActivityStore
from auditor.store.evidence import EvidenceStore
from auditor.store.exports import ExportStore
from auditor.store.external import ExternalStore
from auditor.store.manifests import ManifestStore
from auditor.store.outbox import OutboxStore
from auditor.store.remediations import RemediationStore
from auditor.store.results import ResultStore
from auditor.store.schedules import ScheduleStore
from auditor.store.submissions import SubmissionStore


class Store(
    ExternalStore,
    ExportStore,
    ResultStore,
    EvidenceStore,
    RemediationStore,
    AccountStore,
    ActivityStore,
    ScheduleStore,
    SubmissionStore,
    OutboxStore,
    ManifestStore,
):
    """Runs (`runs`), results written per target (`results`), findings, resolutions and diffs (`findings`),
    evidence (`evidence`), exports (`exports`), attestations and waivers (`governance`), remediations
    (`remediations`), and for the portal: accounts and sessions (`accounts`), the activity log
    (`activity`), schedules and audit leases (`schedules`), agency submissions (`submissions`) and the
    mail outbox (`outbox`); the signed manifest chain (`manifests`); other tools' imported results (`external`).
    Thread-safe; each call uses its own short session."""
