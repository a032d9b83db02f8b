"""Which employees an incremental run need not read: only those provably unchanged on both sides."""

from __future__ import annotations

from hrsync.models.employee import Employee, EmploymentStatus
from hrsync.models.records import EmployeeState, SyncStatus
from hrsync.sync.incremental import carried_over, fingerprint, record_fingerprint

SECRET = b"k" * 32
FIELDS = ("first_name", "last_name", "email", "code")
CURRENT = EmploymentStatus.CURRENT


def user(n: int, last: str = "Lee") -> Employee:
    return Employee(id=f"u{n}", code=f"E{n}", first_name="Ann", last_name=last, email=f"a{n}@example.com")


def state(n: int, **changes: object) -> EmployeeState:
    base = EmployeeState(
        connection_id="c",
        employee_id=f"e{n}",
        status=SyncStatus.SUCCESSFUL,
        target_id=f"u{n}",
        source_status="current",
        fingerprint=record_fingerprint(SECRET, user(n), FIELDS),
    )
    return base.model_copy(update=changes)


def test_unchanged_employee_carried_as_its_target_values_with_source_id_and_status():
    carried = carried_over({"e1": CURRENT}, set(), {"e1": state(1)}, {"u1": user(1)}, SECRET, FIELDS)
    assert carried["e1"] == user(1).model_copy(update={"id": "e1", "status": CURRENT})


def test_any_sign_of_change_means_a_read():
    index = {f"e{n}": CURRENT for n in range(1, 8)}
    states = {
        "e1": state(1),  # named by the change feed
        "e2": state(2, source_status="upcoming"),  # its status changed in the source
        "e3": state(3, status=SyncStatus.FAILED),  # did not end in step
        "e4": state(4, warnings=["department unknown"]),  # a warning may be fixed on the target's side
        "e5": state(5, fingerprint=None),  # nothing known of the target record
        "e6": state(6),  # the target record was edited since
        # e7: never seen before
    }
    targets = {f"u{n}": user(n) for n in range(1, 8)} | {"u6": user(6, last="Edited")}
    assert carried_over(index, {"e1"}, states, targets, SECRET, FIELDS) == {}


def test_fingerprint_depends_on_values_and_key_only():
    values = {"first_name": "Ann", "last_name": "Lee"}
    assert fingerprint(SECRET, values) == fingerprint(SECRET, dict(reversed(values.items())))
    assert fingerprint(SECRET, values) != fingerprint(SECRET, {**values, "last_name": "Lea"})
    assert fingerprint(SECRET, values) != fingerprint(b"other key", values)
    assert "Ann" not in fingerprint(SECRET, values)
