"""Integration fixtures: moto as AWS (in-process, mock_aws) with the table and queues built from
template.yaml's own properties, the real simulators on loopback, and the real handlers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sandbox.localaws import load_template, tune_moto
from sandbox.simulators import ExpenseInSimulator, StaffologySimulator
from sandbox.simulators.expensein import DEFAULT_API_KEY as EXPENSEIN_KEY
from sandbox.simulators.staffology import DEFAULT_API_KEY as STAFFOLOGY_KEY
from sandbox.simulators.staffology import DEFAULT_EMPLOYER_ID

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
REGION = "eu-west-2"
CONNECTION_ID = "acme-payroll"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


class FakeContext:
    """A LambdaContext stand-in with the attributes Powertools reads."""

    def __init__(self, name: str = "fn", timeout_s: int = 60) -> None:
        self.function_name = name
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self._timeout_ms = timeout_s * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


def _resources() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")["Resources"]


def _create_table(name: str) -> None:
    props = _resources()["Table"]["Properties"]
    boto3.client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=props["BillingMode"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
    )
    ttl = props["TimeToLiveSpecification"]
    boto3.client("dynamodb").update_time_to_live(
        TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
    )


def _max_receive(queue: str) -> int:
    return int(_resources()[queue]["Properties"]["RedrivePolicy"]["maxReceiveCount"])


@dataclass
class Aws:
    table: str
    queue_url: str
    dlq_url: str
    invocations: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "hrsync-test")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "hrsync")
    tune_moto()  # the worker applies items in threads: moto must answer them atomically
    with mock_aws():
        sqs = boto3.client("sqs")
        dlq = sqs.create_queue(QueueName="SyncDLQ")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue = sqs.create_queue(
            QueueName="SyncQueue",
            Attributes={
                "VisibilityTimeout": "0",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": _max_receive("SyncQueue")}
                ),
            },
        )["QueueUrl"]
        _create_table("hrsync-test")
        monkeypatch.setenv("TABLE_NAME", "hrsync-test")
        monkeypatch.setenv("SYNC_QUEUE_URL", queue)
        monkeypatch.setenv("SYNC_DLQ_URL", dlq)
        monkeypatch.setenv("RUN_FUNCTIONS", json.dumps({"staffology-expensein": "StaffologyExpenseInSyncFunction"}))
        monkeypatch.setenv("CONNECTOR", "staffology-expensein")
        monkeypatch.setenv("TARGET_RETRY_ATTEMPTS", "2")
        _reset_caches()
        state = Aws(table="hrsync-test", queue_url=queue, dlq_url=dlq)
        # Lambda's async invoke is the one AWS call moto cannot run (it needs Docker): record it instead,
        # and the test drives run_sync with the payload, as the local emulator does.
        monkeypatch.setattr("hrsync.api.app.invoke_async", lambda name, payload: state.invocations.append(payload))
        # A dry run invokes run_sync synchronously: run its handler in place, as Lambda would answer.
        monkeypatch.setattr("hrsync.api.app.invoke_sync", _invoke_run_function)
        yield state
        _reset_caches()


def _invoke_run_function(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    from functions_run_sync import handler

    return handler(json.loads(json.dumps(payload)), FakeContext(name, 900))


def _reset_caches() -> None:
    from aws_lambda_powertools.utilities import parameters

    from hrsync import context, settings
    from hrsync.store import dynamo, queue, secrets

    settings.get_settings.cache_clear()
    context.store.cache_clear()
    context.forget_connections()
    dynamo.reset_clients()
    queue.reset_clients()
    secrets.reset_clients()
    parameters.clear_caches()


@pytest.fixture
def systems() -> Iterator[tuple[StaffologySimulator, ExpenseInSimulator]]:
    with StaffologySimulator() as staffology, ExpenseInSimulator() as expensein:
        yield staffology, expensein


def api(
    event_name: str,
    *,
    path: str | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
    method: str | None = None,
) -> tuple[int, Any]:
    """Call ApiFunction's handler with an event from events/, optionally changed."""
    from functions_api import handler

    event = load_event(event_name)
    if path is not None:
        event["path"] = path
        event["pathParameters"] = {"proxy": path.lstrip("/")}
    if method is not None:
        event["httpMethod"] = method
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    if query is not None:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    response = handler(event, FakeContext("ApiFunction", 29))
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def create_connection(
    staffology: StaffologySimulator, expensein: ExpenseInSimulator, aws: Aws, options: dict[str, Any] | None = None
) -> None:
    boto3.client("secretsmanager").create_secret(
        Name=f"hrsync/{CONNECTION_ID}",
        SecretString=json.dumps({"source": {"api_key": STAFFOLOGY_KEY}, "target": {"api_key": EXPENSEIN_KEY}}),
    )
    body = load_event("api-put-connection.json")["body"]
    body = json.loads(body)
    body["source"] = {"base_url": staffology.url, "employer_id": DEFAULT_EMPLOYER_ID}
    body["target"] = {"base_url": f"{expensein.url}/1.0"}
    body["options"] = options or {}
    status, _ = api("api-put-connection.json", body=body)
    assert status == 201
    run_invocations(aws)
    drain(aws)


def run_invocations(aws: Aws) -> None:
    """Play Lambda's part for the API's async invokes of run_sync."""
    from functions_run_sync import handler

    while aws.invocations:
        handler(aws.invocations.pop(0), FakeContext("StaffologyExpenseInSyncFunction", 900))


def _receive(url: str) -> list[dict[str, Any]]:
    return (
        boto3.client("sqs")
        .receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0)
        .get("Messages", [])
    )


def _sqs_event(messages: list[dict[str, Any]], queue: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{queue}",
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def drain(aws: Aws, max_rounds: int = 100) -> None:
    """Play Lambda's event sources: SyncQueue -> sync_worker, SyncDLQ -> failed_sync_review, until both are empty."""
    from functions_failed_sync_review import handler as review
    from functions_sync_worker import handler as worker

    sqs = boto3.client("sqs")
    for _ in range(max_rounds):
        busy = False
        for url, name, fn in ((aws.queue_url, "SyncQueue", worker), (aws.dlq_url, "SyncDLQ", review)):
            messages = _receive(url)
            if not messages:
                continue
            busy = True
            result = fn(_sqs_event(messages, name), FakeContext(name, 60))
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            for m in messages:
                if m["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if not busy:
            return
    raise AssertionError("queues did not drain")
