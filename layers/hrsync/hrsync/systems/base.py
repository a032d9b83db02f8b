"""The protocols a connector's source and target adapters fill in."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol, runtime_checkable

from hrsync.models.employee import Department, Employee, EmploymentStatus, Listing, RecordRejection


class SourceSystem(Protocol):
    name: str

    def list_employees(self) -> Listing: ...

    def get_employee(self, employee_id: str) -> Employee | RecordRejection: ...

    def search(self, text: str) -> list[str]:
        """Ids of employees whose name or code matches `text`, by the system's own search (names stay there)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class IncrementalSource(Protocol):
    """A source with a change feed: a run may list who is there, ask what changed, and read only those."""

    def list_ids(self, listing: Listing) -> dict[str, EmploymentStatus]: ...

    def read_details(self, ids: list[str], listing: Listing) -> None: ...

    def changed_since(self, moment: datetime) -> set[str]: ...


class TargetSystem(Protocol):
    name: str

    def list_records(self) -> Listing: ...

    def list_departments(self) -> list[Department]: ...

    def find(self, *, code: str | None = None, email: str | None = None) -> list[Employee]: ...

    def create(self, employee: Employee, fields: tuple[str, ...]) -> str: ...

    def update(self, target_id: str, employee: Employee, fields: tuple[str, ...]) -> None: ...

    def mark_leaver(self, target_id: str, leave_date: date) -> None: ...

    def close(self) -> None: ...
