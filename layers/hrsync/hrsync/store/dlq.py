"""Dead-letter queues for the people on call: look without consuming, and redrive a whole queue.

Redrive uses SQS StartMessageMoveTask where the service supports it (real SQS). Where it does not (moto
raises NotImplementedError; some endpoints answer UnsupportedOperation) the wrapper moves messages itself:
receive, send to the destination, then delete from the DLQ, so a crash part-way can duplicate a message but
never lose one (work items are idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from hrsync.store.dynamo import StoreError


@dataclass(frozen=True)
class Redrive:
    method: str  # "move_task" or "copy"
    moved: int | None  # None when SQS moves them in the background (move task)
    task_handle: str | None = None


@dataclass(frozen=True)
class PeekedMessage:
    message_id: str
    body: str
    receive_count: int


class DeadLetterQueue:
    """One DLQ, through an SQS client passed in (boto3's, or a fake in tests)."""

    def __init__(self, sqs: Any, url: str) -> None:
        self._sqs = sqs
        self.url = url

    def _arn(self, url: str) -> str:
        attributes = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        return str(attributes["QueueArn"])

    def depth(self) -> int:
        attributes = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    def peek(self, limit: int = 10) -> list[PeekedMessage]:
        """Read up to `limit` messages and make them visible again at once (they stay on the queue)."""
        response = self._sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=min(10, max(1, limit)),
            VisibilityTimeout=30,
            AttributeNames=["ApproximateReceiveCount"],
        )
        messages = response.get("Messages", [])
        for message in messages:
            self._sqs.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return [
            PeekedMessage(
                message_id=m["MessageId"],
                body=m["Body"],
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
            )
            for m in messages
        ]

    def redrive(self, destination_url: str, *, max_messages: int = 100_000) -> Redrive:
        """Move every message back to `destination_url`."""
        try:
            task = self._sqs.start_message_move_task(
                SourceArn=self._arn(self.url), DestinationArn=self._arn(destination_url)
            )
            return Redrive(method="move_task", moved=None, task_handle=task.get("TaskHandle"))
        except NotImplementedError:
            pass
        except ClientError as exc:
            # SQS's JSON protocol prefixes the code (AWS.SimpleQueueService.UnsupportedOperation).
            code = str(exc.response.get("Error", {}).get("Code", "")).rsplit(".", 1)[-1]
            if code not in ("UnsupportedOperation", "InvalidAction"):
                raise StoreError(f"SQS refused the move task: {exc.response['Error']['Code']}") from exc
        return Redrive(method="copy", moved=self._copy(destination_url, max_messages))

    def _copy(self, destination_url: str, max_messages: int) -> int:
        moved = 0
        while moved < max_messages:
            messages = self._sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                self._sqs.send_message(QueueUrl=destination_url, MessageBody=message["Body"])
                self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
        return moved
