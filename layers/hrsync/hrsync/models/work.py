"""Work items: one employee action each, carried on SyncQueue several to a message. Ids and field names only,
never personal data."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# A message holds at most this many items: a worker invocation (10 messages) then has at most 250 changes,
# about 6 s at a 200/s target shared by 5 workers, far inside its 60 s timeout.
MAX_ITEMS_PER_MESSAGE = 25
# A run is spread over about this many messages at least, so every worker gets a share of a small run too.
SPREAD_MESSAGES = 200


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    MARK_LEAVER = "mark_leaver"


class WorkItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    connection_id: str
    run_id: str
    employee_id: str
    action: Action
    target_id: str | None = None
    fields: tuple[str, ...] = ()


class WorkMessage(BaseModel):
    """One SyncQueue message: up to MAX_ITEMS_PER_MESSAGE items, applied together and retried together (an
    item already finished is skipped when the message comes again)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    items: tuple[WorkItem, ...] = Field(min_length=1, max_length=MAX_ITEMS_PER_MESSAGE)


WORKER_BATCH_MESSAGES = 10  # template.yaml: SyncWorkerFunction's SQS BatchSize (a test keeps them equal)


def items_per_message(count: int) -> int:
    """How many items a message carries for a run of `count` changes: spread small runs over many messages,
    cap large ones."""
    return max(1, min(MAX_ITEMS_PER_MESSAGE, -(-count // SPREAD_MESSAGES)))
