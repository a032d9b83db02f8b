"""micropay-worknice's run steps and the conflict resolution: data groups moved one way or merged both ways.

Read: every MicrOpay employee and every Worknice person (the plan links them by employee ID). Then, once the
plan's states are recorded, `sync_data_groups` reads both sides again (the values as they are now) and, per
linked employee and data group, computes the writes (sync/merge.py: one way, or a three-way merge against the
stored per-field base) and sends them: to Worknice with updatePerson, to MicrOpay with ChangeEmployeeImmediate
for contact fields and ChangeEmployee (payroll's approval) for pay fields such as tax. A field's base moves
only when both sides hold the same value: at once after a write both sides now hold, and for a change waiting
for payroll's approval when a later run finds MicrOpay holding it (until then it is not sent again).
A field changed differently on both sides is a conflict on the report (names and digests, never values),
settled by the group's `prefer` option or through `POST /connections/{id}/conflicts/{conflict_id}/resolve`.
A Worknice bank split in percentages is compared and sent as MicrOpay's fixed amounts of the employee's standard
net pay (`as_fixed_amounts`, sync/bank.py); when it cannot be converted the bank group sends nothing, and the plan
has already made that employee NOT_SYNCING (`bank_split_reason`) where the group reads Worknice.
Person connections in Worknice are kept in step with the links, and a run that wrote anything to either system
or changed a person connection ends with completeIntegrationSync (see `_keep_person_connections`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from hrsync import clock
from hrsync.connectors.base import RunRead, UploadCounts
from hrsync.errors import ExternalSystemError
from hrsync.models.employee import Employee, EmploymentStatus
from hrsync.models.records import (
    Conflict,
    ConflictKind,
    EmployeeState,
    Failure,
    HistoryEntry,
    PayrollChange,
    PayrollChangeState,
    Run,
    SyncStatus,
)
from hrsync.observability import logger
from hrsync.sync.bank import PAY_UNKNOWN, BankSplitError, fixed_amounts, in_percentages
from hrsync.sync.groups import FIELD_GROUPS, directions, integration_id, prefer
from hrsync.sync.merge import (
    Direction,
    FieldConflict,
    MergeResult,
    Side,
    Write,
    conflict_id,
    field_digest,
    merge_fields,
    one_way,
)
from hrsync.systems.micropay import PAY_FIELDS, STANDARD_NET_PAY, MicrOpay
from hrsync.systems.worknice import Person, Worknice

if TYPE_CHECKING:
    from hrsync.context import OpenConnection
    from hrsync.store.table import Store

NEW_EMPLOYEE = "new_employee"  # the payroll change that tracks a new starter in the wizard
SIDE_NAMES: dict[Side, str] = {"source": "MicrOpay", "target": "Worknice"}


def systems_of(opened: OpenConnection) -> tuple[MicrOpay, Worknice]:
    return cast(MicrOpay, opened.source), cast(Worknice, opened.target)


def read_both_sides(
    opened: OpenConnection, db: Store, run: Run, states: Mapping[str, EmployeeState], feed: dict[str, object]
) -> RunRead:
    """Every MicrOpay employee and every Worknice person, for the plan to link by employee ID."""
    started = clock.iso()
    micropay, worknice = systems_of(opened)
    db.log(run.run_id, "Reading MicrOpay employees and Worknice people")
    source = micropay.list_employees()
    target = worknice.list_records()
    return RunRead(
        source=source,
        target=target,
        departments=None,
        started_at=started,
        full=True,
        details_read=len(source.records),
    )


def values_of(record: Employee, fields: tuple[str, ...]) -> dict[str, object]:
    return {name: getattr(record, name) for name in fields}


def as_fixed_amounts(source: Employee, target: Employee) -> Employee | None:
    """`target` (a Worknice person) with its bank split as MicrOpay's fixed amounts: a split in percentages is
    converted against `source`'s (MicrOpay's) standard net pay. None when it cannot be (never a guessed amount)."""
    if not in_percentages(target.bank_split):
        return target
    try:
        converted = fixed_amounts(target.bank_split or (), source.standard_net_pay)
    except BankSplitError:
        return None
    return target.model_copy(update={"bank_accounts": converted.accounts})


def bank_split_reason(source: Employee, target: Employee) -> str | None:
    """Why a Worknice bank split cannot be sent to MicrOpay (the plan's NOT_SYNCING reason), or None when it can.
    Names the fields, never an amount, a percentage or an account."""
    if not in_percentages(target.bank_split):
        return None
    try:
        fixed_amounts(target.bank_split or (), source.standard_net_pay)
    except BankSplitError as exc:
        if str(exc) == PAY_UNKNOWN:
            return (
                "bank accounts: Worknice splits this employee's pay by percentage (bankAccounts.percentage) and "
                f"MicrOpay holds no standard net pay ({STANDARD_NET_PAY}) to convert it to the fixed amounts MicrOpay "
                "takes; nothing is sent until payroll sets it or Worknice holds fixed amounts"
            )
        return (
            "bank accounts: Worknice's split in percentages (bankAccounts.percentage) cannot be converted to "
            f"MicrOpay's fixed amounts: {exc}; nothing is sent until it is corrected in Worknice"
        )
    return None


def merge_employee(
    source: Employee, target: Employee, state: EmployeeState, opened: OpenConnection
) -> tuple[MergeResult, dict[str, str]]:
    """Every field group's writes and conflicts for one linked employee, and the data group of each field."""
    connection = opened.connection
    digest = field_digest(opened.secret)
    chosen = directions(connection)
    writes: list[Write] = []
    conflicts: list[FieldConflict] = []
    agreed: dict[str, str] = {}
    group_of: dict[str, str] = {}
    comparable = as_fixed_amounts(source, target)
    for group, fields in FIELD_GROUPS.items():
        direction = chosen[group]
        group_of.update(dict.fromkeys(fields, group))
        if comparable is None and group == "bank" and direction is not Direction.SOURCE_TO_TARGET:
            # Never a guessed amount. The plan holds such an employee NOT_SYNCING; a split that became
            # unconvertible since the plan read it waits for the next run's plan.
            continue
        s_values, t_values = values_of(source, fields), values_of(comparable or target, fields)
        if direction is Direction.TWO_WAY:
            result = merge_fields(
                s_values, t_values, state.merge_base, fields, digest, prefer=prefer(connection, group)
            )
        else:
            result = one_way(s_values, t_values, state.merge_base, fields, digest, direction)
        writes += result.writes
        conflicts += result.conflicts
        agreed.update(result.agreed)
    return MergeResult(tuple(writes), tuple(conflicts), agreed), group_of


def send_writes(
    micropay: MicrOpay,
    worknice: Worknice,
    source: Employee,
    target: Employee,
    writes: tuple[Write, ...],
    base: dict[str, str],
    pending: dict[str, str],
) -> list[str]:
    """Send `writes` (to Worknice in one updatePerson; to MicrOpay at once, or for approval when the field
    affects pay) and move `base` / `pending` as they land. Returns "field -> System" for the history."""
    sent: list[str] = []
    to_target = [w for w in writes if w.to == "target"]
    if to_target:
        update = target.model_copy(update={w.name: w.value for w in to_target})
        worknice.update_person(target.id, update, tuple(w.name for w in to_target))
        for w in to_target:
            base[w.name] = w.digest
            sent.append(f"{w.name} -> Worknice")
    to_source = [w for w in writes if w.to == "source"]
    immediate = [w for w in to_source if w.name not in PAY_FIELDS]
    for_approval = [w for w in to_source if w.name in PAY_FIELDS and pending.get(w.name) != w.digest]
    if immediate:
        update = source.model_copy(update={w.name: w.value for w in immediate})
        micropay.change_employee_immediate(update, tuple(w.name for w in immediate))
        for w in immediate:
            base[w.name] = w.digest
            pending.pop(w.name, None)
            sent.append(f"{w.name} -> MicrOpay")
    if for_approval:
        update = source.model_copy(update={w.name: w.value for w in for_approval})
        micropay.change_employee(update, tuple(w.name for w in for_approval))
        for w in for_approval:
            pending[w.name] = w.digest  # the base moves once payroll has applied it
            sent.append(f"{w.name} -> MicrOpay (for payroll's approval)")
    return sent


def _field_conflict(run_id: str, state: EmployeeState, group: str, conflict: FieldConflict) -> Conflict:
    return Conflict(
        conflict_id=conflict_id(state.employee_id, group, conflict.name),
        kind=ConflictKind.CHANGED_ON_BOTH_SIDES,
        reason=(
            f"{conflict.name} ({group}) was changed differently in MicrOpay and in Worknice since they last agreed; "
            "nothing was written to either side. Resolve with POST .../resolve {winner: source (MicrOpay) | "
            "target (Worknice)}, or set options.prefer for the group"
        ),
        code=state.code,
        employee_ids=[state.employee_id],
        target_ids=[state.target_id] if state.target_id else [],
        run_id=run_id,
        group=group,
        field=conflict.name,
        source_digest=conflict.source_digest,
        target_digest=conflict.target_digest,
        base_digest=conflict.base,
    )


def sync_data_groups(opened: OpenConnection, db: Store, run: Run, states: dict[str, EmployeeState]) -> UploadCounts:
    """The upload step: move every linked employee's data groups and put new hires in MicrOpay's wizard.

    Counts for the run: linked employees that fail here (the plan counted them in step) and the new hires, whom
    the plan never saw since MicrOpay does not hold them."""
    micropay, worknice = systems_of(opened)
    connection_id, run_id = run.connection_id, run.run_id
    current = db.employee_states(connection_id)  # as the plan just recorded them: links made this run too
    only = set(run.employee_ids) if run.employee_ids else None
    source = {e.id: e for e in micropay.list_employees().records}
    people, _ = worknice.list_people()
    target = {p.employee.id: p.employee for p in people}
    hires, submitted = new_hires(opened, db, run, people, set(source), current)
    # Linked employees both systems still hold: the plan just counted each of them in step. One gone since the
    # plan read it is left to the next run's plan, which says why.
    linked = {
        eid: s
        for eid, s in current.items()
        if s.target_id
        and s.status is SyncStatus.SUCCESSFUL
        and (only is None or eid in only)
        and eid in source
        and s.target_id in target
    }
    if not linked:
        if submitted or hires.failed:  # a failed write may have landed (a timeout), as below
            complete_integration_sync(opened, db, run_id)
        return hires
    now = clock.iso()
    conflicts: list[Conflict] = []
    changed: list[EmployeeState] = []
    history: list[tuple[EmployeeState, HistoryEntry]] = []
    failures: list[Failure] = []
    to_source = to_target = 0
    failed_ids: set[str] = set()
    for eid, state in sorted(linked.items()):
        s, t = source[eid], target[state.target_id or ""]
        result, group_of = merge_employee(s, t, state, opened)
        conflicts += [_field_conflict(run_id, state, group_of[c.name], c) for c in result.conflicts]
        base = {**state.merge_base, **result.agreed}
        pending = {k: v for k, v in state.merge_pending.items() if k not in result.agreed}
        warnings = [f"{c.name} is in conflict: see the conflicts report" for c in result.conflicts]
        try:
            sent = send_writes(micropay, worknice, s, t, result.writes, base, pending)
        except ExternalSystemError as exc:
            reason = f"could not send {', '.join(sorted({w.name for w in result.writes}))}: {exc}"
            new = state.model_copy(update={"status": SyncStatus.FAILED, "reason": reason, "updated_at": now})
            changed.append(new)
            history.append((new, HistoryEntry(time=now, run_id=run_id, outcome=SyncStatus.FAILED, reason=reason)))
            failed_ids.add(eid)
            failures.append(
                Failure(
                    failure_id=clock.new_id(),
                    connection_id=connection_id,
                    employee_id=eid,
                    run_id=run_id,
                    action="two_way_sync",
                    reason=reason,
                    failure_class="target_write",
                    attempts=1,
                    time=now,
                )
            )
            continue
        to_source += sum(1 for w in sent if w.endswith("MicrOpay") or "MicrOpay (" in w)
        to_target += sum(1 for w in sent if w.endswith("Worknice"))
        if base == state.merge_base and pending == state.merge_pending and warnings == state.warnings and not sent:
            continue
        new = state.model_copy(
            update={"merge_base": base, "merge_pending": pending, "warnings": warnings, "updated_at": now}
        )
        changed.append(new)
        if sent:
            history.append(
                (new, HistoryEntry(time=now, run_id=run_id, action="two_way_sync", fields=sent, outcome=new.status))
            )
    db.put_employee_states(changed, history, failures)
    # after the groups' states are written, so the leave balances' digest is kept on top of them
    now_linked = {**linked, **{s.employee_id: s for s in changed}}
    leave_failures, leave_written = sync_leave(
        opened, db, run, {e: s for e, s in now_linked.items() if e not in failed_ids}
    )
    if conflicts:
        db.put_conflicts(connection_id, conflicts)
    db.log(
        run_id,
        f"Data groups: {to_target} fields sent to Worknice, {to_source} to MicrOpay, {len(conflicts)} in conflict, "
        f"{len(failures)} employees failed",
    )
    # a write that failed may have landed before the error (a timeout): counted as written
    wrote = bool(to_target or to_source or submitted or leave_written or failures or leave_failures or hires.failed)
    _keep_person_connections(opened, db, run_id, linked, wrote=wrote)
    failed = len(failures) + leave_failures
    return hires + UploadCounts(failed=failed, failed_in_step=failed)


LEAVE_REQUEST = "leave_request"  # the payroll change that records one Worknice leave request in MicrOpay


def sync_leave(opened: OpenConnection, db: Store, run: Run, linked: dict[str, EmployeeState]) -> tuple[int, int]:
    """Approved Worknice leave requests recorded in MicrOpay once each (a kept payroll change per request id),
    cancellations taken back; MicrOpay's leave balances set in Worknice (the categories the connection lets
    employees see), only when they changed. Returns how many employees failed and how many writes were made."""
    micropay, worknice = systems_of(opened)
    connection_id, run_id, now = run.connection_id, run.run_id, clock.iso()
    chosen = directions(opened.connection)
    by_person = {s.target_id: eid for eid, s in linked.items() if s.target_id}
    failed: dict[str, str] = {}
    recorded = cancelled = balances_set = 0
    if chosen["leave_requests"] is Direction.TARGET_TO_SOURCE and by_person:
        sent = {
            c.change_id: c
            for c in db.payroll_changes(connection_id)
            if LEAVE_REQUEST in c.fields and c.employee_id in linked
        }
        requests, rejected = worknice.leave_requests(("APPROVED", "CANCELLED"))
        for rejection in rejected:
            db.log(run_id, f"Worknice {rejection.position}: field {rejection.field} {rejection.reason}", "WARNING")
        for request in requests:
            eid = by_person.get(request.person_id)
            if eid is None or eid in failed:
                continue
            change_id = f"leave-{request.request_id}"
            done = sent.get(change_id)
            try:
                if request.status == "APPROVED" and done is None:
                    leave_id = micropay.record_leave(
                        eid, request.request_id, request.category, request.start_date, request.end_date, request.hours
                    )
                    change = PayrollChange(
                        connection_id=connection_id,
                        employee_id=eid,
                        change_id=change_id,
                        run_id=run_id,
                        fields=[LEAVE_REQUEST],
                        state=PayrollChangeState.APPLIED,
                        status_id=leave_id,
                        submitted_at=now,
                        keep=True,
                    )
                    db.put_payroll_change(change)
                    recorded += 1
                elif request.status == "CANCELLED" and done is not None and done.state is PayrollChangeState.APPLIED:
                    if done.status_id:
                        micropay.cancel_leave(done.status_id)
                    db.put_payroll_change(
                        done.model_copy(update={"state": PayrollChangeState.CANCELLED, "decided_at": now})
                    )
                    cancelled += 1
            except ExternalSystemError as exc:
                failed[eid] = f"leave request {request.request_id} could not be recorded in MicrOpay: {exc}"
    if chosen["leave_balances"] is Direction.SOURCE_TO_TARGET:
        visible = opened.connection.options.visible_leave_categories
        digest = field_digest(opened.secret)
        states: list[EmployeeState] = []
        for eid, state in sorted(linked.items()):
            if eid in failed:
                continue
            try:
                balances = micropay.leave_balances(eid)
                shown = {c: h for c, h in balances.items() if visible is None or c in visible}
                wanted = digest(LEAVE_BALANCES, {c: str(h) for c, h in sorted(shown.items())})
                if state.merge_base.get(LEAVE_BALANCES) == wanted:
                    continue
                if state.target_id:
                    worknice.set_leave_balances(state.target_id, shown)
                    balances_set += 1
                    states.append(
                        state.model_copy(
                            update={"merge_base": {**state.merge_base, LEAVE_BALANCES: wanted}, "updated_at": now}
                        )
                    )
            except ExternalSystemError as exc:
                failed[eid] = f"leave balances could not be set in Worknice: {exc}"
        db.put_employee_states(states)
    if recorded or cancelled or balances_set or failed:
        db.log(
            run_id,
            f"Leave: {recorded} requests recorded in MicrOpay, {cancelled} cancelled, "
            f"balances set for {balances_set} employees in Worknice, {len(failed)} employees failed",
        )
    failures = [
        Failure(
            failure_id=clock.new_id(),
            connection_id=connection_id,
            employee_id=eid,
            run_id=run_id,
            action="leave",
            reason=reason,
            failure_class="target_write",
            attempts=1,
            time=now,
        )
        for eid, reason in failed.items()
    ]
    down = [
        linked[eid].model_copy(update={"status": SyncStatus.FAILED, "reason": reason, "updated_at": now})
        for eid, reason in failed.items()
    ]
    db.put_employee_states(
        down, [(s, HistoryEntry(time=now, run_id=run_id, outcome=s.status, reason=s.reason)) for s in down], failures
    )
    return len(failed), recorded + cancelled + balances_set


LEAVE_BALANCES = "leave_balances"


NO_EMPLOYEE_ID = (
    "a Worknice person without an employee ID cannot become a MicrOpay employee: set their Employee ID in Worknice"
)
WAITING = "new employee waiting in MicrOpay's New Employee wizard for payroll to accept it"
ACCEPTED = "accepted by payroll as a new employee; linked by the next run"
REJECTED = "payroll rejected the new employee in MicrOpay's New Employee wizard; fix it in MicrOpay or Worknice"


def new_hires(
    opened: OpenConnection,
    db: Store,
    run: Run,
    people: list[Person],
    payroll_codes: set[str],
    current: dict[str, EmployeeState],
) -> tuple[UploadCounts, int]:
    """Worknice people MicrOpay does not hold yet: new starters, put in the New Employee wizard once (tracked as
    a payroll change until payroll decides), or NOT_SYNCING with the reason. Every one seen is counted, its state
    written or not (an unchanged state is not written again): the plan, which reads MicrOpay's employees, never
    saw them. Archived people MicrOpay does not hold are not seen: nothing is done for them. Also returns how many
    were put in the wizard by this run."""
    micropay, _ = systems_of(opened)
    connection_id, run_id, now = run.connection_id, run.run_id, clock.iso()
    submitted = {c.employee_id: c for c in db.payroll_changes(connection_id) if NEW_EMPLOYEE in c.fields}
    states: list[EmployeeState] = []
    history: list[tuple[EmployeeState, HistoryEntry]] = []
    failures: list[Failure] = []
    only = set(run.employee_ids) if run.employee_ids else None
    seen = not_syncing = submitted_now = 0
    for person in people:
        e = person.employee
        if e.status is EmploymentStatus.FORMER or (e.code and e.code in payroll_codes):
            continue
        employee_id = e.code or f"worknice-{e.id}"
        if only is not None and employee_id not in only:
            continue
        seen += 1
        status, reason = SyncStatus.NOT_SYNCING, NO_EMPLOYEE_ID
        if e.code:
            change = submitted.get(e.code)
            missing = [name for name in ("first_name", "last_name") if not getattr(e, name)]
            try:
                if change is not None and change.state is PayrollChangeState.PENDING_APPROVAL and change.status_id:
                    decided = micropay.new_employee_status(change.status_id)
                    if decided.status != "Pending":
                        change = change.model_copy(
                            update={
                                "state": PayrollChangeState(decided.status.upper()),
                                "decided_at": now,
                            }
                        )
                        db.put_payroll_change(change)
                    reason = {"Pending": WAITING, "Approved": ACCEPTED, "Rejected": REJECTED}[decided.status]
                elif change is not None:
                    reason = REJECTED if change.state is PayrollChangeState.REJECTED else ACCEPTED
                elif missing:
                    reason = f"a new employee needs {', '.join(missing)} in Worknice before MicrOpay can take it"
                else:
                    pending_id = micropay.new_employee(e)
                    submitted_now += 1
                    db.put_payroll_change(
                        PayrollChange(
                            connection_id=connection_id,
                            employee_id=e.code,
                            change_id=clock.new_id(),
                            run_id=run_id,
                            fields=[NEW_EMPLOYEE],
                            state=PayrollChangeState.PENDING_APPROVAL,
                            status_id=pending_id,
                            submitted_at=now,
                        )
                    )
                    reason = WAITING
            except ExternalSystemError as exc:
                status, reason = SyncStatus.FAILED, f"could not put the new employee in MicrOpay: {exc}"
                failures.append(
                    Failure(
                        failure_id=clock.new_id(),
                        connection_id=connection_id,
                        employee_id=employee_id,
                        run_id=run_id,
                        action="new_employee",
                        reason=reason,
                        failure_class="source_write",
                        attempts=1,
                        time=now,
                    )
                )
        if status is SyncStatus.NOT_SYNCING:
            not_syncing += 1
        old = current.get(employee_id)
        if old is not None and (old.status, old.reason, old.target_id) == (status, reason, e.id):
            continue
        new = EmployeeState(
            connection_id=connection_id,
            employee_id=employee_id,
            code=e.code,
            status=status,
            reason=reason,
            target_id=e.id,
            matched_by="new_hire",
            run_id=run_id,
            updated_at=now,
        )
        states.append(new)
        history.append(
            (new, HistoryEntry(time=now, run_id=run_id, action="new_employee", outcome=status, reason=reason))
        )
    db.put_employee_states(states, history, failures)
    if states:
        db.log(run_id, f"New hires from Worknice: {len(states)} changed state, {len(failures)} failed")
    return UploadCounts(failed=len(failures), seen=seen, not_syncing=not_syncing), submitted_now


def _keep_person_connections(
    opened: OpenConnection, db: Store, run_id: str, linked: dict[str, EmployeeState], *, wrote: bool
) -> None:
    """Worknice's person connections follow hrsync's links (remote id = EmpCode); then, if this run changed one of
    them or `wrote` anything to either system, the integration's sync is completed.

    The vendor notes name completeIntegrationSync but not its effect; we read it as closing a batch of changes
    made through the integration (Worknice's record of when the integration last synced something). A run that
    found everything in step has no batch to close, and calling it anyway would make every scheduled run look like
    a sync that changed something. Bookkeeping only: a failure here is logged, no employee's outcome changes."""
    _, worknice = systems_of(opened)
    integration = integration_id(opened.connection)
    changed = 0  # counted before each call: one that fails may still have landed
    try:
        existing = {c.remote_id: c for c in worknice.person_connections(integration)}
        for eid, state in sorted(linked.items()):
            found = existing.get(eid)
            if found is None:
                changed += 1
                worknice.create_person_connection(integration, state.target_id, eid, eid, "CONNECTED")
            elif found.person_id != state.target_id or found.status != "CONNECTED":
                changed += 1
                worknice.update_person_connection(
                    found.connection_id, remote_id=eid, remote_name=eid, status="CONNECTED"
                )
    except ExternalSystemError as exc:
        logger.warning("person connections not kept in step", extra={"run_id": run_id, "reason": str(exc)})
        db.log(run_id, f"Worknice person connections could not be kept in step: {exc}", "WARNING")
    if changed or wrote:
        complete_integration_sync(opened, db, run_id)


def complete_integration_sync(opened: OpenConnection, db: Store, run_id: str) -> None:
    """Close the batch of changes in Worknice (a run's, or a resolved conflict's); a failure is logged to the
    run, not raised: what was written stays written."""
    _, worknice = systems_of(opened)
    try:
        worknice.complete_integration_sync(integration_id(opened.connection))
    except ExternalSystemError as exc:
        logger.warning("integration sync not completed", extra={"run_id": run_id, "reason": str(exc)})
        db.log(run_id, f"Worknice's integration sync could not be completed: {exc}", "WARNING")
