"""Where the CLI talks to: the deployed stack (boto3, the IAM-signed API) or the local stack (.hrsync/local.json)."""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

LOCAL_STATE = Path(".hrsync") / "local.json"
DEFAULT_STACK = "hrsync"
SECRET_PREFIX = "hrsync/"  # noqa: S105 - a name prefix, not a secret
# Queue names as the template's logical ids; stack outputs give their URLs.
QUEUE_OUTPUTS = {"SyncQueue": "SyncQueueUrl", "SyncDLQ": "SyncDLQUrl", "ReviewDLQ": "ReviewDLQUrl"}


class TargetError(Exception):
    """The stack to talk to cannot be found or reached."""


class _SigV4(httpx.Auth):
    """Signs each request for API Gateway's AWS_IAM authorisation with the session's credentials."""

    requires_request_body = True

    def __init__(self, session: boto3.Session, region: str) -> None:
        self._session = session
        self._region = region

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        credentials = self._session.get_credentials()
        if credentials is None:
            raise TargetError("no AWS credentials found (set AWS_PROFILE or the usual AWS_* variables)")
        headers = {"content-type": request.headers["content-type"]} if "content-type" in request.headers else {}
        signed = AWSRequest(method=request.method, url=str(request.url), data=request.content, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self._region).add_auth(signed)
        request.headers.update(dict(signed.headers.items()))
        yield request


@dataclass
class Target:
    """One stack: its API, a boto3 session for its queues and secrets, and its queue URLs."""

    api_url: str
    session: boto3.Session
    queues: dict[str, str]
    endpoint_url: str | None = None
    api_headers: dict[str, str] = field(default_factory=dict)
    auth: httpx.Auth | None = None
    secret_prefix: str = SECRET_PREFIX

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url.rstrip("/"), headers=self.api_headers, auth=self.auth, timeout=httpx.Timeout(60.0)
        )

    def client(self, service: str) -> Any:
        make: Any = self.session.client  # boto3's stubs type each service name separately
        return make(service, endpoint_url=self.endpoint_url)


def local_target(state_file: Path | None = None) -> Target:
    """The local stack that `make up` (or a test) started, from the state file it wrote."""
    path = state_file or Path(os.environ.get("HRSYNC_LOCAL_STATE", "") or LOCAL_STATE)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetError(f"{path} not found: start the local stack with `make up`") from None
    except ValueError as exc:
        raise TargetError(f"{path} is not JSON ({exc})") from None
    missing = [name for name in ("api", "api_key", "aws_endpoint", "region") if name not in state]
    if missing:
        raise TargetError(f"{path} lacks {', '.join(missing)}: restart the local stack")
    session = boto3.Session(
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto takes any credentials
        region_name=state["region"],
    )
    return Target(
        api_url=state["api"],
        session=session,
        queues=dict(state.get("queues") or {}),
        endpoint_url=state["aws_endpoint"],
        api_headers={"x-api-key": state["api_key"]},
    )


def deployed_target(stack: str, region: str | None = None, profile: str | None = None) -> Target:
    """The deployed stack: API URL and queue URLs from its CloudFormation outputs, requests signed with SigV4."""
    session = boto3.Session(profile_name=profile, region_name=region)
    if not session.region_name:
        raise TargetError("no AWS region: pass --region or set AWS_REGION")
    try:
        described = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except Exception as exc:  # botocore's errors: no credentials, no such stack, no network
        raise TargetError(f"stack {stack} could not be described ({type(exc).__name__}: {exc})") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    if "ApiUrl" not in outputs:
        raise TargetError(f"stack {stack} has no ApiUrl output: is it an hrsync stack?")
    queues = {name: outputs[key] for name, key in QUEUE_OUTPUTS.items() if key in outputs}
    return Target(api_url=outputs["ApiUrl"], session=session, queues=queues, auth=_SigV4(session, session.region_name))
