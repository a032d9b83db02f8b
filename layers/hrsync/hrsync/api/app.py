"""Routes of the REST API. Each route is one call into a use case; errors map to responses once, below."""

from __future__ import annotations

import json
import pathlib
from typing import Annotated, Any, Literal

from aws_lambda_powertools import event_handler
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

from hrsync import clock
from hrsync.api.examples import EXAMPLES, INVALID_EXAMPLE
from hrsync.conflicts import resolve_field_conflict
from hrsync.connectors import get_connector, known_connectors
from hrsync.context import forget_connections, store
from hrsync.errors import (
    ConfigurationError,
    ExternalSystemError,
    NotFoundError,
    RecordNotFoundError,
    RunInProgressError,
    StateConflictError,
)
from hrsync.models.api import (
    BenefitsLevelRequest,
    ConflictResolveAccepted,
    ConflictResolved,
    ConflictResolveRequest,
    ConflictsView,
    ConnectionsView,
    ConnectionView,
    DismissRequest,
    DryRunPlan,
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
from hrsync.models.records import EmployeeState, Failure, Run, RunStatus, SyncStatus
from hrsync.observability import logger
from hrsync.runs import approve_run, fail_run, start_run
from hrsync.selection import assign_benefits_level, employee_tab, preview_selection
from hrsync.settings import get_settings
from hrsync.store.functions import InvokeError, invoke_async, invoke_sync
from hrsync.store.secrets import current_version

app = APIGatewayRestResolver(enable_validation=True)
ConnectionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
RunId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
ConflictId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:#-]+$")]
FailureId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
FailureStatus = Literal["OPEN", "RETRIED", "DISMISSED"]
EmployeeIdPath = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]

TITLE = "hrsync"
VERSION = "0.1.0"
DESCRIPTION = (
    "Operations API of hrsync: connections, runs (and dry runs), employees' sync status, conflicts and "
    "failures for review. The deployed stack signs every request with AWS SigV4 (API Gateway AWS_IAM); the "
    "local stack (`make up`) asks for the `x-api-key` header from `.hrsync/local.json` instead. Errors are "
    "`{message}` (409 while a run is running adds `run_id`); 422 validation errors name the field."
)
SECURITY_SCHEMES: dict[str, Any] = {
    "localApiKey": APIKey(
        name="x-api-key", **{"in": APIKeyIn.header}, description="Local stack only: the key in .hrsync/local.json"
    ),
    "sigv4": APIKey(
        name="Authorization",
        **{"in": APIKeyIn.header},
        description="Deployed stack: an AWS SigV4 signature (service execute-api), e.g. awscurl or the hrsync CLI",
    ),
}
_ERROR_EXAMPLES = {
    404: ("Nothing with that id", {"message": "connection acme not found"}),
    409: (
        "Refused in the current state (a run is running: run_id names it)",
        {"message": "connection acme is already running run 20261122T040000Z-3f2a", "run_id": "20261122T040000Z-3f2a"},
    ),
    415: ("The body is not JSON (every body is application/json)", {"message": "only application/json is accepted"}),
    503: ("The run function could not be called or could not plan", {"message": "run function failed (error)"}),
}


def _answers(ok: int, model: Any, description: str, *errors: int, example: str) -> dict[int, Any]:
    """OpenAPI responses of a route: its answer and the domain errors it can give, each with an example (422 is
    added by Powertools, and given its example in openapi_document)."""
    content: dict[str, Any] = {"model": model, "examples": {example: {"value": EXAMPLES[example]}}}
    responses: dict[int, Any] = {ok: {"description": description, "content": {"application/json": content}}}
    for code in errors:
        text, body = _ERROR_EXAMPLES[code]
        responses[code] = {
            "description": text,
            "content": {"application/json": {"model": ErrorBody, "examples": {"error": {"value": body}}}},
        }
    return responses


def _json(status: int, body: ErrorBody) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(exclude_none=True),
    )


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response[str]:
    """422 naming each field and what is wrong with it (pydantic's message; the input is never echoed)."""
    detail = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "invalid")), "type": str(e.get("type", "invalid"))}
        for e in exc.errors()
    ]
    where = "; ".join(f"{'.'.join(str(p) for p in d['loc'][1:]) or d['loc'][0]}: {d['msg']}" for d in detail)
    return Response(
        status_code=422,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"message": where or "invalid request", "detail": detail}),
    )


@app.exception_handler(UnicodeDecodeError)
def _undecodable_body(exc: UnicodeDecodeError) -> Response[str]:
    detail = [{"loc": ["body"], "msg": "the body is not UTF-8 JSON", "type": "json_invalid"}]
    return Response(
        status_code=422,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"message": "body: not UTF-8 JSON", "detail": detail}),
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


