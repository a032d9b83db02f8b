"""Runs: take the lock, then read both systems, plan, record and queue the work; finish when the last
work item is done.

A run's life: QUEUED (lock taken) -> RUNNING ("Job Started", logged once: a second invocation of the same run
finds it RUNNING and does nothing) -> SUCCEEDED / COMPLETED_WITH_FAILURES / QUARANTINED / FAILED, or
APPROVAL_REQUIRED (mass-leaver safeguard; approval sends it back to QUEUED), or TIMED_OUT when its lease
expired and the next trigger took the lock over.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from hrsync import clock
from hrsync.connectors import RunRead
from hrsync.context import OpenConnection, open_connection, store, with_fresh_credentials
from hrsync.errors import (
    AuthenticationError,
    ExternalSystemError,
    HrsyncError,
    RunInProgressError,
    StateConflictError,
)
from hrsync.models.api import DryRunPlan, PlannedChange, PlannedConflictView, PlannedSkip, PlannedWarning
from hrsync.models.connection import Connection
from hrsync.models.employee import Employee, Listing
from hrsync.models.records import (
    Conflict,
    EmployeeState,
    Failure,
    HistoryEntry,
    Run,
    RunCounters,
    RunStatus,
    SyncStatus,
)
from hrsync.models.work import WORKER_BATCH_MESSAGES, Action, WorkItem, items_per_message
from hrsync.observability import METRICS_NAMESPACE, SERVICE, logger
from hrsync.settings import get_settings
from hrsync.store.queue import send_work_items
from hrsync.store.table import Store
from hrsync.sync.assigned import with_assignments
from hrsync.sync.incremental import carried_over, record_fingerprint
from hrsync.sync.plan import EmployeePlan, Outcome, Plan, plan_run
from hrsync.systems.base import IncrementalSource

QUEUE_SLICE = 1000  # employees' states written, then their work items queued, at a time
TIMED_OUT_REASON = "its lease expired before it finished (the function stopped or timed out)"
_STATUS_OF = {
    Outcome.APPLY: SyncStatus.IN_PROGRESS,
    Outcome.IN_STEP: SyncStatus.SUCCESSFUL,
    Outcome.NOT_SYNCING: SyncStatus.NOT_SYNCING,
    Outcome.CONFLICT: SyncStatus.NOT_SYNCING,
    Outcome.FAILED: SyncStatus.FAILED,
}
DONE_COUNTER = {Action.CREATE: "created", Action.UPDATE: "updated", Action.MARK_LEAVER: "marked_leaver"}


def start_run(
    connection_id: str, trigger: str, employee_ids: list[str] | None = None, *, full: bool = False, force: bool = False
) -> Run:
    """Take the connection's lock and record a QUEUED run; RunInProgressError while another holds it.

    `employee_ids` selects employees (a run over those alone); `full` asks a source with a change feed to be
    read whole; `force` sends the selected employees every source-owned field even where they look in step."""
    db = store()
    db.get_connection(connection_id)  # NotFoundError for an unknown connection
    run = Run(
        connection_id=connection_id,
        run_id=clock.new_id(),
        trigger=trigger,
        status=RunStatus.QUEUED,
        queued_at=clock.iso(),
        employee_ids=sorted(set(employee_ids)) if employee_ids else None,
        full=full,
        force=force,
    )
    expired = db.take_lock(run, get_settings().run_lease_seconds)
    if expired:
        time_out_run(db, connection_id, expired, taken_over_by=run.run_id)
    logger.info("run queued", extra={"connection_id": connection_id, "run_id": run.run_id, "trigger": trigger})
    return run


def approve_run(connection_id: str, run_id: str, approved_by: str) -> Run:
    """Let a run held by the mass-leaver safeguard go on; StateConflictError unless it is waiting."""
    db = store()
    db.get_run(connection_id, run_id)  # NotFoundError
    run = db.approve_run(connection_id, run_id, approved_by, get_settings().run_lease_seconds)
    db.log(run_id, f"Approved by {approved_by}")
    return run


def time_out_run(db: Store, connection_id: str, run_id: str, *, taken_over_by: str) -> None:
    if db.end_run(connection_id, run_id, RunStatus.TIMED_OUT, TIMED_OUT_REASON, only_if_idle=False):
        db.log(run_id, f"Job Timed Out: {TIMED_OUT_REASON}; run {taken_over_by} took over", "ERROR")


def run_scheduled(connector: str, execute: Callable[[str, str], None]) -> dict[str, str]:
    """The 04:00 trigger: start a run for each connection of this connector; busy ones are skipped."""
    outcome: dict[str, str] = {}
    for connection in store().connections_of(connector):
        try:
            run = start_run(connection.id, "schedule")
        except RunInProgressError as exc:
            logger.warning(
                "scheduled run skipped: a run is in progress",
                extra={"connection_id": connection.id, "run_id": exc.run_id},
            )
            outcome[connection.id] = f"skipped: run {exc.run_id} in progress"
            continue
        execute(connection.id, run.run_id)
        outcome[connection.id] = run.run_id
    return outcome


def execute_run(connection_id: str, run_id: str, deadline: Callable[[], float] | None = None) -> None:
    """Read, plan, record and queue one run. Never raises for a run's own failure: the run says FAILED."""
    db = store()
    started = db.mark_run_started(connection_id, run_id)
    if started is None:
        logger.warning("run already started or ended; duplicate invocation ignored", extra={"run_id": run_id})
        return
    db.log(run_id, f"Job Resumed: approved by {started.approved_by}" if started.approved_by else "Job Started")
    try:
        _plan_and_queue(db, started, deadline)
    except HrsyncError as exc:
        fail_run(db, connection_id, run_id, str(exc))
    except Exception as exc:
        logger.exception("run crashed", extra={"run_id": run_id})
        fail_run(db, connection_id, run_id, f"internal error ({type(exc).__name__})")
        raise


