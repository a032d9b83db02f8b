"""What HR assigns in hrsync rather than in the source system (a benefits level), laid over the source's record."""

from __future__ import annotations

from hrsync.models.employee import Employee
from hrsync.models.records import EmployeeState


def with_assignments(employee: Employee, state: EmployeeState | None) -> Employee:
    """The employee as hrsync sends them: a benefits level assigned in hrsync wins over the source's."""
    if state is None or state.assigned_benefits_level is None:
        return employee
    return employee.model_copy(update={"benefits_level": state.assigned_benefits_level})
