"""The whole pipeline on moto with the real simulators: API -> run_sync -> SyncQueue -> sync_worker
(-> SyncDLQ -> failed_sync_review), through the real handlers and events from events/."""

from __future__ import annotations

import httpx
import pytest

from hrsync.errors import AttemptInProgressError
from sandbox.sample import employee_id, staffology_employee
from tests.integration.conftest import CONNECTION_ID, api, create_connection, drain, run_invocations

pytestmark = pytest.mark.usefixtures("aws")


def load(sim, path: str, records) -> None:
    httpx.put(f"{sim.url}/_sandbox/{path}", json=records).raise_for_status()


def users(expensein) -> list[dict]:
    return httpx.get(f"{expensein.url}/_sandbox/records").json()


def writes(sim) -> list[dict]:
    return [r for r in httpx.get(f"{sim.url}/_sandbox/requests").json() if r["method"] in ("POST", "PATCH", "PUT")]


def trigger() -> str:
    status, body = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body={})
    assert status == 202, body
    return body["run_id"]


def sync(aws) -> str:
    status, body = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body={})
    assert status == 202, body
    run_invocations(aws)
    drain(aws)
    return body["run_id"]


def run_view(run_id: str) -> dict:
    status, body = api("api-get-run.json", path=f"/connections/{CONNECTION_ID}/syncs/{run_id}")
    assert status == 200
    return body


@pytest.fixture
def connected(aws, systems):
    staffology, expensein = systems
    load(
        expensein, "departments", [{"reference": "SALES", "name": "Sales"}, {"reference": "ENG", "name": "Engineering"}]
    )
    create_connection(staffology, expensein, aws)
    return staffology, expensein


def test_pipeline_new_employees_created_then_second_run_sends_nothing(aws, connected):
    staffology, expensein = connected
    load(
        staffology,
        "records",
        [
            staffology_employee("E001", "Ann", "Lee", "ann@example.com"),
            staffology_employee("E002", "Bob", "Ray", "bob@example.com", department="ENG", status="Upcoming"),
            staffology_employee("E003", "Cy", "Ode", None),
        ],
    )
    run_id = sync(aws)
    run = run_view(run_id)
    assert run["status"] == "SUCCEEDED"
    assert run["counters"]["created"] == 2 and run["counters"]["not_syncing"] == 1
    by_ref = {u["reference"]: u for u in users(expensein)}
    assert set(by_ref) == {"E001", "E002"}
    assert by_ref["E002"]["department"] == "ENG" and by_ref["E001"]["invited"] is False
    status, body = api(
        "api-list-employees.json", query={"status": "NOT_SYNCING"}, path=f"/connections/{CONNECTION_ID}/employees"
    )
    assert status == 200
    [missing] = body["employees"]
    assert missing["employee_id"] == employee_id("E003") and missing["reason"] == "missing required field: email"

    before = len(writes(expensein))
    second = run_view(sync(aws))
    assert second["status"] == "SUCCEEDED" and second["counters"]["in_step"] == 2
    assert len(writes(expensein)) == before

    status, log = api("api-get-run-log.json", path=f"/connections/{CONNECTION_ID}/syncs/{run_id}/log")
    messages = [line["message"] for line in log["lines"]]
    assert messages[0] == "Job Started" and messages[-1].startswith("Job Finished: 2 created")
    progress = [m for m in messages if m.startswith("Applied ")]
    assert len(progress) == len(set(progress))  # each progress milestone is logged once


def test_pipeline_edit_in_target_overwritten_and_leaver_marked(aws, connected):
    staffology, expensein = connected
    load(
        staffology,
        "records",
        [
            staffology_employee("E001", "Ann", "Lee", "ann@example.com"),
            staffology_employee("E002", "Bob", "Ray", "bob@example.com"),
        ],
    )
    sync(aws)
    edited = [dict(u, lastName="Edited") if u["reference"] == "E001" else u for u in users(expensein)]
    load(expensein, "records", edited)
    load(
        staffology,
        "records",
        [
            staffology_employee("E001", "Ann", "Lee", "ann@example.com"),
            staffology_employee("E002", "Bob", "Ray", "bob@example.com", status="Former", leave_date="2026-10-31"),
        ],
    )
    run = run_view(sync(aws))
    assert run["counters"]["updated"] == 1 and run["counters"]["marked_leaver"] == 1
    by_ref = {u["reference"]: u for u in users(expensein)}
    assert by_ref["E001"]["lastName"] == "Lee"
    assert by_ref["E002"]["leaveDate"] == "2026-10-31" and by_ref["E002"]["isActive"] is False