def fail_run(db: Store, connection_id: str, run_id: str, reason: str) -> None:
    db.log(run_id, f"Job Failed: {reason}", "ERROR")
    db.end_run(connection_id, run_id, RunStatus.FAILED, reason, only_if_idle=False)
    db.release_lock(connection_id, run_id, succeeded=False)


def _read(
    opened: OpenConnection, db: Store, run: Run, states: Mapping[str, EmployeeState], feed: dict[str, Any]
) -> RunRead:
    """The default read: the target's departments, every source employee (or, from a source with a change
    feed, those that changed), every target record. The target is listed on a thread of its own while the
    source is read (the log says so in a fixed order)."""
    policy = opened.policy
    run_id = run.run_id
    departments = _read_departments(opened, db, run_id) if policy.department_lookup else None
    started = clock.now()
    since, why_full = _change_feed_start(opened, run, feed)
    source_system = opened.source
    carried: dict[str, Employee] = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="target-read") as side:
        if since is None or not isinstance(source_system, IncrementalSource):
            db.log(
                run_id,
                f"Reading employees from {policy.source_name}" + (f" (everyone: {why_full})" if why_full else ""),
            )
            target_read = _start_target_read(opened, db, run_id, side)
            source = source_system.list_employees()
            details_read = len(source.records) + len(source.rejections)
            target = _target_read(opened, db, run_id, target_read)
        else:
            db.log(
                run_id,
                f"Reading employees from {policy.source_name}: who is there, and the changes since {clock.iso(since)}",
            )
            target_read = _start_target_read(opened, db, run_id, side)
            source = Listing()
            index = source_system.list_ids(source)
            changed: set[str] | None
            try:
                changed = source_system.changed_since(since)
            except AuthenticationError:
                raise
            except HrsyncError as exc:
                changed = None
                db.log(run_id, f"The change feed could not be read ({exc}); every employee is read", "WARNING")
            target = _target_read(opened, db, run_id, target_read)
            if changed is not None and target.complete:
                targets = {record.id: record for record in target.records}
                carried = carried_over(index, changed, states, targets, opened.secret, policy.synced_fields)
            to_read = [employee_id for employee_id in index if employee_id not in carried]
            source_system.read_details(to_read, source)
            details_read = len(to_read)
            source.records += carried.values()
    if not source.complete and not source.records and not source.rejections:
        raise ExternalSystemError(f"{policy.source_name} could not be read: {source.incomplete_reason}")
    by_status = Counter(e.status.value for e in source.records)
    db.log(
        run_id,
        f"Read {len(source.records)} employees ({by_status['current']} current, {by_status['upcoming']} upcoming, "
        f"{by_status['former']} former); {len(source.rejections)} could not be read"
        + (f"; {details_read} read in full, {len(carried)} unchanged since the last run" if since else ""),
    )
    return RunRead(
        source,
        target,
        departments,
        started_at=clock.iso(started),
        full=since is None,
        details_read=details_read,
        carried=len(carried),
    )


