"""Bodies and answers of the REST API."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hrsync.models.connection import ConnectionOptions, SystemEndpoint
from hrsync.models.records import Conflict, EmployeeState, Failure, HistoryEntry, LogLine, PayrollChange, Run

EmployeeId = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")


class SyncRequest(BaseModel):
    """Body of POST /connections/{id}/syncs. Without employee_ids the whole population is synced."""

    model_config = ConfigDict(extra="forbid")

    employee_ids: list[str] | None = Field(default=None, min_length=1, max_length=1000)
    full: bool = Field(
        default=False,
        description="Read every employee from the source, whatever its change feed says (the weekly full "
        "reconciliation, on demand).",
    )
    force: bool = Field(
        default=False,
        description="With employee_ids: re-sync those employees whatever the change feed says, sending every "
        "field the source owns even where the target looks in step.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.force and not self.employee_ids:
            raise ValueError("force needs employee_ids: it re-syncs the employees named")
        if self.full and self.employee_ids:
            raise ValueError("full reads every employee; it cannot be combined with employee_ids")
        return self


class SyncAccepted(BaseModel):
    run_id: str
    status: str


class Quarantine(BaseModel):
    """Set when most calls to the target failed in a run; cleared by a later successful run or an operator."""

    run_id: str
    reason: str
    since: str


class ConnectionView(BaseModel):
    id: str
    connector: str
    source: SystemEndpoint
    target: SystemEndpoint
    secret_name: str
    options: ConnectionOptions
    created_at: str
    updated_at: str
    last_success_at: str | None = None
    last_run_id: str | None = None
    running_run: str | None = None
    started_run: str | None = None
    quarantine: Quarantine | None = None


class LogView(BaseModel):
    run_id: str
    lines: list[LogLine]


class EmployeesView(BaseModel):
    employees: list[EmployeeState]


class EmployeeView(BaseModel):
    employee: EmployeeState
    history: list[HistoryEntry]
    payroll_changes: list[PayrollChange] = Field(default_factory=list)


class ConflictsView(BaseModel):
    conflicts: list[Conflict]


class FailuresView(BaseModel):
    failures: list[Failure]


class RunsView(BaseModel):
    runs: list[Run]


class ErrorBody(BaseModel):
    message: str
    run_id: str | None = None


class DismissRequest(BaseModel):
    """Body of DELETE /failures/{id}: why the failure needs no further action."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=1000)


class RetryAccepted(BaseModel):
    failure_id: str
    run_id: str
