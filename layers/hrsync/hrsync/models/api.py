"""Bodies and answers of the REST API."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hrsync.models.connection import ConnectionOptions, SystemEndpoint
from hrsync.models.records import (
    Conflict,
    ConflictKind,
    EmployeeState,
    Failure,
    HistoryEntry,
    LogLine,
    PayrollChange,
    Run,
    RunCounters,
    SyncStatus,
)

EmployeeId = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")


class SyncRequest(BaseModel):
    """Body of POST /connections/{id}/syncs. Without employee_ids the whole population is synced; with
    dry_run the run is planned and the plan returned (200), nothing written and no run started."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {},
                {"full": True},
                {"employee_ids": ["1f6c2a4e"], "force": True},
                {"dry_run": True},
            ]
        },
    )

    employee_ids: list[str] | None = Field(default=None, min_length=1, max_length=1000)
    full: bool = Field(
        default=False,
        description="Read every employee from the source, whatever its change feed says (the weekly full "
        "reconciliation, on demand).",
    )
    dry_run: bool = False
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
    """One page of a tab. `total` counts every employee the tab and search hold."""

    employees: list[EmployeeState]
    total: int = 0
    page: int = 1
    page_size: int = 0
    search_note: str | None = None


class EmployeeFilter(BaseModel):
    """Employees as a tab shows them: a status and a search by name or code."""

    model_config = ConfigDict(extra="forbid")

    status: SyncStatus | None = None
    search: str | None = Field(default=None, min_length=1, max_length=100)


class SelectionPreviewRequest(BaseModel):
    """Body of POST /connections/{id}/syncs/preview: the employees HR selected, by id or as a filter."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"employee_ids": ["9b1d7e33-4c5d-5e6f-8a7b-9c0d1e2f3a4b"]},
                {"filter": {"status": "NOT_SYNCING"}},
            ]
        },
    )

    employee_ids: list[str] | None = Field(default=None, min_length=1, max_length=1000)
    filter: EmployeeFilter | None = None

    @model_validator(mode="after")
    def _one_selection(self) -> SelectionPreviewRequest:
        if (self.employee_ids is None) == (self.filter is None):
            raise ValueError("give either employee_ids or filter")
        return self


class UnsendableEmployee(BaseModel):
    employee_id: str
    code: str | None = None
    reason: str


class SelectionPreview(BaseModel):
    """The confirm dialog: how many of the selection a sync would send, and why the others cannot be."""

    selected: int
    would_send: int
    cannot_send: int
    employee_ids: list[str]
    cannot: list[UnsendableEmployee]


class BenefitsLevelRequest(BaseModel):
    """Body of PUT /connections/{id}/employees/{employee_id}: the benefits level HR assigns (null: the source's)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"benefits_level": "gold"}, {"benefits_level": None}]}
    )

    benefits_level: str | None = Field(max_length=64, pattern=r"^[A-Za-z0-9 ._-]+$")


class EmployeeView(BaseModel):
    employee: EmployeeState
    history: list[HistoryEntry]
    payroll_changes: list[PayrollChange] = Field(default_factory=list)


class ConflictsView(BaseModel):
    conflicts: list[Conflict]


class ResolveRequest(BaseModel):
    """Body of POST /connections/{id}/conflicts/{conflict_id}/resolve: whose value wins (source = the
    connector's source system, target = its target)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"winner": "source"}]})

    winner: Literal["source", "target"]


class ConflictResolved(BaseModel):
    conflict_id: str
    winner: Literal["source", "target"]
    written_to: str


class FailuresView(BaseModel):
    failures: list[Failure]


class RunsView(BaseModel):
    runs: list[Run]


class ErrorBody(BaseModel):
    message: str
    run_id: str | None = None


class DismissRequest(BaseModel):
    """Body of DELETE /failures/{id}: why the failure needs no further action."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "user created by hand"}]})

    note: str = Field(min_length=1, max_length=1000)


class RetryAccepted(BaseModel):
    failure_id: str
    run_id: str


class PlannedChange(BaseModel):
    """A change a dry run found: ids and the names of the fields that would be sent, never their values."""

    employee_id: str
    code: str | None = None
    target_id: str | None = None
    fields: list[str] = Field(default_factory=list)


class PlannedSkip(BaseModel):
    """An employee a dry run would not sync (NOT_SYNCING) or could not read (FAILED), with the reason."""

    employee_id: str
    code: str | None = None
    reason: str


class PlannedWarning(BaseModel):
    employee_id: str
    warning: str


class PlannedConflictView(BaseModel):
    conflict_id: str
    kind: ConflictKind
    reason: str
    code: str | None = None
    employee_ids: list[str] = Field(default_factory=list)
    target_ids: list[str] = Field(default_factory=list)


class DryRunPlan(BaseModel):
    """What a run would do now. `counters` are the plan's counts, as a real run would record them
    (to_create, to_update, to_mark_leaver, in_step, not_syncing, conflicts, failed); `held_for_approval` is
    set when the mass-leaver safeguard would stop the run; `log` is what the run's log would say so far."""

    connection_id: str
    employee_ids: list[str] | None = None
    counters: RunCounters
    creates: list[PlannedChange]
    updates: list[PlannedChange]
    leavers: list[PlannedChange]
    not_syncing: list[PlannedSkip]
    failed: list[PlannedSkip]
    conflicts: list[PlannedConflictView]
    warnings: list[PlannedWarning]
    held_for_approval: str | None = None
    log: list[str] = Field(default_factory=list)


class ConnectionsView(BaseModel):
    connections: list[ConnectionView]


class ConflictResolveRequest(BaseModel):
    """Body of POST /connections/{id}/conflicts/resolve."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"conflict_id": "duplicate_target_reference:E020"}]}
    )

    conflict_id: str = Field(min_length=1, max_length=1000)


class ConflictResolveAccepted(BaseModel):
    conflict_id: str
    run_id: str
    employee_ids: list[str]