def _read_departments(opened: OpenConnection, db: Store, run_id: str) -> set[str] | None:
    connection, policy = opened.connection, opened.policy
    db.log(run_id, f"Importing departments from {policy.target_name}")
    try:
        departments: set[str] | None = {d.code for d in opened.target.list_departments()}
        db.put_lookup(connection.id, "departments", sorted(departments or ()))
        db.log(run_id, f"Imported {len(departments or ())} departments")
    except AuthenticationError:
        raise
    except HrsyncError as exc:
        departments = None
        db.log(
            run_id,
            f"Departments could not be read ({exc}); departments are left unchanged this run",
            "WARNING",
        )
    return departments


def _start_target_read(opened: OpenConnection, db: Store, run_id: str, side: ThreadPoolExecutor) -> Future[Listing]:
    db.log(run_id, f"Reading {opened.policy.record_name}s from {opened.policy.target_name}")
    return side.submit(opened.target.list_records)


def _target_read(opened: OpenConnection, db: Store, run_id: str, started: Future[Listing]) -> Listing:
    target = started.result()
    db.log(
        run_id,
        f"Read {len(target.records)} {opened.policy.record_name}s; {len(target.rejections)} could not be read",
    )
    return target


def _change_feed_start(opened: OpenConnection, run: Run, feed: dict[str, Any]) -> tuple[datetime | None, str | None]:
    """Where this run's change feed starts, or None and why it reads everyone."""
    options = opened.connection.options
    read_to, full_at = feed.get("feed_read_to"), feed.get("full_read_at")
    if not isinstance(opened.source, IncrementalSource):
        return None, None
    if run.full:
        return None, "a full read was asked for"
    if run.employee_ids:
        return None, None
    if not read_to or not full_at:
        return None, "no earlier complete read"
    if clock.now() - clock.parse(str(full_at)) > timedelta(days=options.full_read_every_days):
        return None, f"the full reconciliation, every {options.full_read_every_days} days"
    if str(read_to) < opened.connection.updated_at:
        return None, "the connection changed since the last read"
    return clock.parse(str(read_to)) - timedelta(seconds=options.change_feed_overlap_seconds), None


class _States(Mapping[str, EmployeeState]):
    """Employee states still being read: the first look waits for them."""

    def __init__(self, reading: Future[dict[str, EmployeeState]]) -> None:
        self._reading = reading

    def resolved(self) -> dict[str, EmployeeState]:
        return self._reading.result()

    def __getitem__(self, employee_id: str) -> EmployeeState:
        return self.resolved()[employee_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.resolved())

    def __len__(self) -> int:
        return len(self.resolved())


@dataclass
class PlannedRun:
    """What planning found for a run, before anything is recorded, uploaded or queued."""

    plan: Plan
    counters: RunCounters
    states: dict[str, EmployeeState]
    source: Listing
    target: Listing
    opened: OpenConnection
    current: Connection
    selected: set[str]
    hold_reason: str | None  # set when the mass-leaver safeguard stops the run before applying


