"""Routes of the REST API. Each route is one call into a use case; errors map to responses once, below."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from hrsync import clock
from hrsync.conflicts import resolve_field_conflict
from hrsync.connectors import get_connector, known_connectors
from hrsync.context import forget_connections, store
from hrsync.errors import ConfigurationError, NotFoundError, RunInProgressError, StateConflictError
from hrsync.models.api import (
    BenefitsLevelRequest,
    ConflictResolved,
    ConflictsView,
    ConnectionView,
    DismissRequest,
    EmployeesView,
    EmployeeView,
    ErrorBody,
    FailuresView,
    LogView,
    ResolveRequest,
    RetryAccepted,
    RunsView,
    SelectionPreview,
    SelectionPreviewRequest,
    SyncAccepted,
    SyncRequest,
)
from hrsync.models.connection import Connection, ConnectionInput
from hrsync.models.records import EmployeeState, Failure, Run, SyncStatus
from hrsync.observability import logger
from hrsync.runs import approve_run, fail_run, start_run
from hrsync.selection import assign_benefits_level, employee_tab, preview_selection
from hrsync.settings import get_settings
from hrsync.store.functions import InvokeError, invoke_async
from hrsync.store.secrets import current_version

app = APIGatewayRestResolver(enable_validation=True)
ConnectionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
RunId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
ConflictId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:#-]+$")]
FailureId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
FailureStatus = Literal["OPEN", "RETRIED", "DISMISSED"]
EmployeeIdPath = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]


def _json(status: int, body: ErrorBody) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(exclude_none=True),
    )


@app.exception_handler(NotFoundError)
def _not_found(exc: NotFoundError) -> Response[str]:
    return _json(404, ErrorBody(message=str(exc)))


@app.exception_handler(RunInProgressError)
def _in_progress(exc: RunInProgressError) -> Response[str]:
    return _json(409, ErrorBody(message=str(exc), run_id=exc.run_id))


@app.exception_handler(StateConflictError)
def _state_conflict(exc: StateConflictError) -> Response[str]:
    return _json(409, ErrorBody(message=str(exc)))


@app.exception_handler(ConfigurationError)
def _configuration(exc: ConfigurationError) -> Response[str]:
    logger.error("configuration error", extra={"reason": str(exc)})
    return _json(422, ErrorBody(message=str(exc)))


@app.exception_handler(InvokeError)
def _invoke_failed(exc: InvokeError) -> Response[str]:
    return _json(503, ErrorBody(message=str(exc)))


def _run_function(connection: Connection) -> str:
    function = get_settings().run_functions.get(connection.connector)
    if not function:
        raise ConfigurationError(f"no run function is deployed for connector {connection.connector}")
    return function


def _trigger(
    connection: Connection,
    trigger: str,
    employee_ids: list[str] | None = None,
    *,
    full: bool = False,
    force: bool = False,
) -> Run:
    """Take the lock and start the connector's run function; a run that could not start is failed at once."""
    function = _run_function(connection)
    run = start_run(connection.id, trigger, employee_ids, full=full, force=force)
    _start_function(connection, function, run)
    return run


def _start_function(connection: Connection, function: str, run: Run) -> None:
    try:
        invoke_async(function, {"connection_id": connection.id, "run_id": run.run_id})
    except InvokeError:
        fail_run(store(), connection.id, run.run_id, "the run function could not be started")
        raise


def _caller() -> str:
    """Who is calling: the IAM principal in the cloud, the key holder locally. Recorded when a run is approved."""
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller or f"API key holder at {identity.source_ip}"


def _view(connection: Connection, started_run: str | None = None) -> ConnectionView:
    state = store().get_state(connection.id)
    running = state.get("lock_run_id") if int(state.get("lock_expires_at", 0)) > clock.epoch() else None
    return ConnectionView(
        **connection.model_dump(),
        last_success_at=state.get("last_success_at"),
        last_run_id=state.get("last_run_id"),
        running_run=running,
        started_run=started_run,
        quarantine=state.get("quarantine"),
    )


