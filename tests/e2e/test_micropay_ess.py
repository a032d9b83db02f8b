"""MicrOpay -> Access ESS end to end on the local stack: the demo's sample employer through the local API, every
case checked, and the Web API log of a real run read back in the product's order with a month's expiry."""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox import demo_micropay
from sandbox.demo import wait_for_run

pytestmark = pytest.mark.e2e


def test_e2e_micropay_ess_each_case_and_the_web_api_log(stack, api):
    state = stack.state()
    connection = state["connections"][demo_micropay.CONNECTOR]
    for system in ("micropay", "ess"):
        httpx.post(f"{state['systems'][system]}/_sandbox/reset").raise_for_status()

    assert demo_micropay.run_demo(state, api, wait_for_run)  # prints an UNEXPECTED line for any case that failed

    runs = api.get(f"/connections/{connection}/syncs").json()["runs"]
    with_uploads = next(r for r in runs if r["full_read"] is False and r["counters"]["updated"])
    lines = api.get(f"/connections/{connection}/syncs/{with_uploads['run_id']}/log").json()["lines"]
    messages = [line["message"] for line in lines]
    expected = [
        "Job Started",
        "Clearing cache",
        "Importing from lookups: country",
        "Importing pay frequency",
        "Importing employees from MicrOpay",
        "Employees read:",
        "0 to create, 1 to update",
        "Uploads to payroll queued: 1 applied at once",
        "Job Finished",
    ]
    positions = [next(i for i, m in enumerate(messages) if m.startswith(prefix)) for prefix in expected]
    assert positions == sorted(positions), messages
    table = stack.resources.ref("Table")
    items = stack.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"RUN#{with_uploads['run_id']}"}},
    )["Items"]
    month = time.time() + 30 * 24 * 3600
    assert len(items) == len(lines)
    assert all(abs(int(item["expires_at"]["N"]) - month) < 600 for item in items)