def test_pipeline_second_trigger_while_running_gets_409_with_run_id(aws, connected):
    status, first = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body={})
    assert status == 202
    status, second = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body={})
    assert status == 409 and second["run_id"] == first["run_id"]
    run_invocations(aws)
    drain(aws)
    status, _ = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body={})
    assert status == 202


def test_pipeline_target_unreadable_every_employee_failed_for_review(aws, connected):
    staffology, expensein = connected
    records = [staffology_employee(f"E{i:03}", "Ann", "Lee", f"a{i}@example.com") for i in range(3)]
    load(staffology, "records", [*records, staffology_employee("E009", "No", "Mail", None)])
    httpx.put(f"{expensein.url}/_sandbox/faults", json={"error_rate": 1.0, "error_status": 500}).raise_for_status()
    status, body = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body={})
    run_invocations(aws)
    drain(aws)
    run = run_view(body["run_id"])
    assert run["status"] == "COMPLETED_WITH_FAILURES" and run["counters"]["failed"] == 3
    status, failures = api("api-list-failures.json")
    assert status == 200
    assert sorted(f["employee_id"] for f in failures["failures"]) == sorted(r["id"] for r in records)
    assert all("ExpenseIn" in f["reason"] and "500" in f["reason"] for f in failures["failures"])
    _status, body = api(
        "api-list-employees.json", path=f"/connections/{CONNECTION_ID}/employees", query={"status": "NOT_SYNCING"}
    )
    assert [e["code"] for e in body["employees"]] == ["E009"]


def test_pipeline_source_unreadable_run_fails_with_reason(aws, connected):
    staffology, _ = connected
    httpx.put(f"{staffology.url}/_sandbox/faults", json={"error_rate": 1.0, "error_status": 500}).raise_for_status()
    status, body = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body={})
    run_invocations(aws)
    run = run_view(body["run_id"])
    assert run["status"] == "FAILED" and "Staffology Payroll" in run["reason"]
    status, _ = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body={})
    assert status == 202  # the lock was released


def test_pipeline_writes_failing_dead_letter_to_review_and_run_finishes(aws, connected, monkeypatch):
    staffology, expensein = connected
    load(staffology, "records", [staffology_employee(f"E{i:03}", "Ann", "Lee", f"a{i}@example.com") for i in range(3)])
    # Reads work, every write fails: each item is retried, dead-lettered, reviewed.
    status, body = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body={})
    assert status == 202
    run_invocations(aws)
    httpx.put(f"{expensein.url}/_sandbox/faults", json={"error_rate": 1.0, "error_status": 503}).raise_for_status()
    drain(aws)
    run = run_view(body["run_id"])
    assert run["status"] == "COMPLETED_WITH_FAILURES"
    assert run["counters"]["failed"] == 3 and run["counters"]["pending"] == 0
    status, failed = api(
        "api-list-employees.json", path=f"/connections/{CONNECTION_ID}/employees", query={"status": "FAILED"}
    )
    assert status == 200
    assert len(failed["employees"]) == 3
    assert all("503" in e["reason"] for e in failed["employees"])
    _status, failures = api("api-list-failures.json")
    assert len(failures["failures"]) == 3 and {f["run_id"] for f in failures["failures"]} == {body["run_id"]}
    assert users(expensein) == []


def test_pipeline_connection_update_runs_only_when_credentials_change(aws, connected):
    import boto3

    body = {
        "connector": "staffology-expensein",
        "source": {"base_url": connected[0].url, "employer_id": "3f5b8a6e-1c2d-4e7f-9a0b-5c6d7e8f9a01"},
        "target": {"base_url": f"{connected[1].url}/1.0"},
        "secret_name": f"hrsync/{CONNECTION_ID}",
        "options": {"include_bank_details": True},
    }
    status, view = api("api-put-connection.json", body=body)
    assert status == 200 and view["started_run"] is None and aws.invocations == []
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=f"hrsync/{CONNECTION_ID}")["SecretString"]
    boto3.client("secretsmanager").put_secret_value(SecretId=f"hrsync/{CONNECTION_ID}", SecretString=secret)
    status, view = api("api-put-connection.json", body=body)
    assert status == 200, view
    assert view["started_run"], view
    assert len(aws.invocations) == 1


