"""The audit service: every caller (CLI, re-verification, benchmark, and later the scheduler and portal)
starts an audit here. It plans the run, records it, audits the servers over SSH, looks at the networks and
websites from outside, attaches the requirement clauses, stores every target the moment it finishes, keeps
the tally and closes the run, reporting typed progress events on the way.

    service = AuditService(store, content)
    run_id = service.start_audit(AuditScope.of(inventory, sha256), AuditOptions(known_hosts=path), on_event=print)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from auditor import __version__
from auditor.collectors.network.inside import InsideView
from auditor.content.loader import Content
from auditor.content.sources import source_probe_id
from auditor.errors import ConfigError, StoreError
from auditor.evaluation.findings import HostResult, HostStatus
from auditor.evaluation.parsers import listening_sockets
from auditor.foreign import foreign
from auditor.inventory import Agency, Inventory, file_sha256, load_inventory
from auditor.messages import reason
from auditor.run_end import error_summary, failure_detail, failure_text
from auditor.service.events import (
    EventSink,
    HostStarted,
    RunFinished,
    RunStarted,
    RunTally,
    finished_event,
)
from auditor.service.gc_policy import fewer_collections
from auditor.service.hosts import Collector, HostPool, agency_result
from auditor.service.plan import AuditPlan, HostPlan, NetworkPlan, plan_audit
from auditor.vocabulary import LocalizedText, Only, RunEndReason, RunId, RunStatus, Status

if TYPE_CHECKING:
    from auditor.evidence_chain.sealing import ChainSealer
    from auditor.store import Store
    from auditor.zones.dispatch import ZoneDispatcher

log = logging.getLogger(__name__)


class AuditScope(BaseModel):
    """What to audit: an inventory, narrowed to agencies, hosts, checks and agents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inventory: Inventory
    inventory_sha256: str
    agencies: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    only: Only | None = None
    # Only these hosts, each with only these checks (re-verification of what a remediation touched).
    host_checks: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    def covers(self, host_name: str) -> bool:
        names = self.hosts or tuple(self.host_checks)
        return not names or host_name in names

    @classmethod
    def from_file(cls, path: Path, **narrowing: Any) -> AuditScope:
        return cls(inventory=load_inventory(path), inventory_sha256=file_sha256(path), **narrowing)