@app.exception_handler(RecordNotFoundError)
def _record_gone(exc: RecordNotFoundError) -> Response[str]:
    """A vendor system no longer holds a record a route needed (resolving a field conflict, say)."""
    return _json(404, ErrorBody(message=str(exc)))


@app.exception_handler(ExternalSystemError)
def _system_failed(exc: ExternalSystemError) -> Response[str]:
    """A vendor system a route had to call could not answer: 503 with the reason (ids, never values)."""
    return _json(503, ErrorBody(message=str(exc)))


def _run_function(connection: Connection) -> str:
    function = get_settings().run_functions.get(connection.connector)
    if not function:
        raise ConfigurationError(f"no run function is deployed for connector {connection.connector}")
    return function


class DryRunError(InvokeError):
    """The dry run could not plan (a system could not be read, the connection is misconfigured)."""


@app.exception_handler(DryRunError)
def _dry_run_failed(exc: DryRunError) -> Response[str]:
    return _json(503, ErrorBody(message=str(exc)))


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


@app.get(
    "/connections",
    summary="Every connection, of every connector",
    responses=_answers(200, ConnectionsView, "The connections", example="connections"),
)
def list_connections() -> ConnectionsView:
    db = store()
    connections = [c for connector in known_connectors() for c in db.connections_of(connector)]
    return ConnectionsView(connections=[_view(c) for c in sorted(connections, key=lambda c: c.id)])


@app.put(
    "/connections/<connection_id>",
    summary="Create or update a connection; a new one (or new credentials) starts a run",
    description=(
        "The credentials are not in the body: store them first in Secrets Manager under `secret_name` as "
        '`{"source": {"api_key": ...}, "target": {"api_key": ...}}`. 201 for a new connection, 200 for an update; '
        "`started_run` names the run that saving started, if any."
    ),
    responses={
        **_answers(201, ConnectionView, "Created (a run started)", 415, 503, example="connection"),
        **_answers(200, ConnectionView, "Updated", example="connection"),
    },
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


@app.get(
    "/connections/<connection_id>",
    summary="A connection with its last successful sync and running run",
    responses=_answers(200, ConnectionView, "The connection", 404, example="connection"),
)
def get_connection(connection_id: ConnectionId) -> ConnectionView:
    return _view(store().get_connection(connection_id))


@app.delete(
    "/connections/<connection_id>",
    summary="Delete a connection (409 while a run is running); its links and history stay",
    description=(
        "Stops the connection's runs. Links, statuses and history are kept, so saving the connection again "
        "carries on where it stopped; the secret in Secrets Manager is left to its owner."
    ),
    responses=_answers(200, ConnectionView, "Deleted; the connection as it was", 404, 409, example="connection"),
)
def delete_connection(connection_id: ConnectionId) -> ConnectionView:
    db = store()
    connection = db.get_connection(connection_id)
    view = _view(connection)
    db.delete_connection(connection_id)
    forget_connections()
    logger.info("connection deleted", extra={"connection_id": connection_id})
    return view


@app.delete(
    "/connections/<connection_id>/quarantine",
    summary="Clear a connection's quarantine (an operator's call)",
    responses=_answers(200, ConnectionView, "Quarantine cleared", 404, example="connection"),
)
def clear_quarantine(connection_id: ConnectionId) -> ConnectionView:
    db = store()
    connection = db.get_connection(connection_id)
    db.clear_quarantine(connection_id)
    logger.info("quarantine cleared by operator", extra={"connection_id": connection_id})
    return _view(connection)


@app.post(
    "/connections/<connection_id>/syncs",
    summary="Start a run now (202), or with dry_run plan it and return the plan (200)",
    description=(
        "Without a body the whole population is synced; `employee_ids` limits the run to those employees. "
        "`dry_run: true` reads both systems and plans exactly as a run would, and answers the plan: creates, "
        "updates with the names of the fields that would change, leavers, not syncing with reasons, conflicts "
        "and the counts a real run would record. A dry run writes nothing to either system or to hrsync's "
        "state, takes no lock and may run while a run is running."
    ),
    responses={
        **_answers(202, SyncAccepted, "Run started", 404, 409, 415, 503, example="accepted"),
        **_answers(200, DryRunPlan, "Dry run: the plan", example="plan"),
    },
)
def post_sync(connection_id: ConnectionId, body: Annotated[SyncRequest | None, Body()] = None) -> Response[str]:
    connection = store().get_connection(connection_id)
    body = body or SyncRequest()
    if body.dry_run:
        plan = _dry_run(connection, body.employee_ids, full=body.full, force=body.force)
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=plan.model_dump_json())
    run = _trigger(connection, "api", body.employee_ids, full=body.full, force=body.force)
    accepted = SyncAccepted(run_id=run.run_id, status=run.status.value)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=accepted.model_dump_json())


