"""Incremental runs: which employees a run need not read again. Pure: no I/O.

An employee is carried over, counted in step without reading its details, when all of these hold: the
source's change feed does not name it, the source still lists it with the status it had, it ended the last
run SUCCESSFUL with no warning, and its linked target record still gives the fingerprint stored then (so
nobody edited the target since). Its source values are then the target record's for the synced fields, which
is what the plan is given for it, so duplicates and conflicts are still judged across everyone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

from hrsync.models.employee import Employee, EmploymentStatus
from hrsync.models.records import EmployeeState, SyncStatus


def fingerprint(secret: bytes, values: Mapping[str, object]) -> str:
    """An HMAC of field values (keyed per connection): equal values give equal fingerprints, and the values
    cannot be read back from it."""
    canonical = json.dumps(
        {
            name: value.model_dump(mode="json") if hasattr(value, "model_dump") else value
            for name, value in values.items()
        },
        sort_keys=True,
        default=str,
    )
    return hmac.new(secret, canonical.encode(), hashlib.sha256).hexdigest()


def record_fingerprint(secret: bytes, record: Employee, fields: tuple[str, ...]) -> str:
    """The fingerprint of what a target record holds in the synced fields."""
    return fingerprint(secret, {name: getattr(record, name) for name in fields})


def carried_over(
    index: Mapping[str, EmploymentStatus],
    changed: set[str],
    states: Mapping[str, EmployeeState],
    targets: Mapping[str, Employee],
    secret: bytes,
    fields: tuple[str, ...],
) -> dict[str, Employee]:
    """The employees of `index` (id -> status now) that need no read, each as the source record the plan
    gets for it (the target record's values, with the source's id and status)."""
    carried: dict[str, Employee] = {}
    for employee_id, status in index.items():
        state = states.get(employee_id)
        if (
            state is None
            or employee_id in changed
            or state.status is not SyncStatus.SUCCESSFUL
            or state.warnings
            or state.pending_action
            or not state.fingerprint
            or state.source_status != status.value
            or not state.target_id
        ):
            continue
        record = targets.get(state.target_id)
        if record is None or record_fingerprint(secret, record, fields) != state.fingerprint:
            continue
        carried[employee_id] = record.model_copy(update={"id": employee_id, "status": status})
    return carried
