"""api: the REST API behind API Gateway (AWS_IAM on every route)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hrsync.api.app import resolve
from hrsync.entry import lambda_entry, warm_up

warm_up()


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(event, context)