def test_pipeline_bad_bodies_get_422_naming_the_field_and_unknown_ids_404(aws, connected):
    status, body = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body={"employee_ids": "E1"})
    assert status == 422 and "employee_ids" in str(body)
    status, body = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body="{not json")
    assert status == 422
    status, body = api("api-put-connection.json", body={"connector": "nope"})
    assert status == 422 and "source" in str(body)
    status, body = api("api-post-sync.json", path="/connections/unknown/syncs", body={})
    assert status == 404
    status, body = api("api-get-run.json", path=f"/connections/{CONNECTION_ID}/syncs/20200101T000000Z-00000000")
    assert status == 404
    status, body = api("api-list-employees.json", path=f"/connections/{CONNECTION_ID}/employees", query={"status": "X"})
    assert status == 422 and "status" in str(body)


def test_pipeline_openapi_document_lists_every_route(aws):
    status, document = api("api-list-failures.json", path="/openapi.json")
    assert status == 200
    assert {"/connections/{connection_id}", "/connections/{connection_id}/syncs", "/failures"} <= set(document["paths"])
    assert "SyncRequest" in document["components"]["schemas"]


def test_pipeline_failures_retried_after_fault_cleared_or_dismissed_with_note(aws, connected):
    staffology, expensein = connected
    load(staffology, "records", [staffology_employee(f"E{i:03}", "Ann", "Lee", f"a{i}@example.com") for i in range(2)])
    status, _ = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body={})
    assert status == 202
    run_invocations(aws)
    httpx.put(
        f"{expensein.url}/_sandbox/faults", json={"error_rate": 1.0, "error_methods": ["POST"]}
    ).raise_for_status()
    drain(aws)
    _, listed = api("api-list-failures.json")
    first, second = listed["failures"]
    httpx.put(f"{expensein.url}/_sandbox/faults", json={}).raise_for_status()

    status, retry = api("api-list-failures.json", path=f"/failures/{first['failure_id']}/retry", method="POST", body={})
    assert status == 202
    run_invocations(aws)
    drain(aws)
    assert run_view(retry["run_id"])["counters"]["created"] == 1
    status, employee = api(
        "api-get-employee.json", path=f"/connections/{CONNECTION_ID}/employees/{first['employee_id']}"
    )
    assert employee["employee"]["status"] == "SUCCESSFUL"
    assert [u["reference"] for u in users(expensein)] == [employee["employee"]["code"]]
    status, again = api("api-list-failures.json", path=f"/failures/{first['failure_id']}/retry", method="POST", body={})
    assert status == 409 and "RETRIED" in again["message"]

    path = f"/failures/{second['failure_id']}"
    assert api("api-list-failures.json", path=path, method="DELETE", body={})[0] == 422
    status, dismissed = api("api-list-failures.json", path=path, method="DELETE", body={"note": "left before go-live"})
    assert status == 200 and dismissed["status"] == "DISMISSED" and dismissed["note"] == "left before go-live"
    _, still_open = api("api-list-failures.json")
    assert still_open["failures"] == []
    assert api("api-list-failures.json", path="/failures/nope", method="DELETE", body={"note": "x"})[0] == 404