def plan_for(db: Store, run: Run, deadline: Callable[[], float] | None = None) -> PlannedRun:
    """Read both systems and plan `run`: the real run's and the dry run's one read-and-plan (a dry run passes
    a store that keeps the log lines and writes nothing, see _DryRunStore)."""
    connection_id, run_id = run.connection_id, run.run_id
    current = db.get_connection(connection_id)  # as saved now: options changed since must count
    feed = db.get_state(connection_id)
    read_step = open_connection(connection_id, current=current).connector.read_run or _read
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="states-read") as side:
        # The stored states are read while the systems are: the read needs them only once it has listed.
        pending_states = _States(side.submit(db.employee_states, connection_id))
        read = with_fresh_credentials(
            connection_id, lambda o: read_step(o, db, run, pending_states, feed), deadline, current
        )
        states = pending_states.resolved()
    source, target, departments = read.source, read.target, read.departments
    db.record_read(connection_id, run_id, read.started_at, read.full)
    opened = open_connection(connection_id, current=current)
    links = {eid: s.target_id for eid, s in states.items() if s.target_id}
    only = set(run.employee_ids) if run.employee_ids else None
    source.records = [with_assignments(e, states.get(e.id)) for e in source.records]
    # Opt-in connectors: employees named in a run are HR's selection, and stay selected.
    selected = only if opened.policy.opt_in and only else set()
    enrolled = {eid for eid, s in states.items() if s.enrolled} | selected
    plan = plan_run(
        source,
        target,
        links,
        opened.policy,
        departments=departments,
        only=only,
        enrolled=enrolled,
        force=run.force,
        known_conflicts=read.conflicts,
    )
    for note in plan.notes:
        db.log(run_id, note, "WARNING")
    if only is not None:
        missing = only - {p.employee_id for p in plan.employees}
        for employee_id in sorted(missing):
            db.log(
                run_id,
                f"Employee {employee_id} was asked for but is not in {opened.policy.source_name}",
                "WARNING",
            )

    c = _counters(plan)
    c.incomplete_reads = int(not source.complete) + int(not target.complete)
    c.details_read, c.carried = read.details_read, read.carried
    db.log(
        run_id,
        f"{c.to_create} to create, {c.to_update} to update, {c.to_mark_leaver} to mark as leavers, "
        f"{c.not_syncing} not syncing, {c.conflicts} in conflict, {c.in_step} already in step",
    )
    options = opened.connection.options
    threshold = options.leaver_threshold(len(links))
    hold_reason = None
    if c.to_mark_leaver > threshold and run.approved_by is None:
        hold_reason = (
            f"{c.to_mark_leaver} leaver marks exceed the safeguard of {threshold} "
            f"({options.leaver_threshold_percent:g}% of {len(links)} linked users, "
            f"at least {options.leaver_threshold_min})"
        )
    return PlannedRun(plan, c, states, source, target, opened, current, selected, hold_reason)


def _plan_and_queue(db: Store, run: Run, deadline: Callable[[], float] | None) -> None:
    connection_id, run_id = run.connection_id, run.run_id
    planned = plan_for(db, run, deadline)
    plan, c, states, opened, selected = planned.plan, planned.counters, planned.states, planned.opened, planned.selected
    only = set(run.employee_ids) if run.employee_ids else None
    if planned.hold_reason:
        wait_seconds = opened.connection.options.approval_wait_hours * 3600
        db.hold_run(connection_id, run_id, planned.hold_reason, c, wait_seconds)
        db.log(
            run_id,
            f"Job Held: {planned.hold_reason}; nothing was applied. "
            f"Approve with POST /connections/{connection_id}/syncs/{run_id}/approve",
            "WARNING",
        )
        return
    if only is None:
        db.replace_conflicts(connection_id, _conflicts(plan, run_id))
    else:
        _recheck_conflicts(db, connection_id, run_id, plan, only)
    fingerprints = _Fingerprints(opened, planned.source, planned.target)
    pending = _record_states(db, run, plan, states, fingerprints, selected)
    upload_step = opened.connector.upload_run
    if upload_step is not None:
        uploaded = with_fresh_credentials(
            connection_id, lambda o: upload_step(o, db, run, states), deadline, planned.current
        )
        c.failed += uploaded.failed
        c.in_step -= uploaded.failed_in_step
        c.seen += uploaded.seen
        c.not_syncing += uploaded.not_syncing
    db.record_plan(connection_id, run_id, c)
    _queue(db, run, pending, states, fingerprints, opened.policy.target_name, selected)
    finish_run_if_done(db, connection_id, run_id)


class _DryRunStore:
    """The store as a dry run sees it: reads go through, log lines are kept for the plan, and the writes a read
    makes on the way are dropped: the lookups it stores for the workers (the plan gets them in memory) and the
    read marker. Any other write is refused, so a connector's read that would write something else makes the
    dry run fail rather than write."""

    _DROPPED = frozenset({"put_lookup", "clear_lookups", "record_read"})
    _READS = ("get_", "list_", "read_", "employee_states", "employees_by_status", "employee_history", "connections_of")

    def __init__(self, db: Store, lines: list[str]) -> None:
        self._db = db
        self.lines = lines

    def log(self, run_id: str, message: str, level: str = "INFO") -> None:
        self.lines.append(message)

    def __getattr__(self, name: str) -> Any:
        if name in self._DROPPED:
            return lambda *args, **kwargs: None
        if name.startswith(self._READS) or name == "payroll_changes":
            return getattr(self._db, name)
        raise StateConflictError(f"a dry run writes nothing, and planning this connection would ({name})")


