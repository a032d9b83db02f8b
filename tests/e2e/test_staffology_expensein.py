"""Staffology Payroll -> ExpenseIn end to end: data loaded through /_sandbox/, syncs through the local API."""

from __future__ import annotations

import httpx
import pytest

from sandbox.demo import sample_employer, sync
from sandbox.sample import staffology_employee

pytestmark = pytest.mark.e2e
CONNECTOR = "staffology-expensein"


def _load(systems: dict[str, str], employees, users, departments) -> None:
    httpx.put(f"{systems['staffology']}/_sandbox/records", json=employees).raise_for_status()
    httpx.put(f"{systems['expensein']}/_sandbox/records", json=users).raise_for_status()
    httpx.put(f"{systems['expensein']}/_sandbox/departments", json=departments).raise_for_status()


def _requests(systems: dict[str, str]) -> list[dict]:
    return httpx.get(f"{systems['expensein']}/_sandbox/requests").json()


def test_e2e_sample_employer_rules_hold_and_second_run_sends_nothing(stack, api, systems):
    connection = stack.state()["connections"][CONNECTOR]
    _load(systems, *sample_employer())
    run = sync(api, connection)
    assert run["status"] == "SUCCEEDED"
    c = run["counters"]
    assert (c["created"], c["updated"], c["marked_leaver"], c["in_step"]) == (24, 1, 2, 5)
    states = {e["code"]: e for e in api.get(f"/connections/{connection}/employees").json()["employees"]}
    assert states["E020"]["status"] == "NOT_SYNCING" and "held by 2" in states["E020"]["reason"]
    assert states["E021"]["status"] == "NOT_SYNCING" and "administrator" in states["E021"]["reason"]
    assert states["E032"]["reason"] == "missing required field: email"
    assert "never created" in states["E040"]["reason"]
    assert states["E031"]["status"] == "SUCCESSFUL" and "OPS" in states["E031"]["warnings"][0]
    users = {u["reference"]: u for u in httpx.get(f"{systems['expensein']}/_sandbox/records").json() if u["reference"]}
    assert users["E005"]["lastName"] == "Rossi"  # the ExpenseIn edit was overwritten from payroll
    assert users["E006"]["leaveDate"] == "2026-11-14" and users["E006"]["isActive"] is False
    assert users["N001"]["invited"] is False and users["N001"]["department"] == "ENG"
    assert "E040" not in users and "E032" not in users
    assert [
        u["id"] for u in httpx.get(f"{systems['expensein']}/_sandbox/records").json() if u["reference"] == "E020"
    ] == [
        "u-200001",
        "u-200002",
    ]
    conflicts = api.get(f"/connections/{connection}/conflicts").json()["conflicts"]
    assert [(x["code"], x["target_ids"]) for x in conflicts] == [("E020", ["u-200001", "u-200002"])]

    seen = len(_requests(systems))
    second = sync(api, connection)
    assert second["status"] == "SUCCEEDED" and second["counters"]["in_step"] == 32
    assert {r["method"] for r in _requests(systems)[seen:]} == {"GET"}

    employee = states["N001"]["employee_id"]
    detail = api.get(f"/connections/{connection}/employees/{employee}").json()
    assert detail["employee"]["target_id"] and detail["history"][0]["outcome"] == "SUCCESSFUL"


def test_e2e_expensein_failing_every_affected_employee_failed_and_listed(stack, api, systems):
    connection = stack.state()["connections"][CONNECTOR]
    employees = [staffology_employee(f"F{i:03}", "Fay", "Moss", f"fay{i}@acme.example") for i in range(4)]
    _load(systems, employees, [], [])
    httpx.put(
        f"{systems['expensein']}/_sandbox/faults", json={"error_rate": 1.0, "error_status": 500}
    ).raise_for_status()
    run = sync(api, connection)
    assert run["status"] == "COMPLETED_WITH_FAILURES" and run["counters"]["failed"] == 4
    failed = api.get(f"/connections/{connection}/employees", params={"status": "FAILED"}).json()["employees"]
    failed = [e for e in failed if e["run_id"] == run["run_id"]]
    assert sorted(e["code"] for e in failed) == ["F000", "F001", "F002", "F003"]
    assert all("ExpenseIn" in e["reason"] and "500" in e["reason"] for e in failed)
    failures = api.get("/failures").json()["failures"]
    assert {f["employee_id"] for f in failures if f["run_id"] == run["run_id"]} == {e["id"] for e in employees}
    assert api.get(f"/connections/{connection}").json()["running_run"] is None


def test_e2e_local_api_without_key_refused(stack):
    assert httpx.get(f"{stack.api_url}/failures").status_code == 403


def test_e2e_writes_failing_dead_lettered_reviewed_and_run_finished(stack, api, systems):
    connection = stack.state()["connections"][CONNECTOR]
    employees = [staffology_employee(f"W{i:03}", "Wes", "Webb", f"wes{i}@acme.example") for i in range(3)]
    _load(systems, employees, [], [])
    faults = {"error_rate": 1.0, "error_status": 500, "error_methods": ["POST", "PATCH"]}
    httpx.put(f"{systems['expensein']}/_sandbox/faults", json=faults).raise_for_status()
    run = sync(api, connection)
    assert run["status"] == "COMPLETED_WITH_FAILURES"
    assert run["counters"]["failed"] == 3 and run["counters"]["pending"] == 0
    failed = api.get(f"/connections/{connection}/employees", params={"status": "FAILED"}).json()["employees"]
    failed = [e for e in failed if e["run_id"] == run["run_id"]]
    assert sorted(e["code"] for e in failed) == ["W000", "W001", "W002"]
    assert all(e["reason"] == "ExpenseIn answered 500 after 4 tries" for e in failed)
    failures = [f for f in api.get("/failures").json()["failures"] if f["run_id"] == run["run_id"]]
    assert {f["failure_class"] for f in failures} == {"dead_lettered"} and len(failures) == 3
    assert httpx.get(f"{systems['expensein']}/_sandbox/records").json() == []
    assert stack.wait_idle(30)