class AuditOptions(BaseModel):
    """How to audit: limits, trust anchors and where the run goes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    known_hosts: Path
    concurrency: int = Field(default=8, ge=1, le=256)  # hosts audited at once
    deadline_s: float = Field(default=300.0, ge=1)  # per host
    connect_timeout_s: float = Field(default=10.0, ge=1)
    all_ports: bool = False  # nmap scans every TCP port instead of the top 1000
    trust_ca: Path | None = None  # a CA file trusted for TLS besides the system store
    # Add the targets to this open run and leave it open (re-verification in batches); None: a new run.
    append_to: RunId | None = None
    leave_open: bool = False  # a new run stays open too: its caller appends more and closes it
    record: dict[str, Any] = Field(default_factory=dict)  # more options recorded with the run (no secrets)


CollectorFactory = Callable[[AuditOptions], Collector]
ZoneDispatcherFactory = Callable[[AuditOptions], "ZoneDispatcher"]
NetworkObserver = Callable[[NetworkPlan, AuditOptions, Mapping[str, InsideView]], Iterable[tuple[Agency, HostResult]]]


def ssh_collector(options: AuditOptions) -> Collector:
    from auditor.collectors.ssh.collector import SshCollector  # paramiko only when a run really needs it

    return SshCollector(options.known_hosts, connect_timeout_s=options.connect_timeout_s, deadline_s=options.deadline_s)


class AuditService:
    """Plan → collect → evaluate → store, with typed progress events. Collectors are injected, so tests drive
    the service with fakes; by default servers are audited over SSH and networks with the real agents."""

    def __init__(
        self,
        store: Store | Callable[[], Store],
        content: Content,
        *,
        collector: CollectorFactory = ssh_collector,
        network: NetworkObserver | None = None,
        sealer: ChainSealer | None = None,
        zones: ZoneDispatcherFactory | None = None,
    ) -> None:
        """``store`` is a Store, or what opens one: then it is opened when a run first needs it, after
        that run's first hosts have started, so that opening it (and loading the database layer)
        overlaps their work instead of delaying it. ``sealer`` signs each closed run's manifest into the
        chain (by default with the installation key, when one is configured). ``zones`` sends the hosts that
        have a zone to their zone's workers (by default through the broker of ``$AUDITOR_BROKER_URL``)."""
        self._store: Store | None = None if callable(store) else store
        self._open_store = store if callable(store) else None
        self.content = content
        self._collector = collector
        self._network = network or self._observe_network
        self._sealer = sealer
        self._zones = zones

    @property
    def store(self) -> Store:
        if self._store is None:
            assert self._open_store is not None  # noqa: S101 - set when no store was given
            self._store = self._open_store()
        return self._store

    # -- planning ----------------------------------------------------------------------------------------------

    def plan(self, scope: AuditScope) -> AuditPlan:
        """The run's plan; raises ConfigError (unknown agency, host or check) before anything is recorded."""
        wanted = scope.checks or tuple(dict.fromkeys(c for ids in scope.host_checks.values() for c in ids))
        checks = self.content.select(wanted)
        plan = plan_audit(
            scope.inventory,
            checks,
            self.content.profile,
            sources=self.content.sources,
            agency_ids=scope.agencies,
            host_names=scope.hosts,
            only=scope.only,
            host_checks=scope.host_checks,
        )
        if not plan.hosts and scope.only in (None, Only.ssh) and plan.network is None:
            raise ConfigError(foreign("audit_no_hosts"))
        if plan.empty:
            raise ConfigError(foreign("audit_nothing_in_scope"))
        return plan

    # -- the run -----------------------------------------------------------------------------------------------

    def start_audit(self, scope: AuditScope, options: AuditOptions, on_event: EventSink | None = None) -> RunId:
        """Plan, record and run one audit to its end; returns its run id.

        The first hosts start at once and the run is recorded while they work. Every target is stored the
        moment it finishes; a target the store refuses is stored as an error instead and the run goes on.
        The run ends ``completed``, ``completed_with_errors`` (a target ended in error) or, on Ctrl-C,
        ``interrupted`` (finished targets kept, the others recorded as interrupted errors); any other
        exception marks it ``failed`` with the reason and is raised; if the run cannot be recorded at all,
        the hosts under way finish unrecorded. Events come in order from this
        thread, except ``HostStarted`` of hosts that start after the run was recorded, which comes from the
        host's worker thread.
        """
        with fewer_collections():  # a fleet's audit makes millions of short-lived objects
            return self._start_audit(scope, options, on_event)

    def _start_audit(self, scope: AuditScope, options: AuditOptions, on_event: EventSink | None) -> RunId:
        plan = self.plan(scope)
        emit = on_event or (lambda _event: None)
        started = _StartedHosts(emit)
        collector = self._collector_for(plan, options) if plan.hosts else None
        pool = HostPool(plan.hosts, collector, options.concurrency, started.host) if collector is not None else None
        try:
            run_id = options.append_to or self.store.start_run(
                __version__, self.content.version, scope.inventory_sha256, self._recorded_options(scope, options)
            )
        except BaseException:
            _bind_run(collector, None)
            if pool is not None:
                pool.abandon()
            raise
        tally = RunTally()
        emit(
            RunStarted(
                run_id=run_id,
                servers=len(plan.hosts),
                agencies=len(plan.agencies),
                checks=plan.checks,
                network_agencies=len(plan.network.agencies) if plan.network else 0,
            )
        )
        started.recorded(run_id)
        _bind_run(collector, run_id)
        try:
            tally.interrupted = self._run(run_id, plan, pool, options, tally, emit)
        except BaseException as exc:
            if pool is not None:
                pool.abandon()
            if self._closes(options):
                self._close_broken(run_id, exc, scope.inventory)
            raise
        status = _final_status(tally)
        if self._closes(options):
            detail = RunEndReason.stopped_by_user.value if status is RunStatus.interrupted else None
            status = self.close_run(run_id, status, detail, scope.inventory)
        emit(RunFinished(run_id=run_id, status=status, tally=tally))
        return run_id

    def _collector_for(self, plan: AuditPlan, options: AuditOptions) -> Collector:
        """The run's collector: the local one, behind zone dispatch when a planned host has a zone (a broker
        that is not configured is a ConfigError here, before anything is recorded)."""
        local = self._collector(options)
        if all(host_plan.host.zone is None for host_plan in plan.hosts):
            return local
        from auditor.zones.dispatch import ZoneCollector, celery_dispatcher

        dispatcher = self._zones(options) if self._zones is not None else celery_dispatcher()
        return ZoneCollector(
            local,
            dispatcher,
            connect_timeout_s=options.connect_timeout_s,
            deadline_s=options.deadline_s,
            run_id=options.append_to,
        )

    def close_run(
        self, run_id: str, status: RunStatus | str, detail: str | None = None, inventory: Inventory | None = None
    ) -> RunStatus:
        """Close a run with its final status and seal its manifest; returns the status recorded. Callers that
        left a run open (re-verification in batches) close it here too, so every closed run is sealed."""
        final = self.store.finish_run(run_id, status, detail)
        self._seal(run_id, inventory)
        return final

    def _seal(self, run_id: str, inventory: Inventory | None) -> None:
        """The run's signed manifest; never fails the run (an error is logged, the run stays recorded)."""
        from auditor.evidence_chain.sealing import ChainSealer, seal_quietly

        if self._sealer is None:
            self._sealer = ChainSealer()
        sealer = self._sealer
        seal_quietly(lambda: sealer.seal_run(self.store, run_id, self.content, inventory))

    def _close_broken(self, run_id: str, exc: BaseException, inventory: Inventory | None = None) -> None:
        """End a run that broke: interrupted on Ctrl-C, failed otherwise, with the reason. Finished targets stay
        stored. When even this cannot be written (the database is gone), the run stays open and the original
        error is what the caller sees."""
        if isinstance(exc, KeyboardInterrupt):
            status, detail = RunStatus.interrupted, RunEndReason.stopped_by_user.value
        else:
            status, detail = RunStatus.failed, failure_detail(exc)  # in both languages
        try:
            self.store.finish_run(run_id, status, detail)
        except Exception:
            log.exception("cannot close run %s as %s", run_id, status.value)
            return
        self._seal(run_id, inventory)

    @staticmethod
    def _closes(options: AuditOptions) -> bool:
        return options.append_to is None and not options.leave_open

    def _run(
        self,
        run_id: str,
        plan: AuditPlan,
        pool: HostPool | None,
        options: AuditOptions,
        tally: RunTally,
        emit: EventSink,
    ) -> bool:
        def record(agency: Agency, result: HostResult) -> None:
            result = self._save(run_id, agency, self._with_requirements(result))
            tally.add(result)
            emit(finished_event(run_id, result))

        for agency_plan in plan.agencies:  # nothing to observe: recorded first, as items awaiting evidence
            record(agency_plan.agency, agency_result(agency_plan))
        inside: dict[str, InsideView] = {}
        inside_sources = plan.network.inside if plan.network else ()

        def hosts_done(batch: list[tuple[HostPlan, HostResult]]) -> None:
            items = [(host_plan.agency, self._with_requirements(result)) for host_plan, result in batch]
            for result in self._save_all(run_id, items):
                tally.add(result)
                emit(finished_event(run_id, result))
                view = _inside_view(result, inside_sources)
                if view is not None:
                    inside[view.address] = view

        if pool is not None and pool.deliver_batches(hosts_done):
            return True
        if plan.network is not None:
            try:
                for agency, result in self._network(plan.network, options, inside):
                    record(agency, result)
            except KeyboardInterrupt:
                return True
        return False

    def _save_all(self, run_id: str, items: list[tuple[Agency, HostResult]]) -> list[HostResult]:
        """Store the hosts that finished since the last commit in one transaction; returns what was stored.
        When the store refuses that transaction, each is stored on its own (``_save``): a refused result
        still costs its own target only."""
        from sqlalchemy.exc import SQLAlchemyError  # loaded with the store by now

        if len(items) > 1:
            try:
                self.store.save_host_results(run_id, items)
                return [result for _, result in items]
            except (StoreError, SQLAlchemyError, ValueError):
                pass  # rolled back: found out below which one the store refuses
        return [self._save(run_id, agency, result) for agency, result in items]

    def _save(self, run_id: str, agency: Agency, result: HostResult) -> HostResult:
        """Store one target; returns what was stored. A result the store refuses (StoreError, a database error,
        data it cannot hold) costs that target only: it is stored instead as an error (``store_failed``) and
        the run goes on. Only when that fails too (the database is gone) does the error reach the run."""
        from sqlalchemy.exc import SQLAlchemyError  # loaded with the store by now

        try:
            self.store.save_host_result(run_id, agency, result)  # one transaction: rolled back when it raises
        except (StoreError, SQLAlchemyError, ValueError) as exc:
            log.warning("run %s: the store refused %s (%s)", run_id, result.host_name, error_summary(exc))
            result = unstored_result(result, failure_text(exc))
            self.store.save_host_result(run_id, agency, result)
        return result

    def _observe_network(
        self, plan: NetworkPlan, options: AuditOptions, inside: Mapping[str, InsideView]
    ) -> Iterable[tuple[Agency, HostResult]]:
        from auditor.collectors.network.nmap import ScanOptions  # nmap and TLS code only when the run scans
        from auditor.service.network import NetworkOptions, observe_network

        network_options = NetworkOptions(
            scan=ScanOptions(ports="all" if options.all_ports else "top"), extra_ca=options.trust_ca
        )
        return observe_network(plan, self.content.profile, network_options, inside)

    def _with_requirements(self, result: HostResult) -> HostResult:
        """The one place findings get the clauses that name their check (from the catalogues)."""
        refs = self.content.requirements
        findings = tuple(f.model_copy(update={"requirements": refs.get(f.check_id, ())}) for f in result.findings)
        return result.model_copy(update={"findings": findings})

    @staticmethod
    def _recorded_options(scope: AuditScope, options: AuditOptions) -> dict[str, Any]:
        inventory = scope.inventory
        agencies = [inventory.agency(a) for a in scope.agencies] if scope.agencies else list(inventory.agencies)
        return {
            "agencies": list(scope.agencies),
            "hosts": list(scope.hosts) or sorted(scope.host_checks),
            "checks": list(scope.checks) or sorted({c for ids in scope.host_checks.values() for c in ids}),
            "only": scope.only.value if scope.only else None,
            "concurrency": options.concurrency,
            "deadline_s": options.deadline_s,
            # What the officer declared in scope, for the report's cover (no credentials here).
            "scope": {
                agency.id: {
                    "hosts": [
                        f"{h.name} ({h.address}:{h.port})"
                        for h in agency.hosts
                        if not scope.hosts or h.name in scope.hosts
                    ],
                    "websites": [str(url) for url in agency.websites],
                    "networks": [str(net) for net in agency.networks],
                }
                for agency in agencies
            },
            **options.record,
        }