def _dry_run(
    connection: Connection, employee_ids: list[str] | None, *, full: bool = False, force: bool = False
) -> DryRunPlan:
    """Plan in the connector's run function (which holds the credentials), synchronously; nothing is stored."""
    function = _run_function(connection)
    run = Run(
        connection_id=connection.id,
        run_id=f"dry-run-{clock.new_id()}",
        trigger="dry_run",
        status=RunStatus.QUEUED,
        queued_at=clock.iso(),
        employee_ids=sorted(set(employee_ids)) if employee_ids else None,
        full=full,
        force=force,
    )
    answer = invoke_sync(function, {"dry_run": run.model_dump(mode="json")})
    if "dry_run_error" in answer:
        raise DryRunError(f"the dry run could not plan: {answer['dry_run_error']}")
    return DryRunPlan.model_validate(answer)


@app.get(
    "/connections/<connection_id>/syncs",
    summary="Recent runs, newest first",
    responses=_answers(200, RunsView, "Runs", 404, example="runs"),
)
def list_syncs(connection_id: ConnectionId) -> RunsView:
    store().get_connection(connection_id)
    return RunsView(runs=store().list_runs(connection_id))


@app.post(
    "/connections/<connection_id>/syncs/<run_id>/approve",
    summary="Let a run held by the mass-leaver safeguard go on (202); 409 unless it is waiting for approval",
    responses=_answers(202, SyncAccepted, "Approved: the run starts again", 404, 409, 503, example="accepted"),
)
def approve_sync(connection_id: ConnectionId, run_id: RunId) -> Response[str]:
    connection = store().get_connection(connection_id)
    function = _run_function(connection)
    run = approve_run(connection_id, run_id, _caller())
    _start_function(connection, function, run)
    accepted = SyncAccepted(run_id=run.run_id, status=run.status.value)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=accepted.model_dump_json())


@app.get(
    "/connections/<connection_id>/syncs/<run_id>",
    summary="A run's status and counters",
    responses=_answers(200, Run, "The run", 404, example="run"),
)
def get_sync(connection_id: ConnectionId, run_id: RunId) -> Run:
    return store().get_run(connection_id, run_id)


@app.get(
    "/connections/<connection_id>/syncs/<run_id>/log",
    summary="The run's log lines, in order",
    responses=_answers(200, LogView, "The log", 404, example="log"),
)
def get_sync_log(connection_id: ConnectionId, run_id: RunId) -> LogView:
    store().get_run(connection_id, run_id)
    return LogView(run_id=run_id, lines=store().read_log(run_id))


@app.post(
    "/connections/<connection_id>/syncs/preview",
    summary="The confirm dialog: how many selected employees a sync would send, and why the others cannot be",
    responses=_answers(200, SelectionPreview, "What a sync of the selection would send", 404, 415, example="preview"),
)
def preview_sync(connection_id: ConnectionId, body: Annotated[SelectionPreviewRequest, Body()]) -> SelectionPreview:
    return preview_selection(connection_id, body.employee_ids, body.filter)


@app.get(
    "/connections/<connection_id>/employees",
    summary="A tab: employees by status (all without), searched by name or code, a page at a time",
    responses=_answers(200, EmployeesView, "A page of employees", 404, example="employees"),
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
    responses=_answers(200, EmployeeState, "The employee with the level assigned", 404, 415, example="assigned"),
)
def put_employee(
    connection_id: ConnectionId, employee_id: EmployeeIdPath, body: Annotated[BenefitsLevelRequest, Body()]
) -> EmployeeState:
    return assign_benefits_level(connection_id, employee_id, body.benefits_level)


@app.get(
    "/connections/<connection_id>/employees/<employee_id>",
    summary="One employee's status, link and history",
    responses=_answers(200, EmployeeView, "The employee", 404, example="employee"),
)
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


@app.get(
    "/connections/<connection_id>/conflicts",
    summary="The conflicts report",
    responses=_answers(200, ConflictsView, "Conflicts found by the last run", 404, example="conflicts"),
)
def list_conflicts(connection_id: ConnectionId) -> ConflictsView:
    store().get_connection(connection_id)
    return ConflictsView(conflicts=store().list_conflicts(connection_id))


@app.post(
    "/connections/<connection_id>/conflicts/<conflict_id>/resolve",
    summary="Settle a field changed differently on both sides: the winner's value is written to the other side",
    responses=_answers(200, ConflictResolved, "The winner's value written", 404, 409, 415, example="field_resolved"),
)
def resolve_conflict(
    connection_id: ConnectionId, conflict_id: ConflictId, body: Annotated[ResolveRequest, Body()]
) -> ConflictResolved:
    store().get_connection(connection_id)
    return ConflictResolved.model_validate(resolve_field_conflict(connection_id, conflict_id, body.winner))