def dry_run(run: Run, deadline: Callable[[], float] | None = None) -> DryRunPlan:
    """Plan `run` as a real run would, and return the plan: nothing is written to either system or the table,
    no lock is taken and no state moves. The counts are those the real run would record."""
    lines: list[str] = []
    planned = plan_for(cast(Store, _DryRunStore(store(), lines)), run, deadline)
    plan = planned.plan

    def change(p: EmployeePlan) -> PlannedChange:
        return PlannedChange(employee_id=p.employee_id, code=p.code, target_id=p.target_id, fields=list(p.fields))

    def skip(p: EmployeePlan) -> PlannedSkip:
        return PlannedSkip(employee_id=p.employee_id, code=p.code, reason=p.reason or "")

    def of(outcome: Outcome, action: Action | None = None) -> list[EmployeePlan]:
        return [p for p in plan.employees if p.outcome is outcome and (action is None or p.action is action)]

    return DryRunPlan(
        connection_id=run.connection_id,
        employee_ids=run.employee_ids,
        counters=planned.counters,
        creates=[change(p) for p in of(Outcome.APPLY, Action.CREATE)],
        updates=[change(p) for p in of(Outcome.APPLY, Action.UPDATE)],
        leavers=[change(p) for p in of(Outcome.APPLY, Action.MARK_LEAVER)],
        not_syncing=[skip(p) for p in of(Outcome.NOT_SYNCING)],
        failed=[skip(p) for p in of(Outcome.FAILED)],
        conflicts=[
            PlannedConflictView(
                conflict_id=c.key,
                kind=c.kind,
                reason=c.reason,
                code=c.code,
                employee_ids=list(c.employee_ids),
                target_ids=list(c.target_ids),
            )
            for c in plan.conflicts
        ],
        warnings=[
            PlannedWarning(employee_id=p.employee_id, warning=warning) for p in plan.employees for warning in p.warnings
        ],
        held_for_approval=planned.hold_reason,
        log=lines,
    )


def _queue(
    db: Store,
    run: Run,
    pending: list[EmployeePlan],
    states: dict[str, EmployeeState],
    fingerprints: _Fingerprints,
    target_name: str,
    selected: set[str] | None = None,
) -> None:
    """Write the pending employees' states and queue their work items a slice at a time, so workers start on
    the first slice while the rest is written (the run's `pending` is recorded first, so it cannot reach 0
    early). A change to apply gets its history entry from the worker, with the outcome."""
    per_message = items_per_message(len(pending))
    messages = 0
    now = clock.iso()
    # The first slice is one full batch for each worker, so they all start together: each paces itself at
    # its share of the target's limit, and one that started late would be the last to finish.
    first = get_settings().worker_concurrency * WORKER_BATCH_MESSAGES * per_message
    for start, end in queue_slices(len(pending), first):
        chunk = pending[start:end]
        db.put_employee_states(
            [_new_state(run, p, states.get(p.employee_id), fingerprints, now, selected) for p in chunk]
        )
        items = [
            WorkItem(
                connection_id=run.connection_id,
                run_id=run.run_id,
                employee_id=p.employee_id,
                action=p.action,
                target_id=p.target_id,
                fields=p.fields,
            )
            for p in chunk
            if p.action is not None
        ]
        messages += send_work_items(get_settings().sync_queue_url, items, per_message)
    if pending:
        db.log(run.run_id, f"Queued {len(pending)} changes for {target_name} in {messages} messages")


def queue_slices(count: int, first: int) -> Iterator[tuple[int, int]]:
    """Where `_queue` cuts `count` pending employees: `first` of them, then QUEUE_SLICE at a time."""
    start, size = 0, max(1, first)
    while start < count:
        yield start, min(start + size, count)
        start, size = start + size, QUEUE_SLICE


def _counters(plan: Plan) -> RunCounters:
    return RunCounters(
        seen=len(plan.employees) + plan.unreadable,
        to_create=plan.count(Outcome.APPLY, Action.CREATE),
        to_update=plan.count(Outcome.APPLY, Action.UPDATE),
        to_mark_leaver=plan.count(Outcome.APPLY, Action.MARK_LEAVER),
        in_step=plan.count(Outcome.IN_STEP),
        not_syncing=plan.count(Outcome.NOT_SYNCING),
        conflicts=plan.count(Outcome.CONFLICT),
        unreadable=plan.unreadable,
        failed=plan.count(Outcome.FAILED),
        pending=len(plan.to_apply),
        warnings=sum(1 for p in plan.employees if p.warnings),
    )


