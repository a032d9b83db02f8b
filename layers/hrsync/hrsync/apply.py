"""The worker's use case: apply one work item to the target, exactly once in effect.

The queue body holds ids only, so the worker reads the employee afresh from the source (never personal
data on the queue, and the newest values). Before acting it checks the employee is still pending for this
item's run: a redelivered or stale item does nothing. A create that is delivered again first looks for a user
already holding the reference (the target may have accepted an earlier attempt whose answer was lost).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hrsync import clock
from hrsync.context import OpenConnection, store, with_fresh_credentials
from hrsync.errors import AttemptInProgressError, RecordNotFoundError, RejectedBySystemError, TransientSystemError
from hrsync.idempotency import CreateKey, create_once, payload_hmac
from hrsync.models.connection import Connection
from hrsync.models.employee import Employee, EmploymentStatus, RecordRejection
from hrsync.models.records import EmployeeState, Failure, HistoryEntry, SyncStatus
from hrsync.models.work import Action, WorkItem
from hrsync.observability import logger
from hrsync.runs import DONE_COUNTER, finish_run_if_done
from hrsync.settings import get_settings
from hrsync.store.table import Store
from hrsync.sync.validate import not_syncing_reason

# Quarantine when over half of at least this many attempts at the target failed in one run.
QUARANTINE_MIN_CALLS = 20


@dataclass
class Batch:
    """What a worker reads once for a whole SQS batch, and the runs it must check when the batch is done.

    One BatchGetItem for the employees' states and one read of each connection's state (quarantine) replace
    two reads per item; the run-end check and the lease extension happen once per run per batch.
    """

    states: dict[tuple[str, str], EmployeeState] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    connection_states: dict[str, dict[str, Any]] = field(default_factory=dict)
    departments: dict[str, set[str] | None] = field(default_factory=dict)
    runs: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def prefetch(cls, items: list[WorkItem]) -> Batch:
        db = store()
        keys = sorted({(i.connection_id, i.employee_id) for i in items})
        states = {(s.connection_id, s.employee_id): s for s in db.employee_states_of(keys)}
        connection_ids = sorted({i.connection_id for i in items})
        return cls(
            states=states,
            connections={c: db.get_connection(c) for c in connection_ids},
            connection_states={c: db.get_state(c) for c in connection_ids},
            departments={c: _as_set(db.get_lookup(c, "departments")) for c in connection_ids},
        )

    def settle(self) -> None:
        """End each run this batch touched if nothing is left pending, and keep its lease alive otherwise."""
        db = store()
        lease = get_settings().run_lease_seconds
        for connection_id, run_id in sorted(self.runs):
            if finish_run_if_done(db, connection_id, run_id) is None:
                db.extend_lease(connection_id, run_id, lease)


def apply_work_item(
    item: WorkItem,
    *,
    receive_count: int = 1,
    deadline: Callable[[], float] | None = None,
    batch: Batch | None = None,
) -> None:
    """Apply one item. Raises TransientSystemError when it should be tried again later (batch failure).

    Without a `batch` (a single item) the reads happen here and the run is checked at once."""
    single = batch is None
    batch = batch or Batch.prefetch([item])
    db = store()
    state = pending_state(item, batch.states.get((item.connection_id, item.employee_id)))
    if state is None:
        return
    batch.runs.add((item.connection_id, item.run_id))
    try:
        _apply_pending(db, item, state, receive_count, deadline, batch)
    finally:
        if single:
            batch.settle()


def _apply_pending(
    db: Store,
    item: WorkItem,
    state: EmployeeState,
    receive_count: int,
    deadline: Callable[[], float] | None,
    batch: Batch,
) -> None:
    quarantine = batch.connection_states.get(item.connection_id, {}).get("quarantine")
    if quarantine and quarantine.get("run_id") == item.run_id:
        _defer(item, state, quarantine["reason"])
        return
    try:
        outcome = with_fresh_credentials(
            item.connection_id,
            lambda o: _apply(o, item, state, receive_count, batch.departments.get(item.connection_id)),
            deadline,
            batch.connections.get(item.connection_id),
        )
    except RejectedBySystemError as exc:
        finish_item(
            item,
            state,
            SyncStatus.FAILED,
            str(exc),
            counter="failed",
            failure_class="rejected",
            attempts=receive_count,
            target_calls=1,
        )
        return
    except AttemptInProgressError:
        raise  # no call was made: nothing to count against the target
    except TransientSystemError as exc:
        db.note_attempt_failed(item.connection_id, item.employee_id, item.run_id, str(exc))
        calls, failures = db.count_target_call(item.connection_id, item.run_id, failed=True)
        if calls >= QUARANTINE_MIN_CALLS and failures * 2 > calls:
            why = f"{failures} of {calls} calls to the target failed in run {item.run_id} (last: {exc})"
            if db.quarantine(item.connection_id, item.run_id, why):
                db.log(item.run_id, f"Connection quarantined: {why}; the remaining changes are deferred", "ERROR")
            _defer(item, state, why)
            return
        raise
    status, reason, target_id, counter = outcome
    finish_item(item, state, status, reason, counter=counter, target_id=target_id, target_calls=1)


def pending_state(item: WorkItem, state: EmployeeState | None = None) -> EmployeeState | None:
    """The employee's state if this item is still pending for its run; None (logged) for a stale or finished one.
    `state` is the state already read (a worker's batch); otherwise it is read here."""
    if state is None:
        state = store().get_employee_state(item.connection_id, item.employee_id)
    if state is None or state.run_id != item.run_id or state.pending_action != item.action.value:
        logger.info(
            "stale or finished work item ignored", extra={"run_id": item.run_id, "employee_id": item.employee_id}
        )
        return None
    return state


def _defer(item: WorkItem, state: EmployeeState, reason: str) -> None:
    """Leave the change for a later run: the target is failing for most calls, so retrying now only hurts."""
    finish_item(item, state, SyncStatus.NOT_SYNCING, f"deferred: connection quarantined ({reason})", counter="deferred")


def _as_set(entries: list[str] | None) -> set[str] | None:
    return set(entries) if entries is not None else None


def _apply(
    opened: OpenConnection, item: WorkItem, state: EmployeeState, receive_count: int, departments: set[str] | None
) -> tuple[SyncStatus, str | None, str | None, str]:
    policy = opened.policy
    try:
        employee = opened.source.get_employee(item.employee_id)
    except RecordNotFoundError:
        return SyncStatus.NOT_SYNCING, f"no longer in {policy.source_name}", state.target_id, "not_syncing"
    if isinstance(employee, RecordRejection):
        invalid = f"{policy.source_name} record is invalid: field {employee.field}: {employee.reason}"
        return SyncStatus.NOT_SYNCING, invalid, state.target_id, "not_syncing"
    missing = not_syncing_reason(employee, policy.required_fields)
    if missing:
        return SyncStatus.NOT_SYNCING, missing, state.target_id, "not_syncing"

    leaver = employee.status is EmploymentStatus.FORMER
    if (item.action is Action.MARK_LEAVER) != leaver:
        # Payroll changed between the plan and now (a leaver re-hired, a starter left): the next run re-plans it.
        changed = "is no longer a leaver" if item.action is Action.MARK_LEAVER else "has left"
        return (
            SyncStatus.NOT_SYNCING,
            f"{changed} in {policy.source_name} since the run planned",
            state.target_id,
            "not_syncing",
        )

    # The department is sent only while ExpenseIn has it (the run stored the references it read): a code
    # that changed to an unknown one since the plan leaves the user's department as it is.
    fields = tuple(
        f for f in item.fields if f != "department_code" or (departments and employee.department_code in departments)
    )
    target_id: str | None = item.target_id
    if item.action is Action.CREATE:
        existing = _already_created(opened, employee) if receive_count > 1 else None
        if existing is not None:
            logger.info("create found already applied; linking", extra={"employee_id": item.employee_id})
            target_id = existing
        else:
            key = CreateKey(
                connection_id=item.connection_id,
                run_id=item.run_id,
                employee_id=item.employee_id,
                action=item.action.value,
                payload_hmac=payload_hmac(opened.secret, employee.model_dump(mode="json", include=set(fields))),
            )
            target_id = create_once(key, lambda: opened.target.create(employee, fields))
    elif item.action is Action.UPDATE and target_id and fields:
        opened.target.update(target_id, employee, fields)
    elif item.action is Action.MARK_LEAVER and target_id:
        opened.target.mark_leaver(target_id, employee.leave_date or date.today())
    return SyncStatus.SUCCESSFUL, None, target_id, DONE_COUNTER[item.action]


def _already_created(opened: OpenConnection, employee: Employee) -> str | None:
    for found in opened.target.find(code=employee.code):
        if found.code == employee.code:
            return found.id
    return None


def finish_item(
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
) -> bool:
    """Record the item's end, once (False when it had already ended). The caller checks whether the run is done."""
    db = store()
    now = clock.iso()
    new = state.model_copy(
        update={
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
    if not db.finish_item(new, entry, counter, failure=failure, target_calls=target_calls):
        logger.info("work item already finished", extra={"run_id": item.run_id, "employee_id": item.employee_id})
        return False
    return True
