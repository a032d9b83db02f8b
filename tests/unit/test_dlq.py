"""The DLQ wrapper: StartMessageMoveTask where SQS has it, a safe copy where it does not."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from hrsync.store.dlq import DeadLetterQueue


class MoveTaskSqs:
    """A fake SQS that supports StartMessageMoveTask, recording the call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
        return {"Attributes": {"QueueArn": f"arn:aws:sqs:eu-west-2:1:{QueueUrl.rsplit('/', 1)[-1]}"}}

    def start_message_move_task(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(kwargs)
        return {"TaskHandle": "handle-1"}


def test_redrive_uses_move_task_where_sqs_supports_it():
    sqs = MoveTaskSqs()
    result = DeadLetterQueue(sqs, "https://sqs/1/SyncDLQ").redrive("https://sqs/1/SyncQueue")
    assert (result.method, result.task_handle) == ("move_task", "handle-1")
    assert sqs.calls == [
        {"SourceArn": "arn:aws:sqs:eu-west-2:1:SyncDLQ", "DestinationArn": "arn:aws:sqs:eu-west-2:1:SyncQueue"}
    ]


@pytest.fixture
def queues(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sqs = boto3.client("sqs")
        yield (
            sqs,
            sqs.create_queue(QueueName="SyncDLQ")["QueueUrl"],
            sqs.create_queue(QueueName="SyncQueue")["QueueUrl"],
        )


def test_redrive_without_move_task_copies_every_message_once(queues):
    sqs, dlq, queue = queues
    for n in range(23):
        sqs.send_message(QueueUrl=dlq, MessageBody=f'{{"n": {n}}}')
    result = DeadLetterQueue(sqs, dlq).redrive(queue)  # moto raises NotImplementedError for the move task
    assert (result.method, result.moved) == ("copy", 23)
    bodies = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [m["Body"] for m in batch]
        for m in batch:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(bodies) == sorted(f'{{"n": {n}}}' for n in range(23))
    assert DeadLetterQueue(sqs, dlq).depth() == 0


def test_peek_leaves_messages_on_the_queue(queues):
    sqs, dlq, _ = queues
    sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    dead = DeadLetterQueue(sqs, dlq)
    [peeked] = dead.peek()
    assert peeked.body == "{}"
    assert len(sqs.receive_message(QueueUrl=dlq).get("Messages", [])) == 1