@app.post(
    "/connections/<connection_id>/conflicts/resolve",
    summary="Re-check a conflict once its data was fixed: a run for the employees it names (202)",
    description=(
        "For a conflict of duplicates (a reference or an email held twice) hrsync picks no side: someone fixes "
        "the data in the system that holds it, then asks for this. The run re-reads and re-plans those "
        "employees: the conflict leaves the report when it is gone, and the employees sync."
    ),
    responses=_answers(202, ConflictResolveAccepted, "Re-check started", 404, 409, 415, 503, example="resolve"),
)
def recheck_conflict(connection_id: ConnectionId, body: Annotated[ConflictResolveRequest, Body()]) -> Response[str]:
    db = store()
    connection = db.get_connection(connection_id)
    conflict = next((c for c in db.list_conflicts(connection_id) if c.conflict_id == body.conflict_id), None)
    if conflict is None:
        raise NotFoundError(f"conflict {body.conflict_id} not found on connection {connection_id}")
    if not conflict.employee_ids:
        raise StateConflictError(
            f"conflict {body.conflict_id} names no employee; the next full run re-checks it once the data is fixed"
        )
    run = _trigger(connection, "resolve_conflict", conflict.employee_ids)
    accepted = ConflictResolveAccepted(
        conflict_id=conflict.conflict_id, run_id=run.run_id, employee_ids=conflict.employee_ids
    )
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=accepted.model_dump_json())


@app.get(
    "/failures",
    summary="Failures for review, newest first",
    responses=_answers(200, FailuresView, "Failures", example="failures"),
)
def list_failures(status: Annotated[FailureStatus, Query()] = "OPEN") -> FailuresView:
    return FailuresView(failures=store().list_failures(status))


@app.get(
    "/failures/<failure_id>",
    summary="One failure for review",
    responses=_answers(200, Failure, "The failure", 404, example="failure"),
)
def get_failure(failure_id: FailureId) -> Failure:
    return store().get_failure(failure_id)


@app.post(
    "/failures/<failure_id>/retry",
    summary="Sync the failed employee again (a run for that employee alone): 202, or 409 while a run is running",
    responses=_answers(202, RetryAccepted, "Retry run started", 404, 409, 503, example="retry"),
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


@app.delete(
    "/failures/<failure_id>",
    summary="Dismiss a failure with a note",
    responses=_answers(200, Failure, "Dismissed", 404, 415, example="dismissed"),
)
def dismiss_failure(failure_id: FailureId, body: Annotated[DismissRequest, Body()]) -> Failure:
    store().get_failure(failure_id)
    return store().close_failure(failure_id, "DISMISSED", note=body.note)


def resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The API function's entry: a body in anything but JSON is refused here (415), before Powertools would
    try to parse it as a form; then the routes above."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").strip().lower()
    if event.get("body") and content_type and not content_type.startswith(content_types.APPLICATION_JSON):
        return {
            "statusCode": 415,
            "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": ErrorBody(message="only application/json is accepted").model_dump_json(exclude_none=True),
            "isBase64Encoded": False,
        }
    return app.resolve(event, context)


def openapi_document() -> str:
    """This API's OpenAPI document, as /openapi.json serves it and /docs shows it."""
    document = json.loads(
        app.get_openapi_json_schema(
            title=TITLE,
            version=VERSION,
            description=DESCRIPTION,
            servers=[
                Server(url=".", description="relative to this document: the stage (/v1) deployed, the root locally")
            ],
            security_schemes=SECURITY_SCHEMES,
            security=[{"sigv4": []}, {"localApiKey": []}],
        )
    )
    # Powertools writes every route's 422 itself: give it what the handler above answers.
    for item in document["paths"].values():
        for operation in item.values():
            invalid = operation.get("responses", {}).get("422")
            if invalid:
                invalid["description"] = "Invalid input: each field named, with what is wrong (never its value)"
                invalid["content"]["application/json"]["examples"] = {"invalid": {"value": INVALID_EXAMPLE}}
    return json.dumps(document)


@app.get("/openapi.json", summary="This API's OpenAPI document", include_in_schema=False)
def openapi() -> Response[str]:
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_document())


_SWAGGER_ASSETS = pathlib.Path(event_handler.__file__).parent / "openapi" / "swagger_ui"


@app.get("/docs", summary="Swagger UI over this API's OpenAPI document", include_in_schema=False)
def swagger_ui() -> Response[str]:
    """Assets bundled with Powertools: nothing is fetched from elsewhere."""
    html = generate_swagger_html(
        openapi_document().replace("</", "<\\/"),
        (_SWAGGER_ASSETS / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (_SWAGGER_ASSETS / "swagger-ui.min.css").read_text(encoding="utf-8"),
        "",
        None,
    )
    return Response(status_code=200, content_type="text/html", body=html)