class _StartedHosts:
    """``HostStarted`` events: hosts may start before the run is recorded; their events wait for its id."""

    def __init__(self, emit: EventSink) -> None:
        self._emit = emit
        self._lock = threading.Lock()
        self._run_id: str | None = None
        self._waiting: list[HostPlan] = []

    def host(self, plan: HostPlan) -> None:
        with self._lock:
            if self._run_id is None:
                self._waiting.append(plan)
                return
            run_id = self._run_id
        self._emit(_host_started(run_id, plan))

    def recorded(self, run_id: str) -> None:
        with self._lock:
            self._run_id = run_id
            waiting, self._waiting = self._waiting, []
        for plan in waiting:
            self._emit(_host_started(run_id, plan))


def _bind_run(collector: Collector | None, run_id: str | None) -> None:
    """Tell a zone collector the run's id (its tasks are named after it), or that there will be none."""
    bind = getattr(collector, "bind_run", None)
    if bind is not None:
        bind(run_id)


def _host_started(run_id: str, plan: HostPlan) -> HostStarted:
    return HostStarted(run_id=run_id, agency_id=plan.agency.id, host_name=plan.host.name, address=plan.host.address)


def _final_status(tally: RunTally) -> RunStatus:
    if tally.interrupted:
        return RunStatus.interrupted
    if tally.servers_error or tally.network_error:
        return RunStatus.completed_with_errors
    return RunStatus.completed


def unstored_result(result: HostResult, detail: str | LocalizedText) -> HostResult:
    """What is stored of a target whose result the store refused: the target in error (``store_failed``) and
    each of its checks in error, without anything the target sent; ``detail`` in both languages when known."""
    why = reason("error.host.store_failed", detail=detail)
    findings = tuple(
        finding.model_copy(update={"status": Status.error, "observed": "", "reason": why, "evidence_probe_id": None})
        for finding in result.findings
    )
    return result.model_copy(
        update={
            "status": HostStatus.error,
            "error_reason": "store_failed",
            "error_detail": detail.en if isinstance(detail, LocalizedText) else detail,
            "facts": None,
            "findings": findings,
            "observations": (),
        }
    )


def _inside_view(result: HostResult, sources: tuple[str, ...]) -> InsideView | None:
    """The host's own view of its listening sockets, from the first shared source the network checks join."""
    for source_id in sources:
        wanted = source_probe_id(source_id)
        observation = next((o for o in result.observations if o.probe_id == wanted), None)
        if observation is not None and observation.exit_code == 0:
            return InsideView(result.address, tuple(listening_sockets(observation.stdout_text)), wanted)
    return None
