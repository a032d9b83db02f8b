"""Operations through the API on moto with the real simulators: dry runs, deleting a connection, re-checking
a conflict, and bodies that are not JSON."""

from __future__ import annotations

import boto3
import httpx
import pytest

from sandbox.sample import employee_id, expensein_user, staffology_employee
from tests.integration.conftest import CONNECTION_ID, api, create_connection, drain, run_invocations

pytestmark = pytest.mark.usefixtures("aws")
SYNCS = f"/connections/{CONNECTION_ID}/syncs"


def load(sim, path: str, records) -> None:
    httpx.put(f"{sim.url}/_sandbox/{path}", json=records).raise_for_status()


def requests_to(sim) -> list[dict]:
    return httpx.get(f"{sim.url}/_sandbox/requests").json()


def table(aws) -> list[dict]:
    return sorted(
        boto3.client("dynamodb").scan(TableName=aws.table)["Items"], key=lambda i: (i["pk"]["S"], i["sk"]["S"])
    )


def sync(aws, body=None) -> dict:
    status, accepted = api("api-post-sync.json", path=SYNCS, body=body or {})
    assert status == 202, accepted
    run_invocations(aws)
    drain(aws)
    return api("api-get-run.json", path=f"{SYNCS}/{accepted['run_id']}")[1]


@pytest.fixture
def connected(aws, systems):
    staffology, expensein = systems
    load(expensein, "departments", [{"reference": "SALES", "name": "Sales"}])
    create_connection(staffology, expensein, aws)
    return staffology, expensein


def test_dry_run_plans_what_the_run_then_does_and_writes_nothing(aws, connected):
    staffology, expensein = connected
    people = [staffology_employee(f"E{i:03}", "Ann", "Lee", f"a{i}@example.com") for i in range(4)]
    people.append(staffology_employee("E900", "Bo", "Kim", None))
    load(staffology, "records", people)
    load(expensein, "records", [expensein_user("u-1", "E001", "Ann", "Leigh", "a1@example.com", department="SALES")])
    before, seen = table(aws), len(requests_to(staffology)) + len(requests_to(expensein))

    status, plan = api("api-post-sync.json", path=SYNCS, body={"dry_run": True})

    assert status == 200, plan
    assert table(aws) == before and not aws.invocations
    assert {r["method"] for r in (requests_to(staffology) + requests_to(expensein))[seen:]} == {"GET"}
    assert boto3.client("sqs").receive_message(QueueUrl=aws.queue_url).get("Messages") is None
    assert sorted(p["code"] for p in plan["creates"]) == ["E000", "E002", "E003"]
    assert [(p["code"], p["target_id"], p["fields"]) for p in plan["updates"]] == [("E001", "u-1", ["last_name"])]
    assert [(p["code"], p["reason"]) for p in plan["not_syncing"]] == [("E900", "missing required field: email")]
    assert plan["held_for_approval"] is None and plan["log"][-1].startswith("3 to create, 1 to update")

    run = sync(aws)
    c, r = plan["counters"], run["counters"]
    assert (r["created"], r["updated"], r["not_syncing"], r["in_step"]) == (3, 1, 1, 0)
    assert (c["to_create"], c["to_update"], c["not_syncing"], c["in_step"]) == (3, 1, 1, 0)


def test_dry_run_says_the_safeguard_would_hold_and_may_run_beside_a_run(aws, connected):
    staffology, _ = connected
    people = [staffology_employee(f"E{i:03}", "Ann", "Lee", f"a{i}@example.com") for i in range(10)]
    load(staffology, "records", people)
    sync(aws)
    gone = [
        staffology_employee(f"E{i:03}", "Ann", "Lee", f"a{i}@example.com", status="Former", leave_date="2026-11-01")
        for i in range(6)
    ]
    load(staffology, "records", gone + people[6:])
    status, queued = api("api-post-sync.json", path=SYNCS, body={})  # holds the lock, not started yet
    assert status == 202

    status, plan = api("api-post-sync.json", path=SYNCS, body={"dry_run": True})

    assert status == 200 and "6 leaver marks exceed the safeguard of 5" in plan["held_for_approval"]
    assert len(plan["leavers"]) == 6 and all(p["fields"] == ["leave_date"] for p in plan["leavers"])
    status, one = api("api-post-sync.json", path=SYNCS, body={"dry_run": True, "employee_ids": [employee_id("E007")]})
    assert status == 200 and one["counters"]["in_step"] == 1 and one["employee_ids"] == [employee_id("E007")]
    assert api("api-get-run.json", path=f"{SYNCS}/{queued['run_id']}")[1]["status"] == "QUEUED"