def _conflicts(plan: Plan, run_id: str) -> list[Conflict]:
    return [
        Conflict(
            conflict_id=c.key,
            kind=c.kind,
            reason=c.reason,
            code=c.code,
            employee_ids=list(c.employee_ids),
            target_ids=list(c.target_ids),
            run_id=run_id,
        )
        for c in plan.conflicts
    ]


def _recheck_conflicts(db: Store, connection_id: str, run_id: str, plan: Plan, only: set[str]) -> None:
    """A run for some employees re-checks the conflicts that name them (gone when the data was fixed, or
    found again); conflicts naming none of them stay as the last full run left them."""
    found = {c.conflict_id: c for c in _conflicts(plan, run_id) if only & set(c.employee_ids)}
    kept = [
        c for c in db.list_conflicts(connection_id) if not only & set(c.employee_ids) and c.conflict_id not in found
    ]
    db.replace_conflicts(connection_id, kept + list(found.values()))


@dataclass
class _Fingerprints:
    """What an employee's state records for the next incremental run: its source status, and the
    fingerprint of its target record when it is in step."""

    opened: OpenConnection
    source: Listing
    target: Listing

    def __post_init__(self) -> None:
        self._status = {record.id: record.status.value for record in self.source.records}
        self._targets = {record.id: record for record in self.target.records}

    def status(self, employee_id: str) -> str | None:
        return self._status.get(employee_id)

    def of(self, p: EmployeePlan) -> str | None:
        record = self._targets.get(p.target_id or "") if p.outcome is Outcome.IN_STEP and not p.warnings else None
        if record is None:
            return None
        return record_fingerprint(self.opened.secret, record, self.opened.policy.synced_fields)


def _new_state(
    run: Run,
    p: EmployeePlan,
    old: EmployeeState | None,
    fingerprints: _Fingerprints,
    now: str,
    selected: set[str] | None = None,
) -> EmployeeState:
    keep_link = p.outcome is not Outcome.APPLY or p.action is not Action.CREATE
    target_id = p.target_id or (old.target_id if old and keep_link else None)
    return EmployeeState(
        connection_id=run.connection_id,
        employee_id=p.employee_id,
        code=p.code,
        status=_STATUS_OF[p.outcome],
        reason=p.reason,
        warnings=list(p.warnings),
        target_id=target_id,
        # how the link was first made ("created", "payroll_code") stays; "link" only says it was stored
        matched_by=(old.matched_by if old and old.target_id == target_id and old.matched_by else None)
        or p.matched_by
        or (old.matched_by if old and target_id else None),
        run_id=run.run_id,
        pending_action=p.action.value if p.outcome is Outcome.APPLY and p.action else None,
        updated_at=now,
        source_status=fingerprints.status(p.employee_id),
        fingerprint=fingerprints.of(p),
        enrolled=p.employee_id in (selected or ()) or bool(old and old.enrolled),
        awaiting_selection=p.awaiting_selection,
        assigned_benefits_level=old.assigned_benefits_level if old else None,
        merge_base=old.merge_base if old else {},
        merge_pending=old.merge_pending if old else {},
    )


def _record_states(
    db: Store,
    run: Run,
    plan: Plan,
    states: dict[str, EmployeeState],
    fingerprints: _Fingerprints,
    selected: set[str] | None = None,
) -> list[EmployeePlan]:
    """Write each employee's new state where it changed, with a history entry where the outcome did. The
    employees with a change to apply are returned, for `_queue` to write with their work items (their states
    are built a slice at a time there: a run of 100,000 creates never holds them all)."""
    connection_id, run_id = run.connection_id, run.run_id
    now = clock.iso()
    changed: list[EmployeeState] = []
    history: list[tuple[EmployeeState, HistoryEntry]] = []
    failures: list[Failure] = []
    for p in plan.employees:
        if p.outcome is Outcome.APPLY:
            continue
        old = states.get(p.employee_id)
        new = _new_state(run, p, old, fingerprints, now, selected)
        if old is not None and _same(old, new):
            continue
        changed.append(new)
        if old is None or old.status != new.status or old.reason != new.reason:
            history.append(
                (
                    new,
                    HistoryEntry(
                        time=now, run_id=run_id, action=None, fields=list(p.fields), outcome=new.status, reason=p.reason
                    ),
                )
            )
        if p.outcome is Outcome.FAILED:
            failures.append(
                Failure(
                    failure_id=clock.new_id(),
                    connection_id=connection_id,
                    employee_id=p.employee_id,
                    run_id=run_id,
                    action="read",
                    reason=p.reason or "could not be read",
                    failure_class="source_read",
                    attempts=1,
                    time=now,
                )
            )
    db.put_employee_states(changed, history, failures)
    for p in plan.employees:
        for warning in p.warnings:
            db.log(run_id, f"Employee {p.employee_id}: {warning}", "WARNING")
    return [p for p in plan.employees if p.outcome is Outcome.APPLY and p.action is not None]


