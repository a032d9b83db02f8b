"""Starting a connector's run function asynchronously (the API's on-demand trigger)."""

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
