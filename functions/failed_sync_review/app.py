"""failed_sync_review: turns dead-lettered work items into failures for review."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hrsync.entry import handle_dead_letters, lambda_entry, warm_up

warm_up()


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_dead_letters(event, context)
