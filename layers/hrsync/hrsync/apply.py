"""The worker's use case: apply work items to the target, exactly once in effect, many at a time.

The queue holds ids only, so the worker reads each employee afresh from the source (never personal data on
the queue, and the newest values). Before acting it checks the employee is still pending for the item's run:
a redelivered or stale item does nothing. For a batch of items the DynamoDB work is batched too: one
BatchGetItem for the states and connections, one conditional put that claims a message with creates (so two
deliveries of one message never both create), and transactions of up to 100 actions for the ends. A create
delivered again first looks for a user already holding the reference (the target may have accepted an
earlier attempt whose answer was lost).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from hrsync import clock
from hrsync.context import OpenConnection, open_connection, store, with_fresh_credentials
from hrsync.errors import (
    AttemptInProgressError,
    HrsyncError,
    RecordNotFoundError,
    RejectedBySystemError,
    TransientSystemError,
)
from hrsync.models.employee import Employee, EmploymentStatus, RecordRejection
from hrsync.models.records import EmployeeState, Failure, HistoryEntry, SyncStatus
from hrsync.models.work import Action, WorkItem
from hrsync.observability import logger
from hrsync.runs import DONE_COUNTER, finish_run_if_done
from hrsync.settings import get_settings
from hrsync.store.table import Finish, Store, WorkerConnection
from hrsync.sync import incremental
from hrsync.sync.assigned import with_assignments
from hrsync.sync.plan import MatchKey
from hrsync.sync.validate import not_syncing_reason

# Quarantine when over half of at least this many attempts at the target failed in one run.
QUARANTINE_MIN_CALLS = 20
# Items of one invocation in flight at once. The target's rate budget paces them; this only has to cover
# its latency (a 200/s target at 80 ms a change needs 16 in flight across the workers).
ITEM_THREADS = 32
# An item is not started with less time than this left in the invocation: it waits for the next delivery.
MIN_SECONDS_TO_START = 5.0


@lru_cache(maxsize=1)
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=ITEM_THREADS, thread_name_prefix="item")


@dataclass
class Batch:
    """What a worker reads once for a whole SQS batch, and the runs it must check when the batch is done."""

    states: dict[tuple[str, str], EmployeeState] = field(default_factory=dict)
    connections: dict[str, WorkerConnection] = field(default_factory=dict)
    runs: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def prefetch(cls, items: list[WorkItem]) -> Batch:
        """Read the batch's states and connections, and meanwhile open the connections' systems (their
        credentials and clients): a new worker's first batch spent a second doing one after the other."""
        keys = sorted({(i.connection_id, i.employee_id) for i in items})
        connection_ids = sorted({i.connection_id for i in items})
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="open") as side:
            side.submit(_open_each, connection_ids)
            states, connections = store().worker_view(keys, connection_ids)
        return cls(states=states, connections=connections)

    def settle(self) -> None:
        """End each run this batch touched if nothing is left pending, and keep its lease alive otherwise
        (written only once half of it has gone)."""
        db = store()
        lease = get_settings().run_lease_seconds
        for connection_id, run_id in sorted(self.runs):
            if finish_run_if_done(db, connection_id, run_id) is not None:
                continue
            state = self.connections[connection_id].state if connection_id in self.connections else {}
            expires = int(state.get("lock_expires_at", 0)) if state.get("lock_run_id") == run_id else 0
            if expires - clock.epoch() < lease // 2:
                db.extend_lease(connection_id, run_id, lease)


def _open_each(connection_ids: list[str]) -> None:
    """Open each connection ahead of its items; one that cannot be opened is left to them, which report it."""
    for connection_id in connection_ids:
        try:
            open_connection(connection_id)
        except HrsyncError:
            continue


def apply_work_item(
    item: WorkItem,
    *,
    receive_count: int = 1,
    deadline: Callable[[], float] | None = None,
    batch: Batch | None = None,
) -> None:
    """Apply one item (see apply_items)."""
    apply_items([item], receive_count=receive_count, deadline=deadline, batch=batch)


def apply_items(
    items: list[WorkItem],
    *,
    receive_count: int = 1,
    deadline: Callable[[], float] | None = None,
    batch: Batch | None = None,
) -> None:
    """Apply the items of one message concurrently and record their ends. Raises TransientSystemError (or
    AttemptInProgressError) when any of them should be tried again later; the others are recorded first, so
    the message's next delivery skips them. Without a `batch` the reads happen here and the runs are checked
    at once."""
    single = batch is None
    batch = batch or Batch.prefetch(items)
    try:
        _apply_items(store(), items, receive_count, deadline, batch)
    finally:
        if single:
            batch.settle()


