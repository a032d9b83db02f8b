"""Settling a field conflict of a two_way data group through the API (micropay-worknice)."""

from __future__ import annotations

from hrsync import clock
from hrsync.context import open_connection, store
from hrsync.errors import RecordNotFoundError, StateConflictError
from hrsync.models.employee import Employee
from hrsync.models.records import ConflictKind, HistoryEntry
from hrsync.sync.merge import FieldConflict, Side, field_digest, resolve_conflict
from hrsync.two_way import (
    SIDE_NAMES,
    as_fixed_amounts,
    complete_integration_sync,
    send_writes,
    systems_of,
    values_of,
)


def resolve_field_conflict(connection_id: str, conflict_key: str, winner: Side) -> dict[str, str]:
    """Settle a field conflict with `winner`'s value: write it to the other side, move the base, drop the
    conflict. StateConflictError (409) when it is not a field conflict or either side changed since."""
    db = store()
    conflict = db.get_conflict(connection_id, conflict_key)
    if conflict.kind is not ConflictKind.CHANGED_ON_BOTH_SIDES or not conflict.field or not conflict.employee_ids:
        raise StateConflictError(f"conflict {conflict_key} is not a field changed on both sides: fix it in the systems")
    employee_id, name = conflict.employee_ids[0], conflict.field
    state = db.get_employee_state(connection_id, employee_id)
    if state is None or not state.target_id:
        raise StateConflictError(f"employee {employee_id} is no longer linked; the next run merges afresh")
    opened = open_connection(connection_id)
    micropay, worknice = systems_of(opened)
    source = micropay.get_employee(employee_id)
    people, _ = worknice.list_people()
    target = next((p.employee for p in people if p.employee.id == state.target_id), None)
    if not isinstance(source, Employee) or target is None:
        raise RecordNotFoundError(f"employee {employee_id} could not be read from both systems")
    target = as_fixed_amounts(source, target) or target  # as the run compared them: a split in fixed amounts
    digest = field_digest(opened.secret)
    reported = FieldConflict(name, conflict.source_digest or "", conflict.target_digest or "", conflict.base_digest)
    write = resolve_conflict(reported, winner, values_of(source, (name,)), values_of(target, (name,)), digest)
    if write is None:
        raise StateConflictError(
            f"{name} of employee {employee_id} changed since the conflict was reported; the next run merges it afresh"
        )
    base, pending = dict(state.merge_base), dict(state.merge_pending)
    sent = send_writes(micropay, worknice, source, target, (write,), base, pending)
    complete_integration_sync(opened, db, conflict.run_id)  # a write, to either side, closes a batch too
    now = clock.iso()
    new = state.model_copy(
        update={
            "merge_base": base,
            "merge_pending": pending,
            "warnings": [w for w in state.warnings if not w.startswith(f"{name} ")],
            "updated_at": now,
        }
    )
    entry = HistoryEntry(
        time=now,
        run_id=conflict.run_id,
        action="resolve_conflict",
        fields=sent,
        outcome=new.status,
        reason=f"{SIDE_NAMES[winner]}'s value chosen",
    )
    db.put_employee_states([new], [(new, entry)])
    db.delete_conflict(connection_id, conflict_key)
    return {"conflict_id": conflict_key, "winner": winner, "written_to": SIDE_NAMES[write.to]}