def test_pipeline_mass_leavers_held_for_approval_then_applied(aws, connected):
    staffology, expensein = connected
    people = [staffology_employee(f"E{i:03}", "Ann", "Lee", f"a{i}@example.com") for i in range(10)]
    load(staffology, "records", people)
    sync(aws)
    leavers = [
        staffology_employee(f"E{i:03}", "Ann", "Lee", f"a{i}@example.com", status="Former", leave_date="2026-11-01")
        if i < 6
        else people[i]
        for i in range(10)
    ]
    load(staffology, "records", leavers)
    writes_before = len(writes(expensein))
    status, body = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body={})
    run_invocations(aws)
    drain(aws)
    held = run_view(body["run_id"])
    assert held["status"] == "APPROVAL_REQUIRED" and "6 leaver marks exceed the safeguard of 5" in held["reason"]
    assert len(writes(expensein)) == writes_before
    status, busy = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body={})
    assert status == 409 and busy["run_id"] == body["run_id"]

    approve = f"/connections/{CONNECTION_ID}/syncs/{body['run_id']}/approve"
    status, _ = api("api-post-sync.json", path=approve, body={})
    assert status == 202
    assert api("api-post-sync.json", path=approve, body={})[0] == 409
    run_invocations(aws)
    drain(aws)
    done = run_view(body["run_id"])
    assert done["status"] == "SUCCEEDED" and done["counters"]["marked_leaver"] == 6
    assert done["approved_by"] == "arn:aws:iam::123456789012:user/ops"
    _, log = api("api-get-run-log.json", path=f"/connections/{CONNECTION_ID}/syncs/{body['run_id']}/log")
    messages = [line["message"] for line in log["lines"]]
    assert messages.count("Job Started") == 1
    assert any(m.startswith("Job Held: 6 leaver marks") for m in messages)
    assert "Approved by arn:aws:iam::123456789012:user/ops" in messages
    assert "Job Resumed: approved by arn:aws:iam::123456789012:user/ops" in messages


def test_pipeline_leavers_within_threshold_applied_without_approval(aws, connected):
    staffology, _ = connected
    people = [staffology_employee(f"E{i:03}", "Ann", "Lee", f"a{i}@example.com") for i in range(10)]
    load(staffology, "records", people)
    sync(aws)
    people[:5] = [
        staffology_employee(f"E{i:03}", "Ann", "Lee", f"a{i}@example.com", status="Former", leave_date="2026-11-01")
        for i in range(5)
    ]
    load(staffology, "records", people)
    assert run_view(sync(aws))["counters"]["marked_leaver"] == 5


def test_pipeline_target_failing_most_calls_quarantines_and_defers_the_rest(aws, connected):
    staffology, expensein = connected
    load(staffology, "records", [staffology_employee(f"E{i:03}", "Ann", "Lee", f"a{i}@example.com") for i in range(30)])
    status, body = api("api-post-sync.json", path=f"/connections/{CONNECTION_ID}/syncs", body={})
    run_invocations(aws)
    httpx.put(
        f"{expensein.url}/_sandbox/faults", json={"error_rate": 1.0, "error_methods": ["POST"]}
    ).raise_for_status()
    drain(aws)
    run = run_view(body["run_id"])
    assert run["status"] == "QUARANTINED"
    c = run["counters"]
    assert c["failed"] == 0 and c["deferred"] == 30 and c["target_calls"] >= 20
    assert c["target_failures"] * 2 > c["target_calls"]
    _, failures = api("api-list-failures.json")
    assert failures["failures"] == []  # deferred, not dead-lettered en masse
    status, view = api("api-get-connection.json", path=f"/connections/{CONNECTION_ID}")
    assert status == 200
    assert (
        view["quarantine"]["run_id"] == body["run_id"] and "calls to the target failed" in view["quarantine"]["reason"]
    )
    _, deferred = api(
        "api-list-employees.json", path=f"/connections/{CONNECTION_ID}/employees", query={"status": "NOT_SYNCING"}
    )
    assert len(deferred["employees"]) == 30 and all(e["reason"].startswith("deferred") for e in deferred["employees"])

    httpx.put(f"{expensein.url}/_sandbox/faults", json={}).raise_for_status()
    again = run_view(sync(aws))
    assert again["status"] == "SUCCEEDED" and again["counters"]["created"] == 30
    _, view = api("api-get-connection.json", path=f"/connections/{CONNECTION_ID}")
    assert view["quarantine"] is None


def test_pipeline_operator_clears_quarantine(aws, connected):
    from hrsync.context import store

    store().quarantine(CONNECTION_ID, "20261122T000000Z-00000000", "test")
    _, view = api("api-get-connection.json", path=f"/connections/{CONNECTION_ID}")
    assert view["quarantine"]["reason"] == "test"
    status, view = api("api-get-connection.json", path=f"/connections/{CONNECTION_ID}/quarantine", method="DELETE")
    assert status == 200 and view["quarantine"] is None


