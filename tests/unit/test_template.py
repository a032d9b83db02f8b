"""The properties of template.yaml that the design depends on (retries, redrive, retention, auth)."""

import copy
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from hrsync.models.work import WORKER_BATCH_MESSAGES
from sandbox.localaws import load_template

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
FOURTEEN_DAYS = 14 * 24 * 60 * 60


@cache
def _load_template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture
def template() -> dict[str, Any]:
    return copy.deepcopy(_load_template())


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def _props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]["Properties"]


def _function_names() -> list[str]:
    return sorted(_resources(_load_template(), "AWS::Serverless::Function"))


def test_rest_api_default_authorizer_is_aws_iam(template: dict[str, Any]) -> None:
    auth = _props(template, "RestApi")["Auth"]

    assert auth["DefaultAuthorizer"] == "AWS_IAM"


def test_api_events_every_route_on_rest_api_without_auth_override(template: dict[str, Any]) -> None:
    for name, function in _resources(template, "AWS::Serverless::Function").items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] != "Api":
                continue
            # An event without RestApiId lands on SAM's implicit API, which has no authorizer.
            assert event["Properties"].get("RestApiId") == {"Ref": "RestApi"}, name
            assert event["Properties"].get("Auth", {}).get("Authorizer", "AWS_IAM") == "AWS_IAM", name


