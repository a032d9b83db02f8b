"""What hrsync records about its work: runs, log lines, employee status and history, conflicts, failures."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class SyncStatus(StrEnum):
    """The four tabs an administrator sees."""

    NOT_SYNCING = "NOT_SYNCING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESSFUL = "SUCCESSFUL"
    FAILED = "FAILED"


class RunStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    COMPLETED_WITH_FAILURES = "COMPLETED_WITH_FAILURES"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    QUARANTINED = "QUARANTINED"
    APPROVAL_REQUIRED = "APPROVAL_REQUIRED"

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.APPROVAL_REQUIRED)


class RunCounters(BaseModel):
    """How a run's employees ended. `pending` counts work items not yet applied or reviewed."""

    seen: int = 0
    to_create: int = 0
    to_update: int = 0
    to_mark_leaver: int = 0
    in_step: int = 0
    not_syncing: int = 0
    conflicts: int = 0
    unreadable: int = 0
    incomplete_reads: int = 0  # listings that failed part-way: the run cannot have seen everyone
    details_read: int = 0  # employees whose details the run read from the source
    carried: int = 0  # unchanged since the last run (change feed and fingerprint): counted in_step, not read
    pending: int = 0
    created: int = 0
    updated: int = 0
    marked_leaver: int = 0
    failed: int = 0
    deferred: int = 0
    warnings: int = 0
    target_calls: int = 0
    target_failures: int = 0


class Run(BaseModel):
    connection_id: str
    run_id: str
    trigger: str
    status: RunStatus
    queued_at: str
    started_at: str | None = None
    finished_at: str | None = None
    reason: str | None = None
    employee_ids: list[str] | None = None
    force: bool = False  # with employee_ids: re-sync them, every source-owned field, whatever the feed says
    approved_by: str | None = None
    full: bool = False  # asked to read everyone, whatever the change feed says
    read_started_at: str | None = None  # when its read of the source began: the change feed's next start
    full_read: bool | None = None  # whether it read everyone (None until it has read)
    counters: RunCounters = RunCounters()


class LogLine(BaseModel):
    seq: str
    time: str
    level: str
    message: str


class EmployeeState(BaseModel):
    """The link and status of one source employee on one connection."""

    model_config = ConfigDict(extra="ignore")

    connection_id: str
    employee_id: str
    code: str | None = None
    status: SyncStatus
    reason: str | None = None
    warnings: list[str] = Field(default_factory=list)
    target_id: str | None = None
    matched_by: str | None = None
    run_id: str | None = None
    pending_action: str | None = None
    last_error: str | None = None
    attempts: int = 0
    updated_at: str | None = None
    # For incremental runs: the source status it was read with, and an HMAC of the synced fields' values the
    # target held when it was last known in step (None when unknown). An employee the change feed does not
    # name, with the same status and a target record that still gives this fingerprint, is not read again.
    source_status: str | None = None
    fingerprint: str | None = None
    # Opt-in connectors (hr-benefits): selected by HR; nothing but that selection stops it; a level HR assigned.
    enrolled: bool = False
    awaiting_selection: bool = False
    assigned_benefits_level: str | None = None
    # Two-way groups (sync/merge.py): per field, the HMAC of the value both sides last held, and the HMAC of a
    # value sent for payroll's approval that payroll has not applied yet (so it is not sent again).
    merge_base: dict[str, str] = Field(default_factory=dict)
    merge_pending: dict[str, str] = Field(default_factory=dict)


class HistoryEntry(BaseModel):
    time: str
    run_id: str
    action: str | None = None
    fields: list[str] = Field(default_factory=list)
    outcome: SyncStatus
    reason: str | None = None


class ConflictKind(StrEnum):
    DUPLICATE_PAYROLL_CODE = "duplicate_payroll_code"
    DUPLICATE_TARGET_REFERENCE = "duplicate_target_reference"
    DUPLICATE_EMAIL = "duplicate_email"
    UNMATCHED_TARGET_RECORD = "unmatched_target_record"  # a target record whose code no source employee holds
    CHANGED_ON_BOTH_SIDES = "changed_on_both_sides"  # a two_way field changed differently in both systems


class Conflict(BaseModel):
    conflict_id: str
    kind: ConflictKind
    reason: str
    code: str | None = None
    employee_ids: list[str] = Field(default_factory=list)
    target_ids: list[str] = Field(default_factory=list)
    run_id: str
    # A field conflict (CHANGED_ON_BOTH_SIDES): the data group and field, and digests of what each side held
    # when it was reported (never the values), so resolving it writes only if neither side changed since.
    group: str | None = None
    field: str | None = None
    source_digest: str | None = None
    target_digest: str | None = None
    base_digest: str | None = None


class PayrollChangeState(StrEnum):
    APPLIED = "APPLIED"  # applied at once (non-pay fields)
    PENDING_APPROVAL = "PENDING_APPROVAL"  # queued for a payroll user
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"  # the upload itself failed; a failure for review says why
    CANCELLED = "CANCELLED"  # taken back in payroll after it was applied (a cancelled leave request)


class PayrollChange(BaseModel):
    """A self-service edit uploaded to payroll for one employee: field names and state, never values."""

    connection_id: str
    employee_id: str
    change_id: str
    run_id: str
    fields: list[str]
    state: PayrollChangeState
    status_id: str | None = None  # payroll's id for a change waiting for approval
    reason: str | None = None
    payload_hmac: str | None = None  # to recognise the same values uploaded again
    # Kept, not expired: the record that something was sent once (a leave request recorded in payroll).
    keep: bool = False
    submitted_at: str
    decided_at: str | None = None


class Failure(BaseModel):
    failure_id: str
    connection_id: str
    employee_id: str
    run_id: str
    action: str
    reason: str
    failure_class: str
    attempts: int
    time: str
    message_id: str | None = None
    status: str = "OPEN"  # OPEN, RETRIED (with retry_run_id) or DISMISSED (with note)
    retry_run_id: str | None = None
    note: str | None = None
    closed_at: str | None = None