def _same(old: EmployeeState, new: EmployeeState) -> bool:
    compared = (
        "status",
        "reason",
        "warnings",
        "target_id",
        "matched_by",
        "code",
        "pending_action",
        "source_status",
        "fingerprint",
        "enrolled",
        "awaiting_selection",
    )
    return all(getattr(old, name) == getattr(new, name) for name in compared) and old.pending_action is None


def finish_run_if_done(db: Store, connection_id: str, run_id: str) -> Run | None:
    """End the run once nothing is pending: log Job Finished, move the last successful sync time when every
    item succeeded, release the lock. Safe to call from every worker: only one caller ends it."""
    run = db.get_run(connection_id, run_id)
    c = run.counters
    if run.status is not RunStatus.RUNNING:
        return None
    if c.pending > 0:
        queued = c.to_create + c.to_update + c.to_mark_leaver
        done = queued - c.pending
        step = max(1, queued // 10)
        milestone = done - done % step
        if milestone and db.claim_progress(connection_id, run_id, milestone):
            db.log(run_id, f"Applied {done} of {queued} changes")
        return None
    if c.deferred:
        status = RunStatus.QUARANTINED
    elif c.failed or c.incomplete_reads:
        status = RunStatus.COMPLETED_WITH_FAILURES
    else:
        status = RunStatus.SUCCEEDED
    ended = db.end_run(connection_id, run_id, status, only_if_idle=True)
    if ended is None:
        return None
    db.log(
        run_id,
        f"Job Finished: {c.created} created, {c.updated} updated, {c.marked_leaver} marked as leavers, "
        f"{c.in_step} already in step, {c.not_syncing} not syncing, {c.conflicts} in conflict, {c.failed} failed"
        + (f", {c.deferred} deferred (quarantined)" if c.deferred else "")
        + ("; a listing was incomplete, so not everyone was seen" if c.incomplete_reads else ""),
        "INFO" if status is RunStatus.SUCCEEDED else "WARNING",
    )
    if not c.incomplete_reads and run.read_started_at and run.employee_ids is None:
        db.advance_change_feed(connection_id, run.read_started_at, full=bool(run.full_read))
    db.release_lock(connection_id, run_id, succeeded=status is RunStatus.SUCCEEDED)
    if status is RunStatus.SUCCEEDED and db.get_state(connection_id).get("quarantine"):
        db.clear_quarantine(connection_id)
        db.log(run_id, "Quarantine cleared: this run succeeded")
    _publish_metrics(run, c, status)
    return ended


def _publish_metrics(run: Run, c: RunCounters, status: RunStatus) -> None:
    """Counts and duration per run, per connection (ids only), flushed at once: runs that end in one worker
    batch keep a record each. A quarantined run also counts, without the connection, where its alarm looks."""
    per_run = EphemeralMetrics(namespace=METRICS_NAMESPACE, service=SERVICE)
    per_run.add_dimension(name="connection", value=run.connection_id)
    for name, value in (
        ("EmployeesCreated", c.created),
        ("EmployeesUpdated", c.updated),
        ("EmployeesMarkedLeaver", c.marked_leaver),
        ("EmployeesNotSyncing", c.not_syncing + c.conflicts),
        ("EmployeesFailed", c.failed),
    ):
        per_run.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if run.started_at:
        duration = (clock.now() - datetime.fromisoformat(run.started_at)).total_seconds()
        per_run.add_metric(name="RunDuration", unit=MetricUnit.Seconds, value=max(0.0, duration))
    per_run.flush_metrics()
    if status is RunStatus.QUARANTINED:
        alarm = EphemeralMetrics(namespace=METRICS_NAMESPACE, service=SERVICE)
        alarm.add_metric(name="ConnectionsQuarantined", unit=MetricUnit.Count, value=1)
        alarm.flush_metrics()
