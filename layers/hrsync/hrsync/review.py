"""Failed-sync review: a work item that kept failing reaches SyncDLQ and becomes a failure to work through."""

from __future__ import annotations

from pydantic import ValidationError

from hrsync import clock
from hrsync.apply import finish_item, pending_state
from hrsync.context import store
from hrsync.models.records import Failure, SyncStatus
from hrsync.models.work import WorkMessage
from hrsync.observability import logger
from hrsync.runs import finish_run_if_done
from hrsync.settings import get_settings


def review_dead_letter(body: str, message_id: str) -> None:
    """Record each still-pending item of a dead-lettered message for review and set the employee FAILED with
    the last reason; the items of the message that had finished are left as they are."""
    db = store()
    try:
        message = WorkMessage.model_validate_json(body)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(body)" for e in exc.errors(include_input=False))
        logger.error("unreadable dead-lettered message", extra={"message_id": message_id, "fields": fields})
        db.put_employee_states(
            [],
            failures=[
                Failure(
                    failure_id=clock.new_id(),
                    connection_id="-",
                    employee_id="-",
                    run_id="-",
                    action="-",
                    reason=f"unreadable work item (fields: {fields})",
                    failure_class="unreadable_message",
                    attempts=get_settings().max_receive_count,
                    time=clock.iso(),
                    message_id=message_id,
                )
            ],
        )
        return
    runs = set()
    for item in message.items:
        state = pending_state(item)
        if state is None:
            continue
        reason = state.last_error or "the change kept failing and was dead-lettered"
        if finish_item(
            item,
            state,
            SyncStatus.FAILED,
            reason,
            counter="failed",
            failure_class="dead_lettered",
            attempts=max(state.attempts, get_settings().max_receive_count),
        ):
            runs.add((item.connection_id, item.run_id))
    for connection_id, run_id in sorted(runs):
        finish_run_if_done(db, connection_id, run_id)
