"""Payroll codes checked against the payroll's own lookups: an unknown code is that employee's reason."""

from __future__ import annotations

from collections.abc import Mapping

from hrsync.models.employee import Employee, RecordRejection


def code_of(employee: Employee, field: str) -> str | None:
    """The code an employee holds in a (possibly dotted) field, e.g. `address.state`."""
    value: object = employee
    for part in field.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value if isinstance(value, str) else None


def unknown_code(
    employee: Employee, fields: Mapping[str, str], lookups: Mapping[str, set[str] | None]
) -> tuple[str, str] | None:
    """The first (field, lookup) whose code is not in that lookup; lookups that could not be read are not checked."""
    for field, lookup in fields.items():
        code = code_of(employee, field)
        known = lookups.get(lookup)
        if code is not None and known is not None and code not in known:
            return field, lookup
    return None


def reject_unknown_codes(
    employees: list[Employee], fields: Mapping[str, str], lookups: Mapping[str, set[str] | None], system: str
) -> tuple[list[Employee], list[RecordRejection]]:
    """Split employees into those whose codes all map and rejections naming the field and lookup (not the code)."""
    kept: list[Employee] = []
    rejected: list[RecordRejection] = []
    for employee in employees:
        unknown = unknown_code(employee, fields, lookups)
        if unknown is None:
            kept.append(employee)
            continue
        field, lookup = unknown
        rejected.append(
            RecordRejection(
                record_id=employee.id,
                position=f"employee {employee.id}",
                field=field,
                reason=f"code is not in {system}'s {lookup} lookup",
            )
        )
    return kept, rejected