def test_rest_api_translated_every_method_requires_aws_iam(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN the template through the SAM translator WHEN reading the OpenAPI body THEN no method is open."""
    from samtranslator.translator.transform import transform

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    sam = template
    for resource in sam["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/code.zip"
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "s3://bucket/layer.zip"

    class _NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    cfn = transform(sam, {}, _NoManagedPolicies())
    paths = cfn["Resources"]["RestApi"]["Properties"]["Body"]["paths"]

    methods = [(path, verb, op) for path, ops in paths.items() for verb, op in ops.items()]
    assert methods
    for path, verb, operation in methods:
        assert {"AWS_IAM": []} in operation.get("security", []), (path, verb)
        # Caller credentials would also demand lambda:InvokeFunction from every API user.
        assert "credentials" not in operation["x-amazon-apigateway-integration"], (path, verb)


def test_sync_queue_visibility_timeout_at_least_six_worker_timeouts(template: dict[str, Any]) -> None:
    worker_timeout = _props(template, "SyncWorkerFunction")["Timeout"]

    assert _props(template, "SyncQueue")["VisibilityTimeout"] >= 6 * worker_timeout


def test_sync_dlq_visibility_timeout_at_least_six_review_timeouts(template: dict[str, Any]) -> None:
    review_timeout = _props(template, "FailedSyncReviewFunction")["Timeout"]

    assert _props(template, "SyncDLQ")["VisibilityTimeout"] >= 6 * review_timeout


def test_redrive_chain_exhausted_items_move_sync_queue_to_sync_dlq_to_review_dlq(
    template: dict[str, Any],
) -> None:
    sync_redrive = _props(template, "SyncQueue")["RedrivePolicy"]
    dlq_redrive = _props(template, "SyncDLQ")["RedrivePolicy"]

    assert sync_redrive == {"deadLetterTargetArn": {"Fn::GetAtt": ["SyncDLQ", "Arn"]}, "maxReceiveCount": 5}
    assert dlq_redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["ReviewDLQ", "Arn"]}
    # the receive count carries over into the DLQ, so the review gets attempts of its own only above it
    assert dlq_redrive["maxReceiveCount"] > sync_redrive["maxReceiveCount"]
    assert "RedrivePolicy" not in _props(template, "ReviewDLQ")


def test_event_sources_each_queue_read_by_its_function(template: dict[str, Any]) -> None:
    worker = _props(template, "SyncWorkerFunction")["Events"]["WorkItems"]["Properties"]
    review = _props(template, "FailedSyncReviewFunction")["Events"]["DeadLetters"]["Properties"]

    assert worker["Queue"] == {"Fn::GetAtt": ["SyncQueue", "Arn"]}
    assert review["Queue"] == {"Fn::GetAtt": ["SyncDLQ", "Arn"]}
    for source in (worker, review):
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert worker["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "WorkerMaxConcurrency"}
    assert worker["BatchSize"] == WORKER_BATCH_MESSAGES  # a run sizes its first slice by it


def test_every_function_knows_the_worker_concurrency(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["WORKER_CONCURRENCY"] == {"Ref": "WorkerMaxConcurrency"}


@pytest.mark.parametrize("queue", ["ReviewDLQ", "ScheduleDLQ", "SyncDLQ"])
def test_dead_letter_queue_retention_is_fourteen_days(template: dict[str, Any], queue: str) -> None:
    assert _props(template, queue)["MessageRetentionPeriod"] == FOURTEEN_DAYS


def test_table_expired_items_ttl_attribute_is_expires_at(template: dict[str, Any]) -> None:
    ttl = _props(template, "Table")["TimeToLiveSpecification"]

    assert ttl == {"AttributeName": "expires_at", "Enabled": True}


def test_table_point_in_time_recovery_is_enabled(template: dict[str, Any]) -> None:
    pitr = _props(template, "Table")["PointInTimeRecoverySpecification"]

    assert pitr == {"PointInTimeRecoveryEnabled": True}


def test_table_stack_deleted_table_is_retained(template: dict[str, Any]) -> None:
    table = template["Resources"]["Table"]

    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


def test_queues_at_rest_all_encrypted(template: dict[str, Any]) -> None:
    queues = _resources(template, "AWS::SQS::Queue")

    assert set(queues) == {"SyncQueue", "SyncDLQ", "ReviewDLQ", "ScheduleDLQ"}
    for name, queue in queues.items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, name


@pytest.mark.parametrize("function", _function_names())
def test_function_logs_own_group_has_retention(template: dict[str, Any], function: str) -> None:
    expected_name = {"Fn::Sub": f"/aws/lambda/${{{function}}}"}

    groups = [
        group["Properties"]
        for group in _resources(template, "AWS::Logs::LogGroup").values()
        if group["Properties"].get("LogGroupName") == expected_name
    ]

    assert len(groups) == 1
    assert groups[0]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_rest_api_access_logs_own_group_has_retention(template: dict[str, Any]) -> None:
    destination = _props(template, "RestApi")["AccessLogSetting"]["DestinationArn"]
    group_id = destination["Fn::GetAtt"][0]

    assert _props(template, group_id)["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_run_sync_schedule_daily_four_am_in_stack_timezone(template: dict[str, Any]) -> None:
    events = _props(template, "StaffologyExpenseInSyncFunction")["Events"]
    schedules = [e["Properties"] for e in events.values() if e["Type"] == "ScheduleV2"]

    assert len(schedules) == 1
    schedule = schedules[0]
    assert schedule["ScheduleExpression"] == "cron(0 4 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == {"Ref": "ScheduleTimezone"}
    assert schedule["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["ScheduleDLQ", "Arn"]}}
    assert template["Parameters"]["ScheduleTimezone"]["Default"] == "Europe/London"


def test_micropay_ess_run_function_four_am_in_australian_timezone_and_startable_by_api(
    template: dict[str, Any],
) -> None:
    props = _props(template, "MicropayEssSyncFunction")
    [schedule] = [e["Properties"] for e in props["Events"].values() if e["Type"] == "ScheduleV2"]
    run_functions = _props(template, "ApiFunction")["Environment"]["Variables"]["RUN_FUNCTIONS"]["Fn::Sub"]
    invokable = [
        p["LambdaInvokePolicy"]["FunctionName"]
        for p in _props(template, "ApiFunction")["Policies"]
        if isinstance(p, dict) and "LambdaInvokePolicy" in p
    ]

    assert props["Environment"]["Variables"]["CONNECTOR"] == "micropay-ess"
    assert schedule["ScheduleExpression"] == "cron(0 4 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == {"Ref": "MicropayScheduleTimezone"}
    assert template["Parameters"]["MicropayScheduleTimezone"]["Default"].startswith("Australia/")
    assert props["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    assert '"micropay-ess": "${MicropayEssSyncFunction}"' in run_functions
    assert {"Ref": "MicropayEssSyncFunction"} in invokable


def test_run_sync_async_failure_lambda_retries_zero(template: dict[str, Any]) -> None:
    config = _props(template, "StaffologyExpenseInSyncFunction")["EventInvokeConfig"]

    assert config["MaximumRetryAttempts"] == 0


def test_function_roles_none_shared_each_gets_its_own(template: dict[str, Any]) -> None:
    functions = _resources(template, "AWS::Serverless::Function")
    assert functions
    assert "Role" not in template.get("Globals", {}).get("Function", {})
    explicit = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values() if "Role" in f["Properties"]]
    assert len(explicit) == len(set(explicit))  # a role written by hand serves one function only


def test_sqs_consumers_scoped_to_their_queue_not_managed_policy(template: dict[str, Any]) -> None:
    # SAM's generated role would attach AWSLambdaSQSQueueExecutionRole (SQS actions on every queue).
    functions = _resources(template, "AWS::Serverless::Function")
    for name, queue in (("SyncWorkerFunction", "SyncQueue"), ("FailedSyncReviewFunction", "SyncDLQ")):
        role = template["Resources"][functions[name]["Properties"]["Role"]["Fn::GetAtt"][0]]
        statements = [st for p in role["Properties"]["Policies"] for st in p["PolicyDocument"]["Statement"]]
        sqs = [st for st in statements if any(a.startswith("sqs:") for a in st["Action"])]
        assert sqs and all(st["Resource"] == {"Fn::GetAtt": [queue, "Arn"]} for st in sqs), name
        assert "ManagedPolicyArns" not in role["Properties"], name
        wildcard = [st for st in statements if st["Resource"] == "*"]
        assert all(a.startswith("xray:") for st in wildcard for a in st["Action"]), name


def test_function_inline_statements_no_wildcard_actions(template: dict[str, Any]) -> None:
    for name, function in _resources(template, "AWS::Serverless::Function").items():
        for policy in function["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                actions = statement["Action"]
                for action in [actions] if isinstance(actions, str) else actions:
                    assert "*" not in action, (name, action)


def test_every_connector_has_its_run_function_schedule_and_api_entry(template: dict[str, Any]) -> None:
    """A connector without a run function (with its schedule), an entry in RUN_FUNCTIONS and the API's permission to
    invoke it could be saved as a connection and never run."""
    import json

    from hrsync.connectors import known_connectors

    functions = _resources(template, "AWS::Serverless::Function")
    by_connector = {
        f["Properties"]["Environment"]["Variables"]["CONNECTOR"]: name
        for name, f in functions.items()
        if "CONNECTOR" in f["Properties"].get("Environment", {}).get("Variables", {})
    }
    api = _props(template, "ApiFunction")
    run_functions = json.loads(
        api["Environment"]["Variables"]["RUN_FUNCTIONS"]["Fn::Sub"].replace("${", "").replace('}"', '"')
    )
    invokable = {p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in api["Policies"] if "LambdaInvokePolicy" in p}

    assert set(by_connector) == set(known_connectors())
    for connector, function in by_connector.items():
        assert run_functions[connector] == function
        assert function in invokable
        props = _props(template, function)
        assert props["EventInvokeConfig"]["MaximumRetryAttempts"] == 0, function
        [schedule] = [e["Properties"] for e in props["Events"].values() if e["Type"] == "ScheduleV2"]
        # The MicrOpay connectors serve Australian employers: 04:00 in their own timezone parameter
        timezone = "MicropayScheduleTimezone" if connector.startswith("micropay-") else "ScheduleTimezone"
        assert schedule["ScheduleExpressionTimezone"] == {"Ref": timezone}, function


def test_alarms_watch_every_dlq_review_errors_and_quarantine_and_notify_the_topic(template: dict[str, Any]) -> None:
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    watched_queues = {
        a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in alarms.values()
        if a["Properties"]["Namespace"] == "AWS/SQS"
    }
    dead_letter_queues = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in _resources(template, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    } | {"ScheduleDLQ"}
    assert watched_queues == dead_letter_queues == {"SyncDLQ", "ReviewDLQ", "ScheduleDLQ"}
    review = [a for a in alarms.values() if a["Properties"]["Namespace"] == "AWS/Lambda"]
    assert [a["Properties"]["Dimensions"][0]["Value"] for a in review] == [{"Ref": "FailedSyncReviewFunction"}]
    quarantine = _props(template, "QuarantinedConnectionsAlarm")
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert (quarantine["Namespace"], quarantine["MetricName"]) == (namespace, "ConnectionsQuarantined")
    for alarm in alarms.values():
        props = alarm["Properties"]
        assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert props["AlarmActions"] == {
            "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
        }