@app.put(
    "/connections/<connection_id>",
    summary="Create or update a connection; a new one (or new credentials) starts a run",
)
def put_connection(connection_id: ConnectionId, body: Annotated[ConnectionInput, Body()]) -> Response[str]:
    if body.connector not in known_connectors():
        return Response(
            status_code=422,
            content_type=content_types.APPLICATION_JSON,
            body=ErrorBody(
                message=f"connector: unknown connector; known: {', '.join(known_connectors())}"
            ).model_dump_json(exclude_none=True),
        )
    db = store()
    try:
        old: Connection | None = db.get_connection(connection_id)
    except NotFoundError:
        old = None
    now = clock.iso()
    connection = Connection(
        id=connection_id,
        created_at=old.created_at if old else now,
        updated_at=now,
        secret_version=current_version(body.secret_name),
        **body.model_dump(),
    )
    get_connector(connection.connector).policy_for(connection)  # ConfigurationError (422) naming the field
    db.put_connection(connection)
    forget_connections()
    started = None
    new_credentials = old is not None and (old.secret_name, old.secret_version) != (
        connection.secret_name,
        connection.secret_version,
    )
    if old is None or new_credentials:
        try:
            started = _trigger(connection, "connection_saved").run_id
        except RunInProgressError:
            started = None
    view = _view(connection, started)
    return Response(
        status_code=201 if old is None else 200,
        content_type=content_types.APPLICATION_JSON,
        body=view.model_dump_json(),
    )


@app.get("/connections/<connection_id>", summary="A connection with its last successful sync and running run")
def get_connection(connection_id: ConnectionId) -> ConnectionView:
    return _view(store().get_connection(connection_id))


@app.delete("/connections/<connection_id>/quarantine", summary="Clear a connection's quarantine (an operator's call)")
def clear_quarantine(connection_id: ConnectionId) -> ConnectionView:
    db = store()
    connection = db.get_connection(connection_id)
    db.clear_quarantine(connection_id)
    logger.info("quarantine cleared by operator", extra={"connection_id": connection_id})
    return _view(connection)


@app.post(
    "/connections/<connection_id>/syncs",
    summary="Start a run now (202), or 409 with the running run's id",
    responses={
        202: {"description": "Run started"},
        404: {"description": "Unknown connection"},
        409: {"description": "A run is in progress"},
    },
)
def post_sync(connection_id: ConnectionId, body: Annotated[SyncRequest | None, Body()] = None) -> Response[str]:
    connection = store().get_connection(connection_id)
    body = body or SyncRequest()
    run = _trigger(connection, "api", body.employee_ids, full=body.full, force=body.force)
    accepted = SyncAccepted(run_id=run.run_id, status=run.status.value)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=accepted.model_dump_json())


@app.get("/connections/<connection_id>/syncs", summary="Recent runs, newest first")
def list_syncs(connection_id: ConnectionId) -> RunsView:
    store().get_connection(connection_id)
    return RunsView(runs=store().list_runs(connection_id))


@app.post(
    "/connections/<connection_id>/syncs/<run_id>/approve",
    summary="Let a run held by the mass-leaver safeguard go on (202); 409 unless it is waiting for approval",
)
def approve_sync(connection_id: ConnectionId, run_id: RunId) -> Response[str]:
    connection = store().get_connection(connection_id)
    function = _run_function(connection)
    run = approve_run(connection_id, run_id, _caller())
    _start_function(connection, function, run)
    accepted = SyncAccepted(run_id=run.run_id, status=run.status.value)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=accepted.model_dump_json())


@app.get("/connections/<connection_id>/syncs/<run_id>", summary="A run's status and counters")
def get_sync(connection_id: ConnectionId, run_id: RunId) -> Run:
    return store().get_run(connection_id, run_id)


@app.get("/connections/<connection_id>/syncs/<run_id>/log", summary="The run's log lines, in order")
def get_sync_log(connection_id: ConnectionId, run_id: RunId) -> LogView:
    store().get_run(connection_id, run_id)
    return LogView(run_id=run_id, lines=store().read_log(run_id))


