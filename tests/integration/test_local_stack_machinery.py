"""The local stack's machinery (moto from the template, function hosts, event sources, Invoke, local API),
driven with throwaway handlers and a small template written to a temporary folder."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.localaws import LocalAws, load_template, translate_template
from sandbox.stack import LocalStack

REPO_ROOT = Path(__file__).resolve().parents[2]

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  WorkerMaxConcurrency:
    Type: Number
    Default: 3
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    Timeout: 10
    Layers: [!Ref SharedLayer]
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        WORK_QUEUE_URL: !Ref WorkQueue
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: gsi1pk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
      GlobalSecondaryIndexes:
        - IndexName: gsi1
          KeySchema: [{AttributeName: gsi1pk, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
      TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDLQ.Arn
        maxReceiveCount: 2
  WorkDLQ:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt FinalDLQ.Arn
        maxReceiveCount: 5
  FinalDLQ:
    Type: AWS::SQS::Queue
  FinalDLQPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref FinalDLQ]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: events.amazonaws.com}
            Action: sqs:SendMessage
            Resource: !GetAtt FinalDLQ.Arn
            Condition: {ArnEquals: {aws:SourceArn: !GetAtt EchoFunction.Arn}}
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/shared/
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/echo/
      Timeout: 2
      Environment:
        Variables:
          GREETING: !Sub "hello from ${AWS::Region}"
          WORKER: !Ref WorkerFunction
      EventInvokeConfig:
        MaximumRetryAttempts: 1
      Events:
        Nightly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 4 * * ? *)
            Input: '{"trigger": "schedule", "record": "scheduled"}'
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig:
              MaximumConcurrency: !Ref WorkerMaxConcurrency
  ReviewFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/review/
      Events:
        DeadLetters:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkDLQ.Arn
            FunctionResponseTypes: [ReportBatchItemFailures]
  RestApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/api/
      Events:
        Proxy:
          Type: Api
          Properties:
            RestApiId: !Ref RestApi
            Path: /{proxy+}
            Method: ANY
"""

SHARED_LAYER = """\
import os

import boto3


def record(pk, **attributes):
    item = {"pk": {"S": pk}, **{k: {"S": str(v)} for k, v in attributes.items()}}
    boto3.client("dynamodb").put_item(TableName=os.environ["TABLE_NAME"], Item=item)
"""

HANDLERS = {
    "echo": """\
import os

from shared_lib import record


def handler(event, context):
    if event.get("crash"):
        os._exit(3)
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise ValueError(event["fail"])
    if event.get("record"):
        record(event["record"], request_id=context.aws_request_id)
    return {
        "event": event,
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "greeting": os.environ["GREETING"],
        "worker": os.environ["WORKER"],
        "lambda_endpoint": os.environ["AWS_ENDPOINT_URL_LAMBDA"],
    }
""",
    "worker": """\
from shared_lib import record


def handler(event, context):
    failures = []
    for item in event["Records"]:
        count = item["attributes"]["ApproximateReceiveCount"]
        record(f"attempt#{item['body']}#{count}", source=item["eventSource"], arn=item["eventSourceARN"],
               attribute=item["messageAttributes"].get("kind", {}).get("stringValue", ""))
        if item["body"].startswith("poison"):
            failures.append({"itemIdentifier": item["messageId"]})
    return {"batchItemFailures": failures}
""",
    "review": """\
from shared_lib import record


def handler(event, context):
    for item in event["Records"]:
        record(f"dead#{item['body']}", count=item["attributes"]["ApproximateReceiveCount"])
    return {"batchItemFailures": []}
""",
    "api": """\
import json


def handler(event, context):
    if event["path"] == "/boom":
        raise RuntimeError("boom")
    return {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "X-Echo": "yes"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps({"event": event}),
        "isBase64Encoded": False,
    }
""",
}


def write_app(root: Path) -> Path:
    (root / "layers" / "shared").mkdir(parents=True)
    (root / "layers" / "shared" / "shared_lib.py").write_text(SHARED_LAYER)
    for name, source in HANDLERS.items():
        (root / "functions" / name).mkdir(parents=True)
        (root / "functions" / name / "app.py").write_text(textwrap.dedent(source))
    template = root / "template.yaml"
    template.write_text(TEMPLATE)
    return template


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("app")
    template = write_app(root)
    with LocalStack(
        template=template, simulators=False, connections=False, state_dir=root / ".hrsync", retry_delay=1
    ) as running:
        yield running


def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def table_items(stack: LocalStack) -> dict[str, dict[str, str]]:
    dynamodb = stack.client("dynamodb")
    items = dynamodb.scan(TableName=stack.resources.ref("Table"))["Items"]
    return {item["pk"]["S"]: {k: v["S"] for k, v in item.items()} for item in items}


