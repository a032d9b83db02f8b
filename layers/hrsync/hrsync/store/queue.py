"""SyncQueue: work items out, several to a message, ten messages to a SendMessageBatch."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3

from hrsync.models.work import WorkItem, WorkMessage, items_per_message
from hrsync.store.dynamo import StoreError


@lru_cache(maxsize=1)
def client() -> Any:
    return boto3.client("sqs")


def pack(items: list[WorkItem], size: int | None = None) -> list[WorkMessage]:
    size = size or items_per_message(len(items))
    return [WorkMessage(items=tuple(items[start : start + size])) for start in range(0, len(items), size)]


def send_work_items(queue_url: str, items: list[WorkItem], per_message: int | None = None) -> int:
    """Send the items packed into messages (`per_message` items each, else sized for their number),
    SendMessageBatch in tens; entries SQS refuses are sent again, then reported. Returns the number of
    messages."""
    messages = pack(items, per_message)
    for start in range(0, len(messages), 10):
        chunk = {str(i): message for i, message in enumerate(messages[start : start + 10])}
        for _ in range(5):
            response = client().send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": key, "MessageBody": message.model_dump_json()} for key, message in chunk.items()],
            )
            failed = {entry["Id"] for entry in response.get("Failed", [])}
            chunk = {key: message for key, message in chunk.items() if key in failed}
            if not chunk:
                break
        else:
            raise StoreError(f"SQS refused {len(chunk)} work messages after 5 tries")
    return len(messages)


def reset_clients() -> None:
    client.cache_clear()
