"""Examples for the OpenAPI document, built with the API's own models so they cannot drift from the schemas.

Ids and codes only, as the API answers them: no personal data, even made up.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from hrsync.models.api import (
    ConflictResolveAccepted,
    ConflictResolved,
    ConflictsView,
    ConnectionsView,
    ConnectionView,
    DryRunPlan,
    EmployeesView,
    EmployeeView,
    FailuresView,
    LogView,
    PlannedChange,
    PlannedSkip,
    RetryAccepted,
    RunsView,
    SelectionPreview,
    SyncAccepted,
    UnsendableEmployee,
)
from hrsync.models.connection import ConnectionOptions, SystemEndpoint
from hrsync.models.records import (
    Conflict,
    ConflictKind,
    EmployeeState,
    Failure,
    HistoryEntry,
    LogLine,
    Run,
    RunCounters,
    RunStatus,
    SyncStatus,
)

CONNECTION_ID = "acme-staffology-expensein"
RUN_ID = "20261122T040000Z-3f2a9c1e"
EMPLOYEE_ID = "db1650a2-6b4c-507d-ae80-f1bf3e8d6c72"
FAILURE_ID = "20261122T040112Z-77c0d2aa"


def _json(model: BaseModel) -> Any:
    return model.model_dump(mode="json")


CONNECTION = ConnectionView(
    id=CONNECTION_ID,
    connector="staffology-expensein",
    source=SystemEndpoint.model_validate({"base_url": "https://api.staffology.co.uk/", "employer_id": "acme"}),
    target=SystemEndpoint.model_validate({"base_url": "https://api.expensein.com/1.0/"}),
    secret_name=f"hrsync/{CONNECTION_ID}",
    options=ConnectionOptions(),
    created_at="2026-11-21T09:00:00.000000Z",
    updated_at="2026-11-21T09:00:00.000000Z",
    last_success_at="2026-11-22T04:00:41.000000Z",
    last_run_id=RUN_ID,
)
RUN = Run(
    connection_id=CONNECTION_ID,
    run_id=RUN_ID,
    trigger="schedule",
    status=RunStatus.SUCCEEDED,
    queued_at="2026-11-22T04:00:00.000000Z",
    started_at="2026-11-22T04:00:01.000000Z",
    finished_at="2026-11-22T04:00:41.000000Z",
    counters=RunCounters(
        seen=36,
        to_create=24,
        to_update=1,
        to_mark_leaver=2,
        in_step=5,
        not_syncing=3,
        conflicts=1,
        created=24,
        updated=1,
        marked_leaver=2,
        warnings=1,
        target_calls=27,
    ),
)
EMPLOYEE = EmployeeState(
    connection_id=CONNECTION_ID,
    employee_id=EMPLOYEE_ID,
    code="E032",
    status=SyncStatus.NOT_SYNCING,
    reason="missing required field: email",
    run_id=RUN_ID,
    updated_at="2026-11-22T04:00:02.000000Z",
)
FAILURE = Failure(
    failure_id=FAILURE_ID,
    connection_id=CONNECTION_ID,
    employee_id=EMPLOYEE_ID,
    run_id=RUN_ID,
    action="create",
    reason="ExpenseIn answered 500 after 4 tries",
    failure_class="dead_lettered",
    attempts=5,
    time="2026-11-22T04:01:12.000000Z",
)

EXAMPLES: dict[str, Any] = {
    "connections": _json(ConnectionsView(connections=[CONNECTION])),
    "connection": _json(CONNECTION),
    "accepted": _json(SyncAccepted(run_id=RUN_ID, status=RunStatus.QUEUED.value)),
    "runs": _json(RunsView(runs=[RUN])),
    "run": _json(RUN),
    "log": _json(
        LogView(
            run_id=RUN_ID,
            lines=[
                LogLine(
                    seq="01795323544096000000-1a2b",
                    time="2026-11-22T04:00:01.000000Z",
                    level="INFO",
                    message="Job Started",
                ),
                LogLine(
                    seq="01795323584096000000-3c4d",
                    time="2026-11-22T04:00:41.000000Z",
                    level="INFO",
                    message="Job Finished: 24 created, 1 updated, 2 marked as leavers, 5 already in step, "
                    "3 not syncing, 1 in conflict, 0 failed",
                ),
            ],
        )
    ),
    "employees": _json(EmployeesView(employees=[EMPLOYEE])),
    "employee": _json(
        EmployeeView(
            employee=EMPLOYEE,
            history=[
                HistoryEntry(
                    time="2026-11-22T04:00:02.000000Z",
                    run_id=RUN_ID,
                    outcome=SyncStatus.NOT_SYNCING,
                    reason="missing required field: email",
                )
            ],
        )
    ),
    "conflicts": _json(
        ConflictsView(
            conflicts=[
                Conflict(
                    conflict_id="duplicate_target_reference:E020",
                    kind=ConflictKind.DUPLICATE_TARGET_REFERENCE,
                    reason="reference E020 is held by 2 ExpenseIn users",
                    code="E020",
                    employee_ids=["0c1f4b8e-2d3a-5e6f-8a9b-0c1d2e3f4a5b"],
                    target_ids=["u-200001", "u-200002"],
                    run_id=RUN_ID,
                )
            ]
        )
    ),
    "resolve": _json(
        ConflictResolveAccepted(
            conflict_id="duplicate_target_reference:E020",
            run_id="20261122T101500Z-8c1e0f2b",
            employee_ids=["0c1f4b8e-2d3a-5e6f-8a9b-0c1d2e3f4a5b"],
        )
    ),
    "failures": _json(FailuresView(failures=[FAILURE])),
    "failure": _json(FAILURE),
    "dismissed": _json(
        FAILURE.model_copy(
            update={"status": "DISMISSED", "note": "created by hand", "closed_at": "2026-11-22T09:30:00.000000Z"}
        )
    ),
    "retry": _json(RetryAccepted(failure_id=FAILURE_ID, run_id="20261122T093000Z-5d6e7f80")),
    "field_resolved": _json(
        ConflictResolved(conflict_id="field:E005:last_name", winner="source", written_to="Worknice")
    ),
    "preview": _json(
        SelectionPreview(
            selected=2,
            would_send=1,
            cannot_send=1,
            employee_ids=["9b1d7e33-4c5d-5e6f-8a7b-9c0d1e2f3a4b"],
            cannot=[UnsendableEmployee(employee_id=EMPLOYEE_ID, code="E032", reason="missing required field: email")],
        )
    ),
    "assigned": _json(
        EmployeeState(
            connection_id="acme-hr-benefits",
            employee_id="9b1d7e33-4c5d-5e6f-8a7b-9c0d1e2f3a4b",
            code="E005",
            status=SyncStatus.SUCCESSFUL,
            target_id="2819c223-7f76-453a-919d-413861904646",
            assigned_benefits_level="gold",
            updated_at="2026-11-22T09:30:00.000000Z",
        )
    ),
    "plan": _json(
        DryRunPlan(
            connection_id=CONNECTION_ID,
            counters=RunCounters(seen=3, to_create=1, to_update=1, not_syncing=1),
            creates=[
                PlannedChange(
                    employee_id="1f6c2a4e-0b1c-5d2e-9f3a-4b5c6d7e8f90",
                    code="N001",
                    fields=["code", "first_name", "last_name", "email", "department_code"],
                )
            ],
            updates=[
                PlannedChange(
                    employee_id="9b1d7e33-4c5d-5e6f-8a7b-9c0d1e2f3a4b",
                    code="E005",
                    target_id="u-100005",
                    fields=["last_name"],
                )
            ],
            leavers=[],
            not_syncing=[PlannedSkip(employee_id=EMPLOYEE_ID, code="E032", reason="missing required field: email")],
            failed=[],
            conflicts=[],
            warnings=[],
            log=[
                "Reading employees from Staffology Payroll",
                "1 to create, 1 to update, 0 to mark as leavers, 1 not syncing, 0 in conflict, 0 already in step",
            ],
        )
    ),
}
INVALID_EXAMPLE = {
    "message": "options.leaver_threshold_percent: Input should be less than or equal to 100",
    "detail": [
        {
            "loc": ["body", "options", "leaver_threshold_percent"],
            "msg": "Input should be less than or equal to 100",
            "type": "less_than_equal",
        }
    ],
}