@app.post(
    "/connections/<connection_id>/syncs/preview",
    summary="The confirm dialog: how many selected employees a sync would send, and why the others cannot be",
)
def preview_sync(connection_id: ConnectionId, body: Annotated[SelectionPreviewRequest, Body()]) -> SelectionPreview:
    return preview_selection(connection_id, body.employee_ids, body.filter)


@app.get(
    "/connections/<connection_id>/employees",
    summary="A tab: employees by status (all without), searched by name or code, a page at a time",
)
def list_employees(
    connection_id: ConnectionId,
    status: Annotated[SyncStatus | None, Query()] = None,
    search: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int | None, Query(ge=1, le=500)] = None,
) -> EmployeesView:
    return employee_tab(connection_id, status, search, page, page_size)


@app.put(
    "/connections/<connection_id>/employees/<employee_id>",
    summary="Assign a benefits level in hrsync (null: the source's); the next sync sends the change",
)
def put_employee(
    connection_id: ConnectionId, employee_id: EmployeeIdPath, body: Annotated[BenefitsLevelRequest, Body()]
) -> EmployeeState:
    return assign_benefits_level(connection_id, employee_id, body.benefits_level)


@app.get("/connections/<connection_id>/employees/<employee_id>", summary="One employee's status, link and history")
def get_employee(connection_id: ConnectionId, employee_id: EmployeeIdPath) -> EmployeeView:
    db = store()
    state = db.get_employee_state(connection_id, employee_id)
    if state is None:
        raise NotFoundError(f"employee {employee_id} not found on connection {connection_id}")
    return EmployeeView(
        employee=state,
        history=db.employee_history(connection_id, employee_id),
        payroll_changes=db.payroll_changes(connection_id, employee_id),
    )


@app.get("/connections/<connection_id>/conflicts", summary="The conflicts report")
def list_conflicts(connection_id: ConnectionId) -> ConflictsView:
    store().get_connection(connection_id)
    return ConflictsView(conflicts=store().list_conflicts(connection_id))


@app.post(
    "/connections/<connection_id>/conflicts/<conflict_id>/resolve",
    summary="Settle a field changed differently on both sides: the winner's value is written to the other side",
)
def resolve_conflict(
    connection_id: ConnectionId, conflict_id: ConflictId, body: Annotated[ResolveRequest, Body()]
) -> ConflictResolved:
    store().get_connection(connection_id)
    return ConflictResolved.model_validate(resolve_field_conflict(connection_id, conflict_id, body.winner))


@app.get("/failures", summary="Failures for review, newest first")
def list_failures(status: Annotated[FailureStatus, Query()] = "OPEN") -> FailuresView:
    return FailuresView(failures=store().list_failures(status))


@app.get("/failures/<failure_id>", summary="One failure for review")
def get_failure(failure_id: FailureId) -> Failure:
    return store().get_failure(failure_id)


@app.post(
    "/failures/<failure_id>/retry",
    summary="Sync the failed employee again (a run for that employee alone): 202, or 409 while a run is running",
)
def retry_failure(failure_id: FailureId) -> Response[str]:
    db = store()
    failure = db.get_failure(failure_id)
    if failure.status != "OPEN":
        raise StateConflictError(f"failure {failure_id} is {failure.status}, not open")
    if failure.connection_id == "-":
        raise StateConflictError(f"failure {failure_id} has no readable work item to retry; dismiss it")
    run = _trigger(db.get_connection(failure.connection_id), f"retry:{failure_id}", [failure.employee_id])
    db.close_failure(failure_id, "RETRIED", retry_run_id=run.run_id)
    accepted = RetryAccepted(failure_id=failure_id, run_id=run.run_id)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=accepted.model_dump_json())


@app.delete("/failures/<failure_id>", summary="Dismiss a failure with a note")
def dismiss_failure(failure_id: FailureId, body: Annotated[DismissRequest, Body()]) -> Failure:
    store().get_failure(failure_id)
    return store().close_failure(failure_id, "DISMISSED", note=body.note)


@app.get("/openapi.json", summary="This API's OpenAPI document", include_in_schema=False)
def openapi() -> Response[str]:
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=app.get_openapi_json_schema(title="hrsync", version="0.1.0"),
    )
