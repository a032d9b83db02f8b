"""A connector is mostly declaration: its systems, required fields and the fields it keeps in step.

A connector whose source is read differently (a change feed, lookups first) or that writes back to its source
(self-service edits) names its own read step and upload step; the run calls them in place of the default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from hrsync.models.connection import Connection, Credentials
from hrsync.models.employee import Listing
from hrsync.models.records import EmployeeState, Run
from hrsync.settings import get_settings
from hrsync.sync.plan import PlannedConflict, Policy
from hrsync.systems.base import SourceSystem, TargetSystem
from hrsync.systems.http import RateBudget, RetryPolicy

if TYPE_CHECKING:
    from hrsync.context import OpenConnection
    from hrsync.store.table import Store

SourceFactory = Callable[[Connection, Credentials, RetryPolicy], SourceSystem]
TargetFactory = Callable[[Connection, Credentials, RetryPolicy], TargetSystem]


@dataclass(frozen=True)
class RunRead:
    """What a run's read step found: both listings, the target's departments, when its read of the source
    began (the change feed's next start) and whether it read everyone, and conflicts seen while reading."""

    source: Listing
    target: Listing
    departments: set[str] | None
    started_at: str
    full: bool
    details_read: int = 0
    carried: int = 0
    conflicts: tuple[PlannedConflict, ...] = field(default_factory=tuple)


# (open connection, store, the run, employee states as stored, the connection's STATE item) -> what was read
ReadStep = Callable[["OpenConnection", "Store", Run, Mapping[str, EmployeeState], dict[str, Any]], RunRead]


@dataclass(frozen=True)
class UploadCounts:
    """What a connector's upload step adds to the run's counters. The plan counted every source employee it saw;
    the step may end some of them otherwise, and may see employees only the target holds (Worknice's new hires),
    which the plan never counted. Each employee the step sees ends SUCCESSFUL, NOT_SYNCING with a reason or
    FAILED with a failure for review, and is counted once."""

    failed: int = 0  # failed in the step, each with a failure for review (uploads, or employees)
    failed_in_step: int = 0  # of `failed`: employees the plan had counted in step, no longer in step
    seen: int = 0  # employees the plan did not see, each counted here and in `not_syncing` or `failed`
    not_syncing: int = 0  # of `seen`: NOT_SYNCING with a reason

    def __add__(self, other: UploadCounts) -> UploadCounts:
        return UploadCounts(
            failed=self.failed + other.failed,
            failed_in_step=self.failed_in_step + other.failed_in_step,
            seen=self.seen + other.seen,
            not_syncing=self.not_syncing + other.not_syncing,
        )


# (open connection, store, the run, employee states as stored) -> what it adds to the run's counters
UploadStep = Callable[["OpenConnection", "Store", Run, dict[str, EmployeeState]], UploadCounts]


@dataclass(frozen=True)
class Connector:
    name: str
    source_name: str
    target_name: str
    open_source: SourceFactory
    open_target: TargetFactory
    policy_for: Callable[[Connection], Policy]
    read_run: ReadStep | None = None  # None: departments, every source employee, every target record
    upload_run: UploadStep | None = None  # None: nothing flows back to the source


# Seconds of a process's share it may save up while idle (RateBudget): one second of the target's limit in all.
BUDGET_BURST_S = 1.0


def target_budget(connection: Connection) -> RateBudget | None:
    """This process's share of the target's rate limit: the connection's limit split between the worker
    processes that may call the target at once (None when the connection declares no limit). One budget per
    connection and limit for the life of the process, so it spans invocations: a warm worker's pause between
    two batches is credited to it (up to BUDGET_BURST_S), not lost."""
    limit = connection.options.target_rate_limit_per_s
    return _budget(connection.id, limit / get_settings().worker_concurrency) if limit else None


@lru_cache(maxsize=64)
def _budget(connection_id: str, rate_per_s: float) -> RateBudget:
    return RateBudget(rate_per_s, burst_s=BUDGET_BURST_S)
