"""sync_worker: applies work items from SyncQueue, reporting partial batch failures."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hrsync.entry import handle_work_batch, lambda_entry, warm_up

warm_up()


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_work_batch(event, context)