def test_pipeline_create_repeated_after_worker_died_creates_one_user(aws, connected, monkeypatch):
    import boto3

    from hrsync import apply, clock
    from hrsync.models.work import WorkMessage
    from hrsync.store.table import Store

    staffology, expensein = connected
    load(staffology, "records", [staffology_employee("E001", "Ann", "Lee", "ann@example.com")])
    run_id = trigger()
    run_invocations(aws)
    [message] = boto3.client("sqs").receive_message(QueueUrl=aws.queue_url)["Messages"]
    [item] = WorkMessage.model_validate_json(message["Body"]).items

    def die(*args, **kwargs):
        raise RuntimeError("worker killed after the target accepted the create")

    with monkeypatch.context() as patch:
        patch.setattr(Store, "finish_items", die)
        with pytest.raises(RuntimeError):
            apply.apply_items([item], receive_count=1, deadline=lambda: 30.0)
    # A duplicate delivery while the dead attempt's claim stands does nothing and asks to be tried later.
    with pytest.raises(AttemptInProgressError):
        apply.apply_items([item], receive_count=2, deadline=lambda: 30.0)
    assert [w["method"] for w in writes(expensein)] == ["POST"]
    # Redelivered once the dead invocation's time is over: the user it created is found by code and linked.
    later = clock.epoch() + 60
    monkeypatch.setattr(clock, "epoch", lambda: later)
    apply.apply_items([item], receive_count=3)
    [user] = users(expensein)
    assert [w["method"] for w in writes(expensein)] == ["POST"]
    _, employee = api("api-get-employee.json", path=f"/connections/{CONNECTION_ID}/employees/{item.employee_id}")
    assert employee["employee"]["status"] == "SUCCESSFUL" and employee["employee"]["target_id"] == user["id"]
    assert run_view(run_id)["counters"]["created"] == 1


def test_pipeline_changed_record_after_failed_create_is_sent_again(aws, connected):
    staffology, expensein = connected
    load(staffology, "records", [staffology_employee("E001", "Ann", "Lee", "ann@example.com")])
    trigger()
    httpx.put(
        f"{expensein.url}/_sandbox/faults", json={"error_rate": 1.0, "error_methods": ["POST"]}
    ).raise_for_status()
    run_invocations(aws)
    with pytest.raises(AssertionError):
        drain(aws, max_rounds=2)  # still failing: the item stays on the queue
    load(staffology, "records", [staffology_employee("E001", "Ann", "Lee-Smith", "ann@example.com")])
    httpx.put(f"{expensein.url}/_sandbox/faults", json={}).raise_for_status()
    drain(aws)
    [user] = users(expensein)
    assert user["lastName"] == "Lee-Smith"


def test_pipeline_employee_who_left_between_plan_and_apply_is_not_created(aws, connected):
    staffology, expensein = connected
    load(staffology, "records", [staffology_employee("E001", "Ann", "Lee", "ann@example.com")])
    run_id = trigger()
    run_invocations(aws)
    load(staffology, "records", [staffology_employee("E001", "Ann", "Lee", "ann@example.com", status="Former")])
    drain(aws)
    assert users(expensein) == []
    run = run_view(run_id)
    assert run["status"] == "SUCCEEDED" and run["counters"]["not_syncing"] == 1
    _, body = api(
        "api-list-employees.json", path=f"/connections/{CONNECTION_ID}/employees", query={"status": "NOT_SYNCING"}
    )
    assert body["employees"][0]["reason"] == "has left in Staffology Payroll since the run planned"


def test_pipeline_department_changed_to_unknown_after_plan_is_not_sent(aws, connected):
    staffology, expensein = connected
    load(staffology, "records", [staffology_employee("E001", "Ann", "Lee", "ann@example.com", department="ENG")])
    trigger()
    run_invocations(aws)
    load(staffology, "records", [staffology_employee("E001", "Ann", "Lee", "ann@example.com", department="OPS")])
    drain(aws)
    [user] = users(expensein)
    assert user["reference"] == "E001" and user["department"] is None
