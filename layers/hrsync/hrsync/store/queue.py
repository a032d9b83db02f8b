"""SyncQueue: work items out, in batches of ten."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3

from hrsync.models.work import WorkItem
from hrsync.store.dynamo import StoreError


@lru_cache(maxsize=1)
def _sqs() -> Any:
    return boto3.client("sqs")


def send_work_items(queue_url: str, items: list[WorkItem]) -> None:
    """SendMessageBatch in tens; entries SQS refuses are sent again, then reported."""
    for start in range(0, len(items), 10):
        chunk = {str(i): item for i, item in enumerate(items[start : start + 10])}
        for _ in range(5):
            response = _sqs().send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": key, "MessageBody": item.model_dump_json()} for key, item in chunk.items()],
            )
            failed = {entry["Id"] for entry in response.get("Failed", [])}
            chunk = {key: item for key, item in chunk.items() if key in failed}
            if not chunk:
                break
        else:
            raise StoreError(f"SQS refused {len(chunk)} work items after 5 tries")


def reset_clients() -> None:
    _sqs.cache_clear()
