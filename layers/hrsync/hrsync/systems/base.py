"""The protocols a connector's source and target adapters fill in."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from hrsync.models.employee import Department, Employee, Listing, RecordRejection


class SourceSystem(Protocol):
    name: str

    def list_employees(self) -> Listing: ...

    def get_employee(self, employee_id: str) -> Employee | RecordRejection: ...

    def close(self) -> None: ...


class TargetSystem(Protocol):
    name: str

    def list_records(self) -> Listing: ...

    def list_departments(self) -> list[Department]: ...

    def find(self, *, code: str | None = None, email: str | None = None) -> list[Employee]: ...

    def create(self, employee: Employee, fields: tuple[str, ...]) -> str: ...

    def update(self, target_id: str, employee: Employee, fields: tuple[str, ...]) -> None: ...

    def mark_leaver(self, target_id: str, leave_date: date) -> None: ...

    def close(self) -> None: ...
