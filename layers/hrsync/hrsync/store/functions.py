"""Calling a connector's run function: asynchronously to start a run, synchronously for a dry run's plan."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from hrsync.errors import HrsyncError


class InvokeError(HrsyncError):
    """The run function could not be started."""


@lru_cache(maxsize=1)
def _lambda() -> Any:
    return boto3.client("lambda")


def invoke_async(function_name: str, payload: dict[str, Any]) -> None:
    try:
        _lambda().invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps(payload).encode())
    except (ClientError, BotoCoreError) as exc:
        raise InvokeError(f"run function could not be started ({type(exc).__name__})") from exc


def invoke_sync(function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Invoke and wait for the answer; InvokeError when it cannot be called or the function failed."""
    try:
        response = _lambda().invoke(
            FunctionName=function_name, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
        )
        answer = json.loads(response["Payload"].read() or b"null")
    except (ClientError, BotoCoreError, ValueError) as exc:
        raise InvokeError(f"run function could not be called ({type(exc).__name__})") from exc
    if response.get("FunctionError") or not isinstance(answer, dict):
        kind = answer.get("errorType", "error") if isinstance(answer, dict) else "no answer"
        raise InvokeError(f"run function failed ({kind})")
    return answer
