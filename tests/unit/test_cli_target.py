"""The CLI's deployed mode without AWS: the stack's outputs through moto, SigV4 on every API request."""

from __future__ import annotations

import json
import re

import boto3
import httpx
import pytest
from moto import mock_aws

from hrsync_cli.target import TargetError, deployed_target, local_target

TEMPLATE = {
    "Resources": {"Q": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {
        "ApiUrl": {"Value": "https://abc123.execute-api.eu-west-2.amazonaws.com/v1"},
        "SyncQueueUrl": {"Value": {"Ref": "Q"}},
        "SyncDLQUrl": {"Value": {"Ref": "Q"}},
    },
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    with mock_aws():
        yield


def test_deployed_target_reads_outputs_and_signs_each_request_for_execute_api(aws):
    boto3.client("cloudformation", region_name="eu-west-2").create_stack(
        StackName="hrsync", TemplateBody=json.dumps(TEMPLATE)
    )
    target = deployed_target("hrsync", region="eu-west-2")
    assert target.api_url.endswith("/v1") and set(target.queues) == {"SyncQueue", "SyncDLQ"}

    seen: list[httpx.Request] = []
    with target.api() as client:
        client._transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json={}))
        client.post("/connections/acme/syncs", json={"dry_run": True})

    (request,) = seen
    authorization = request.headers["authorization"]
    key = boto3.Session().get_credentials().access_key  # moto's, inside mock_aws
    assert re.match(rf"AWS4-HMAC-SHA256 Credential={key}/\d{{8}}/eu-west-2/execute-api/aws4_request, ", authorization)
    assert "SignedHeaders=content-type;host;x-amz-date" in authorization and "x-amz-date" in request.headers
    assert str(request.url) == "https://abc123.execute-api.eu-west-2.amazonaws.com/v1/connections/acme/syncs"


def test_deployed_target_unknown_stack_says_which(aws):
    with pytest.raises(TargetError, match="stack nope could not be described"):
        deployed_target("nope", region="eu-west-2")


def test_local_target_state_without_api_key_names_what_is_missing(tmp_path):
    state = tmp_path / "local.json"
    state.write_text(json.dumps({"api": "http://127.0.0.1:1", "region": "eu-west-2"}))
    with pytest.raises(TargetError, match="lacks api_key, aws_endpoint"):
        local_target(state)
