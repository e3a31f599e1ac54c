"""One `auditor remediate` invocation: dry run, then (with --apply) canary, the rest, re-verification."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr

from auditor import __version__
from auditor.foreign import ansible_error_said
from auditor.inventory import Inventory
from auditor.remediate.runner import PlayResult, prepare_data_dir, run_play
from auditor.remediate.selection import Selection
from auditor.remediate.verify import CheckVerdict, reverify
from auditor.reports.models import Lang
from auditor.said import Said, said
from auditor.service.audit import AuditService
from auditor.store.remediations import new_remediation_id


class RemediationReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    remediation_id: str
    data_dir: Path
    selection: Selection
    dry_run: PlayResult | None = None
    applied: list[PlayResult] = []
    verify_run: str | None = None
    verdicts: list[CheckVerdict] = []
    stopped: str | None = None  # why the rollout stopped (canary failed, not confirmed), in English for the record
    _stopped_said: Said | None = PrivateAttr(default=None)  # the same, to be said in the reader's language

    def stop(self, why: Said | None) -> None:
        self._stopped_said = why
        self.stopped = why.text("en") if why is not None else None

    def stopped_text(self, lang: Lang) -> str | None:
        return self._stopped_said.text(lang) if self._stopped_said is not None else self.stopped

    def outcome(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"selection", "data_dir"})


def _selection_record(selection: Selection) -> dict[str, Any]:
    return {
        "source_run": selection.source_run,
        "params": selection.params,
        "hosts": {
            h.host_name: {
                "fixes": [f.model_dump() for f in h.fixes],
                "refused": [r.model_dump() for r in h.refused],
            }
            for h in selection.hosts
        },
    }


def _canary_failed(play: PlayResult, verdicts: list[CheckVerdict], host_name: str) -> Said | None:
    if host_name in play.host_errors:
        return said("err_canary_error", host=host_name, problem=ansible_error_said(play.host_errors[host_name]))
    bad = [v.check_id for v in verdicts if v.host_name == host_name and v.verdict != "fixed"]
    if bad:
        return said("err_canary_still_fails", host=host_name, checks=", ".join(bad))
    return None


def remediate(
    service: AuditService,
    inventory: Inventory,
    inventory_sha256: str,
    selection: Selection,
    agency_id: str,
    known_hosts: Path,
    evidence_root: Path,
    apply: bool,
    show_dry_run: Callable[[PlayResult], None],
    confirm: Callable[[], bool] = lambda: True,
    playbooks_dir: Path | None = None,
) -> RemediationReport:
    """Dry run; with ``apply``, the canary host, then the rest, each batch re-verified through the audit
    service into one verification run."""
    store = service.store
    remediation_id = new_remediation_id()
    data_dir = (evidence_root / remediation_id).resolve()
    report = RemediationReport(remediation_id=remediation_id, data_dir=data_dir, selection=selection)
    prepare_data_dir(data_dir, selection, known_hosts, playbooks_dir)
    mode = "apply" if apply else "check"
    store.start_remediation(
        remediation_id, selection.source_run, mode, __version__, str(data_dir), _selection_record(selection)
    )
    status = "failed"
    try:
        report.dry_run = run_play(data_dir, selection, "check", "dry-run")
        show_dry_run(report.dry_run)
        status = "completed"
        if not apply:
            return report
        if not confirm():
            report.stop(said("err_not_confirmed"))
            status = "stopped"
            return report
        ready = [h.host_name for h in selection.runnable if h.host_name not in report.dry_run.host_errors]
        batches = [ready[:1], ready[1:]] if len(ready) > 1 else [ready]
        record = {"remediation": remediation_id, "remediates_run": selection.source_run}
        for index, batch in enumerate(b for b in batches if b):
            part = selection.only(batch)
            played = run_play(data_dir, part, "apply", f"apply-{index + 1}")
            report.applied.append(played)
            touched = {h.host_name: h.check_ids for h in part.runnable}
            report.verify_run, verdicts = reverify(
                service, inventory, inventory_sha256, agency_id, touched, known_hosts, record, run_id=report.verify_run
            )
            report.verdicts.extend(verdicts)
            if index == 0 and len(batches) > 1:
                report.stop(_canary_failed(played, verdicts, batch[0]))
                if report.stopped:
                    status = "stopped"
                    break
        return report
    finally:
        if report.verify_run is not None:
            service.close_run(report.verify_run, "completed", inventory=inventory)  # closed and sealed
        store.finish_remediation(remediation_id, status, report.outcome(), report.verify_run)
