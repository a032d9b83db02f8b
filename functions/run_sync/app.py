"""run_sync: one function per connector (CONNECTOR env); the 04:00 schedule or an API-started run."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hrsync.entry import handle_run_event, lambda_entry, warm_up

warm_up()


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_run_event(event, context)