# --------------------------------------------------------------------------------------------- resources
def test_stack_resources_created_from_template(stack: LocalStack) -> None:
    dynamodb, sqs = stack.client("dynamodb"), stack.client("sqs")
    table_name = stack.resources.ref("Table")

    table = dynamodb.describe_table(TableName=table_name)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    work = sqs.get_queue_attributes(QueueUrl=stack.resources.ref("WorkQueue"), AttributeNames=["All"])

    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["gsi1"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    redrive = json.loads(work["Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == stack.resources.get_att("WorkDLQ", "Arn")
    assert int(redrive["maxReceiveCount"]) == 2
    assert stack.state_file is not None
    assert json.loads(stack.state_file.read_text())["api"] == stack.api_url


def test_real_template_resources_created() -> None:
    template = REPO_ROOT / "template.yaml"
    if not template.exists():
        pytest.skip("template.yaml not written yet")
    with LocalAws() as aws:
        resources = aws.deploy(translate_template(load_template(template), aws.client("iam")))
        dynamodb, sqs = aws.client("dynamodb"), aws.client("sqs")
        table = dynamodb.describe_table(TableName=resources.ref("Table"))["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=resources.ref("Table"))["TimeToLiveDescription"]
        sync_queue = sqs.get_queue_attributes(QueueUrl=resources.ref("SyncQueue"), AttributeNames=["RedrivePolicy"])

    assert {index["IndexName"] for index in table["GlobalSecondaryIndexes"]} == {"gsi1", "gsi2"}
    assert ttl["TimeToLiveStatus"] == "ENABLED"
    redrive = json.loads(sync_queue["Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == resources.get_att("SyncDLQ", "Arn")


def test_function_environment_resolves_template_references(stack: LocalStack) -> None:
    result = stack.invoke("EchoFunction", {"hello": "world"})

    body = result.json()
    assert not result.error
    assert body["event"] == {"hello": "world"}
    assert body["function_name"] == "EchoFunction"
    assert body["greeting"] == "hello from eu-west-2"
    assert body["worker"] == "WorkerFunction"
    assert body["lambda_endpoint"] == stack.lambda_endpoint
    assert 0 < body["remaining_ms"] <= 2000


# --------------------------------------------------------------------------------------------- SQS
def test_sqs_batch_with_failing_record_retries_it_into_dlq(stack: LocalStack) -> None:
    sqs = stack.client("sqs")
    queue = stack.resources.ref("WorkQueue")
    attributes = {"kind": {"DataType": "String", "StringValue": "test"}}
    sqs.send_message_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "1", "MessageBody": "good-1", "MessageAttributes": attributes},
            {"Id": "2", "MessageBody": "poison-1"},
            {"Id": "3", "MessageBody": "good-2"},
        ],
    )

    stack.wait_idle(timeout=25)

    items = table_items(stack)
    assert {"attempt#good-1#1", "attempt#good-2#1"} <= set(items)
    assert not any(pk.startswith("attempt#good-1#2") for pk in items)  # deleted after the first success
    assert {"attempt#poison-1#1", "attempt#poison-1#2"} <= set(items)  # retried up to maxReceiveCount
    assert "attempt#poison-1#3" not in items
    assert "dead#poison-1" in items  # moved to the DLQ by moto, consumed by its event source
    assert items["attempt#good-1#1"]["source"] == "aws:sqs"
    assert items["attempt#good-1#1"]["arn"] == stack.resources.get_att("WorkQueue", "Arn")
    assert items["attempt#good-1#1"]["attribute"] == "test"


# --------------------------------------------------------------------------------------------- invoke
def test_lambda_invoke_sync_and_async_through_boto3(stack: LocalStack) -> None:
    client = stack.client("lambda")
    arn = "arn:aws:lambda:eu-west-2:123456789012:function:EchoFunction"

    sync = client.invoke(FunctionName=arn, Payload=json.dumps({"ping": 1}).encode())
    failed = client.invoke(FunctionName="EchoFunction", Payload=json.dumps({"fail": "nope"}).encode())
    queued = client.invoke(FunctionName="EchoFunction", InvocationType="Event", Payload=b'{"record": "async-1"}')

    assert sync["StatusCode"] == 200
    assert "FunctionError" not in sync
    assert json.loads(sync["Payload"].read())["event"] == {"ping": 1}
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "ValueError"
    assert queued["StatusCode"] == 202
    assert eventually(lambda: "async-1" in table_items(stack))
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")


def test_host_crash_and_timeout_become_errors_and_host_recovers(stack: LocalStack) -> None:
    crashed = stack.invoke("EchoFunction", {"crash": True})
    timed_out = stack.invoke("EchoFunction", {"sleep": 5})
    after = stack.invoke("EchoFunction", {"again": True})

    assert crashed.error
    assert crashed.json()["errorType"] == "Runtime.ExitError"
    assert timed_out.error
    assert timed_out.json()["errorType"] == "Sandbox.Timedout"
    assert not after.error
    assert after.json()["event"] == {"again": True}


def test_fire_schedule_invokes_function_with_schedule_input(stack: LocalStack) -> None:
    result = stack.fire_schedule("EchoFunction", wait=True)
    fired = httpx.post(f"{stack.lambda_endpoint}/_local/schedules/EchoFunction")

    assert result.json()["event"] == {"trigger": "schedule", "record": "scheduled"}
    assert fired.status_code == 202
    stack.wait_idle(timeout=10)
    assert "scheduled" in table_items(stack)


# --------------------------------------------------------------------------------------------- API
def test_local_api_without_key_is_forbidden(stack: LocalStack) -> None:
    response = httpx.get(f"{stack.api_url}/connections/x")

    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}


def test_local_api_round_trips_proxy_event_and_response(stack: LocalStack) -> None:
    with stack.api_client() as api:
        response = api.post("/connections/c-1/syncs?dry_run=true&tag=a&tag=b", json={"reason": "test"})
        broken = api.get("/boom")

    event = response.json()["event"]
    assert response.status_code == 201
    assert response.headers["x-echo"] == "yes"
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert event["resource"] == "/{proxy+}"
    assert event["path"] == "/connections/c-1/syncs"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"proxy": "connections/c-1/syncs"}
    assert event["queryStringParameters"] == {"dry_run": "true", "tag": "b"}
    assert event["multiValueQueryStringParameters"]["tag"] == ["a", "b"]
    assert json.loads(event["body"]) == {"reason": "test"}
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["stage"] == "v1"
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert event["headers"]["x-api-key"] == stack.api_key
    assert broken.status_code == 502
    assert broken.json() == {"message": "Internal server error"}