def _apply_items(
    db: Store, items: list[WorkItem], receive_count: int, deadline: Callable[[], float] | None, batch: Batch
) -> None:
    pending: list[tuple[WorkItem, EmployeeState]] = []
    for item in items:
        state = pending_state(item, batch.states.get((item.connection_id, item.employee_id)), prefetched=True)
        if state is not None:
            pending.append((item, state))
            with batch._lock:
                batch.runs.add((item.connection_id, item.run_id))
    finishes: list[Finish] = []
    retry: list[Exception] = []
    attempts: list[tuple[WorkItem, EmployeeState]] = []
    for item, state in pending:
        quarantine = batch.connections[item.connection_id].state.get("quarantine")
        if quarantine and quarantine.get("run_id") == item.run_id:
            finishes.append(_deferred(item, state, quarantine["reason"]))
        else:
            attempts.append((item, state))

    claim = None
    if any(item.action is Action.CREATE for item, _ in attempts):
        claim = claim_id(items)
        left = deadline() if deadline else 900.0
        if not db.claim_work(claim, clock.epoch() + int(left) + 10):
            retry.append(AttemptInProgressError("another attempt at this message's creates is still running"))
            attempts = []

    def attempt(pair: tuple[WorkItem, EmployeeState]) -> Finish | Exception:
        item, state = pair
        if deadline is not None and deadline() < MIN_SECONDS_TO_START:
            return TransientSystemError(f"employee {item.employee_id}: no time left in this invocation")
        try:
            return _attempt(db, item, state, receive_count, deadline, batch)
        except (TransientSystemError, AttemptInProgressError) as exc:
            return exc

    for outcome in _executor().map(attempt, attempts):
        if isinstance(outcome, Finish):
            finishes.append(outcome)
        else:
            retry.append(outcome)
    if finishes:
        for finish, done in zip(finishes, db.finish_items(finishes), strict=True):
            if not done:
                logger.info(
                    "work item already finished",
                    extra={"run_id": finish.entry.run_id, "employee_id": finish.state.employee_id},
                )
    if retry:
        if claim is not None and attempts:
            db.release_work(claim)  # this attempt is over and recorded: the next delivery may go at once
        raise retry[0]


def claim_id(items: list[WorkItem]) -> str:
    """The same for every delivery of one message: its run and a digest of its items."""
    digest = hashlib.sha256(json.dumps([i.model_dump(mode="json") for i in items], sort_keys=True).encode())
    return f"{items[0].run_id}#{digest.hexdigest()[:32]}"


def _attempt(
    db: Store,
    item: WorkItem,
    state: EmployeeState,
    receive_count: int,
    deadline: Callable[[], float] | None,
    batch: Batch,
) -> Finish:
    seen = batch.connections[item.connection_id]
    try:
        status, reason, target_id, counter, seen_as = with_fresh_credentials(
            item.connection_id,
            lambda o: _apply(o, item, state, receive_count, seen.departments),
            deadline,
            seen.connection,
        )
    except RejectedBySystemError as exc:
        return _finish(
            item,
            state,
            SyncStatus.FAILED,
            str(exc),
            counter="failed",
            failure_class="rejected",
            attempts=receive_count,
            target_calls=1,
        )
    except TransientSystemError as exc:
        db.note_attempt_failed(item.connection_id, item.employee_id, item.run_id, str(exc), action=item.action.value)
        calls, failures = db.count_target_call(item.connection_id, item.run_id, failed=True)
        if calls >= QUARANTINE_MIN_CALLS and failures * 2 > calls:
            why = f"{failures} of {calls} calls to the target failed in run {item.run_id} (last: {exc})"
            if db.quarantine(item.connection_id, item.run_id, why):
                db.log(item.run_id, f"Connection quarantined: {why}; the remaining changes are deferred", "ERROR")
            return _deferred(item, state, why)
        raise
    return _finish(item, state, status, reason, counter=counter, target_id=target_id, target_calls=1, seen_as=seen_as)


def pending_state(
    item: WorkItem, state: EmployeeState | None = None, *, prefetched: bool = False
) -> EmployeeState | None:
    """The employee's state if this item is still pending for its run; None (logged) for a stale or finished one.
    `state` is the state already read (`prefetched`: a worker's batch); otherwise it is read here."""
    if state is None and not prefetched:
        state = store().get_employee_state(item.connection_id, item.employee_id)
    if state is None or state.run_id != item.run_id or state.pending_action != item.action.value:
        logger.info(
            "stale or finished work item ignored", extra={"run_id": item.run_id, "employee_id": item.employee_id}
        )
        return None
    return state


def _deferred(item: WorkItem, state: EmployeeState, reason: str) -> Finish:
    """Leave the change for a later run: the target is failing for most calls, so retrying now only hurts."""
    return _finish(
        item, state, SyncStatus.NOT_SYNCING, f"deferred: connection quarantined ({reason})", counter="deferred"
    )


@dataclass(frozen=True)
class SeenAs:
    """For the next incremental run: the source status the employee was applied with, and the fingerprint of
    the target record as this change left it (None when that is not known for sure)."""

    source_status: str
    fingerprint: str | None


Applied = tuple[SyncStatus, str | None, str | None, str, SeenAs | None]


