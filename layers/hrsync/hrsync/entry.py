"""What every Lambda entry point shares: the Powertools decorator stack, event parsing and the deadline.

Handlers in functions/ stay wiring: `@lambda_entry` around one call into a use case.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from functools import wraps
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    BatchProcessor,
    EventType,
    async_process_partial_response,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from hrsync.apply import Batch, apply_items
from hrsync.context import store
from hrsync.errors import ConfigurationError, HrsyncError
from hrsync.models.records import Run
from hrsync.models.work import WorkMessage
from hrsync.observability import logger, metrics, tracer
from hrsync.review import review_dead_letter
from hrsync.runs import dry_run, execute_run, run_scheduled
from hrsync.settings import get_settings
from hrsync.store import dynamo, queue, secrets
from hrsync.systems.http import tls_context

SAFETY_MARGIN_S = 3.0
Handler = Callable[[dict[str, Any], LambdaContext], Any]


def warm_up() -> None:
    """In Lambda, create the AWS clients and the TLS context while the function initialises, as AWS advises
    for SDK clients: its init phase runs before the first request. A new worker's first batch spent about a
    second on them (and the reads they wait behind) while its share of the target's limit went unused.
    Elsewhere (tests, the CLI) nothing is made here: clients are made on first use, so tests' mocks apply."""
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    store()
    dynamo.client()
    secrets.provider()
    queue.client()
    tls_context()


def lambda_entry(handler: Handler) -> Handler:
    """Logger context, tracing and metrics flushing around a handler, applied once here."""

    @wraps(handler)
    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def wrapped(event: dict[str, Any], context: LambdaContext) -> Any:
        return handler(event, context)

    return wrapped


def deadline_of(context: LambdaContext) -> Callable[[], float]:
    """Seconds this invocation may still spend on retries."""
    return lambda: context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_S


class RunInvocation(BaseModel):
    connection_id: str
    run_id: str


class ScheduleInvocation(BaseModel):
    trigger: str


class DryRunInvocation(BaseModel):
    """The API's dry run: the run as it would start, never stored; answered with the plan."""

    dry_run: Run


def handle_run_event(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """run_sync: an API-started run (`{connection_id, run_id}`), the schedule (`{"trigger": "schedule"}`) or a
    dry run (`{"dry_run": run}`, answered with the plan)."""
    deadline = deadline_of(context)
    if "dry_run" in event:
        try:
            return dry_run(DryRunInvocation.model_validate(event).dry_run, deadline).model_dump(mode="json")
        except HrsyncError as exc:  # messages carry ids and reasons only
            return {"dry_run_error": str(exc)}
    try:
        run = RunInvocation.model_validate(event)
    except ValidationError:
        try:
            ScheduleInvocation.model_validate(event)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors(include_input=False))
            raise ConfigurationError(f"run_sync event is neither a run nor a schedule (fields: {fields})") from exc
        connector = get_settings().connector
        if not connector:
            raise ConfigurationError("CONNECTOR is not set for this run function") from None
        started = run_scheduled(connector, lambda cid, rid: execute_run(cid, rid, deadline))
        return {"scheduled": started}
    execute_run(run.connection_id, run.run_id, deadline)
    return {"run_id": run.run_id}


def handle_work_batch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """sync_worker: each record a message of work items; the messages are applied concurrently (each in a
    thread: the adapters are synchronous) and their items concurrently within; a message with an item to try
    again is reported as failed (ReportBatchItemFailures) and comes back with only that item still pending."""
    deadline = deadline_of(context)
    messages: dict[str, WorkMessage] = {}
    for record in event.get("Records", []):
        try:
            messages[record["messageId"]] = WorkMessage.model_validate_json(record["body"])
        except (KeyError, ValueError):
            continue  # reported as that record's failure below, and dead-lettered in the end
    batch = Batch.prefetch([item for message in messages.values() for item in message.items])

    def apply(record: SQSRecord) -> None:
        message = messages.get(record.message_id) or WorkMessage.model_validate_json(record.body)
        receive_count = int(record.attributes.approximate_receive_count or 1)
        apply_items(list(message.items), receive_count=receive_count, deadline=deadline, batch=batch)

    async def record_handler(record: SQSRecord) -> None:
        await asyncio.to_thread(apply, record)

    try:
        return async_process_partial_response(  # type: ignore[return-value]
            event=event,
            record_handler=record_handler,
            processor=AsyncBatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False),
            context=context,
        )
    finally:
        batch.settle()


def handle_dead_letters(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """failed_sync_review: each dead-lettered work item becomes a failure for review."""

    def record_handler(record: SQSRecord) -> None:
        review_dead_letter(record.body, record.message_id)

    return process_partial_response(  # type: ignore[return-value]
        event=event,
        record_handler=record_handler,
        processor=BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False),
        context=context,
    )
