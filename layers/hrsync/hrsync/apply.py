"""The worker's use case: apply one work item to the target, exactly once in effect.

The queue body holds ids only, so the worker reads the employee afresh from the source (never personal
data on the queue, and the newest values). Before acting it checks the employee is still pending for this
item's run: a redelivered or stale item does nothing. A create that is delivered again first looks for a user
already holding the reference (the target may have accepted an earlier attempt whose answer was lost).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from hrsync import clock
from hrsync.context import OpenConnection, store, with_fresh_credentials
from hrsync.errors import RecordNotFoundError, RejectedBySystemError, TransientSystemError
from hrsync.idempotency import CreateKey, create_once, payload_hmac
from hrsync.models.employee import Employee, EmploymentStatus, RecordRejection
from hrsync.models.records import EmployeeState, Failure, HistoryEntry, SyncStatus
from hrsync.models.work import Action, WorkItem
from hrsync.observability import logger
from hrsync.runs import DONE_COUNTER, finish_run_if_done
from hrsync.settings import get_settings
from hrsync.sync.validate import not_syncing_reason

# Quarantine when over half of at least this many attempts at the target failed in one run.
QUARANTINE_MIN_CALLS = 20


def apply_work_item(item: WorkItem, *, receive_count: int = 1, deadline: Callable[[], float] | None = None) -> None:
    """Apply one item. Raises TransientSystemError when it should be tried again later (batch failure)."""
    db = store()
    state = pending_state(item)
    if state is None:
        return
    quarantine = db.get_state(item.connection_id).get("quarantine")
    if quarantine and quarantine.get("run_id") == item.run_id:
        _defer(item, state, quarantine["reason"])
        return
    try:
        outcome = with_fresh_credentials(item.connection_id, lambda o: _apply(o, item, state, receive_count), deadline)
    except RejectedBySystemError as exc:
        finish_item(
            item,
            state,
            SyncStatus.FAILED,
            str(exc),
            counter="failed",
            failure_class="rejected",
            attempts=receive_count,
        )
        return
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
    db.count_target_call(item.connection_id, item.run_id, failed=False)
    status, reason, target_id, counter = outcome
    finish_item(item, state, status, reason, counter=counter, target_id=target_id)
    db.extend_lease(item.connection_id, item.run_id, get_settings().run_lease_seconds)


def pending_state(item: WorkItem) -> EmployeeState | None:
    """The employee's state if this item is still pending for its run; None (logged) for a stale or finished one."""
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


def _apply(
    opened: OpenConnection, item: WorkItem, state: EmployeeState, receive_count: int
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

    target_id: str | None = item.target_id
    if item.action is Action.CREATE:
        existing = _already_created(opened, employee) if receive_count > 1 else None
        if existing is not None:
            logger.info("create found already applied; linking", extra={"employee_id": item.employee_id})
            target_id = existing
        else:
            key = CreateKey(
                connection_id=item.connection_id,
                employee_id=item.employee_id,
                action=item.action.value,
                payload_hmac=payload_hmac(opened.secret, employee.model_dump(mode="json", include=set(item.fields))),
            )
            target_id = create_once(key, lambda: opened.target.create(employee, item.fields))
    elif item.action is Action.UPDATE and target_id:
        opened.target.update(target_id, employee, item.fields)
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
) -> None:
    """Record the item's end (once) and end the run if it was the last."""
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
    if not db.finish_item(new, entry, counter, failure=failure):
        logger.info("work item already finished", extra={"run_id": item.run_id, "employee_id": item.employee_id})
        return
    finish_run_if_done(db, item.connection_id, item.run_id)