def test_dry_run_source_unreadable_answers_503_with_the_reason(aws, connected):
    staffology, _ = connected
    httpx.put(f"{staffology.url}/_sandbox/faults", json={"error_rate": 1.0, "error_status": 500}).raise_for_status()
    status, body = api("api-post-sync.json", path=SYNCS, body={"dry_run": True})
    assert status == 503 and "Staffology Payroll could not be read" in body["message"]
    assert api("api-post-sync.json", path="/connections/unknown/syncs", body={"dry_run": True})[0] == 404


def test_delete_connection_refused_while_running_then_links_kept(aws, connected):
    staffology, _ = connected
    load(staffology, "records", [staffology_employee("E001", "Ann", "Lee", "a1@example.com")])
    sync(aws)
    path = f"/connections/{CONNECTION_ID}"
    status, _ = api("api-post-sync.json", path=SYNCS, body={})
    assert status == 202
    status, busy = api("api-get-connection.json", path=path, method="DELETE")
    assert status == 409 and busy["run_id"]
    run_invocations(aws)
    drain(aws)

    status, deleted = api("api-get-connection.json", path=path, method="DELETE")

    assert status == 200 and deleted["id"] == CONNECTION_ID
    assert api("api-get-connection.json", path=path)[0] == 404
    assert api("api-get-connection.json", path=path, method="DELETE")[0] == 404
    assert CONNECTION_ID not in [c["id"] for c in api("api-get-connection.json", path="/connections")[1]["connections"]]
    kept = boto3.client("dynamodb").get_item(
        TableName=aws.table, Key={"pk": {"S": f"CONN#{CONNECTION_ID}"}, "sk": {"S": f"EMP#{employee_id('E001')}"}}
    )
    assert kept["Item"]["status"]["S"] == "SUCCESSFUL"


def test_conflict_resolve_rechecks_only_its_employees(aws, connected):
    staffology, expensein = connected
    load(
        staffology,
        "records",
        [
            staffology_employee("E001", "Ann", "Lee", "a1@example.com"),
            staffology_employee("E002", "Bo", "Kim", "b2@example.com"),
        ],
    )
    twins = [
        expensein_user("u-1", "E001", "Ann", "Lee", "a1@example.com"),
        expensein_user("u-2", "E001", "Ann", "Lee", "ann@example.com"),
        expensein_user("u-3", "E002", "Bo", "Kim", "b2@example.com"),
        expensein_user("u-4", "E002", "Bo", "Kim", "bo@example.com"),
    ]
    load(expensein, "records", twins)
    sync(aws)
    conflicts_path = f"/connections/{CONNECTION_ID}/conflicts"
    conflicts = {c["code"]: c for c in api("api-get-connection.json", path=conflicts_path)[1]["conflicts"]}
    assert set(conflicts) == {"E001", "E002"}
    load(expensein, "records", [u for u in twins if u["id"] != "u-2"])  # someone fixes E001's duplicate

    status, accepted = api(
        "api-post-sync.json", path=f"{conflicts_path}/resolve", body={"conflict_id": conflicts["E001"]["conflict_id"]}
    )
    assert status == 202 and accepted["employee_ids"] == [employee_id("E001")]
    run_invocations(aws)
    drain(aws)

    left = api("api-get-connection.json", path=conflicts_path)[1]["conflicts"]
    assert [c["code"] for c in left] == ["E002"]  # E002's stays as the full run left it
    assert api("api-post-sync.json", path=f"{conflicts_path}/resolve", body={"conflict_id": "nope"})[0] == 404


def test_bodies_that_are_not_json_refused_naming_what_is_wrong(aws, connected):
    from functions_api import handler

    from tests.integration.conftest import FakeContext, load_event

    event = load_event("api-post-sync.json")
    event.update(
        path=SYNCS, body="a=1", headers={**(event.get("headers") or {}), "Content-Type": "multipart/form-data"}
    )
    response = handler(event, FakeContext("ApiFunction", 29))
    assert response["statusCode"] == 415 and "application/json" in response["body"]
    status, body = api("api-post-sync.json", path=SYNCS, body={"dry_run": "perhaps"})
    assert status == 422 and body["message"].startswith("dry_run:") and body["detail"][0]["loc"] == ["body", "dry_run"]