def _apply(
    opened: OpenConnection, item: WorkItem, state: EmployeeState, receive_count: int, departments: set[str] | None
) -> Applied:
    policy = opened.policy
    try:
        employee = opened.source.get_employee(item.employee_id)
    except RecordNotFoundError:
        return SyncStatus.NOT_SYNCING, f"no longer in {policy.source_name}", state.target_id, "not_syncing", None
    if isinstance(employee, RecordRejection):
        invalid = f"{policy.source_name} record is invalid: field {employee.field}: {employee.reason}"
        return SyncStatus.NOT_SYNCING, invalid, state.target_id, "not_syncing", None
    employee = with_assignments(employee, state)
    missing = not_syncing_reason(employee, policy.required_fields)
    if missing:
        return SyncStatus.NOT_SYNCING, missing, state.target_id, "not_syncing", None

    leaver = employee.status is EmploymentStatus.FORMER
    if (item.action is Action.MARK_LEAVER) != leaver:
        # Payroll changed between the plan and now (a leaver re-hired, a starter left): the next run re-plans it.
        changed = "is no longer a leaver" if item.action is Action.MARK_LEAVER else "has left"
        return (
            SyncStatus.NOT_SYNCING,
            f"{changed} in {policy.source_name} since the run planned",
            state.target_id,
            "not_syncing",
            None,
        )

    # The department is sent only while ExpenseIn has it (the run stored the references it read): a code
    # that changed to an unknown one since the plan leaves the user's department as it is.
    fields = tuple(
        f
        for f in item.fields
        if f != "department_code"
        or not policy.department_lookup
        or (departments and employee.department_code in departments)
    )
    target_id: str | None = item.target_id
    fingerprint = None
    if item.action is Action.CREATE:
        existing = _already_created(opened, employee) if receive_count > 1 else None
        if existing is not None:
            logger.info("create found already applied; linking", extra={"employee_id": item.employee_id})
            target_id = existing
        else:
            target_id = opened.target.create(employee, fields)
            # A new user holds what was sent and nothing else in the synced fields.
            held = {name: getattr(employee, name) if name in fields else None for name in policy.synced_fields}
            fingerprint = incremental.fingerprint(opened.secret, held)
    elif item.action is Action.UPDATE and target_id and fields:
        opened.target.update(target_id, employee, fields)
    elif item.action is Action.MARK_LEAVER and target_id:
        opened.target.mark_leaver(target_id, employee.leave_date or date.today())
    seen_as = SeenAs(employee.status.value, fingerprint)
    return SyncStatus.SUCCESSFUL, None, target_id, DONE_COUNTER[item.action], seen_as


def _already_created(opened: OpenConnection, employee: Employee) -> str | None:
    if opened.policy.match_on is MatchKey.EMAIL:
        # what hrsync creates carries the employee's id as its external id
        found_by_email = opened.target.find(email=employee.email) if employee.email else []
        return next((found.id for found in found_by_email if found.external_id == employee.id), None)
    if not employee.code:
        return None
    for found in opened.target.find(code=employee.code):
        if found.code == employee.code:
            return found.id
    return None


def _finish(
    item: WorkItem,
    state: EmployeeState,
    status: SyncStatus,
    reason: str | None,
    *,
    counter: str,
    target_id: str | None = None,
    failure_class: str | None = None,
    attempts: int = 1,
    target_calls: int = 0,
    seen_as: SeenAs | None = None,
) -> Finish:
    """The record of an item's end: the employee's new state, its history entry and any failure for review."""
    now = clock.iso()
    new = state.model_copy(
        update={
            "source_status": seen_as.source_status if seen_as else state.source_status,
            "fingerprint": seen_as.fingerprint if seen_as else None,
            "status": status,
            "reason": reason,
            "target_id": target_id or state.target_id,
            "matched_by": state.matched_by or ("created" if item.action is Action.CREATE else None),
            "pending_action": None,
            "last_error": reason if status is SyncStatus.FAILED else None,
            "updated_at": now,
        }
    )
    entry = HistoryEntry(
        time=now,
        run_id=item.run_id,
        action=item.action.value,
        fields=list(item.fields),
        outcome=status,
        reason=reason,
    )
    failure = None
    if status is SyncStatus.FAILED:
        failure = Failure(
            failure_id=clock.new_id(),
            connection_id=item.connection_id,
            employee_id=item.employee_id,
            run_id=item.run_id,
            action=item.action.value,
            reason=reason or "failed",
            failure_class=failure_class or "unknown",
            attempts=attempts,
            time=now,
        )
    return Finish(new, entry, counter, failure, target_calls)


def finish_item(
    item: WorkItem,
    state: EmployeeState,
    status: SyncStatus,
    reason: str | None,
    *,
    counter: str,
    failure_class: str | None = None,
    attempts: int = 1,
) -> bool:
    """Record one item's end, once (False when it had already ended). The caller checks whether the run is done."""
    finish = _finish(item, state, status, reason, counter=counter, failure_class=failure_class, attempts=attempts)
    if not store().finish_items([finish])[0]:
        logger.info("work item already finished", extra={"run_id": item.run_id, "employee_id": item.employee_id})
        return False
    return True
