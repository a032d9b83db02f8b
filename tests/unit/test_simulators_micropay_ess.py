"""The simulated MicrOpay and Access ESS, driven over HTTP as the adapters would (names partly provisional)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sandbox.sample import ess_member, micropay_employee, micropay_lookups
from sandbox.simulators import AccessEssSimulator, MicrOpaySimulator

OLD = (datetime.now(UTC) - timedelta(days=2)).isoformat()


@pytest.fixture(scope="module")
def micropay_sim() -> Iterator[MicrOpaySimulator]:
    with MicrOpaySimulator() as running:
        yield running


@pytest.fixture
def micropay(micropay_sim: MicrOpaySimulator) -> Iterator[httpx.Client]:
    auth = httpx.BasicAuth(micropay_sim.username, micropay_sim.password)
    with httpx.Client(base_url=micropay_sim.url, headers={"X-Api-Key": micropay_sim.api_key}, auth=auth) as http:
        http.post("/_sandbox/reset").raise_for_status()
        http.put("/_sandbox/departments", json=micropay_lookups()).raise_for_status()
        http.put(
            "/_sandbox/records",
            json=[
                micropay_employee("A1", "Ann", "Lee", changed_at=OLD),
                micropay_employee("A2", "Bo", "Ray"),
                micropay_employee("A3", "Cy", "Dee", terminated="2020-01-31", changed_at=OLD),
            ],
        ).raise_for_status()
        yield http


def test_micropay_without_credentials_is_401(micropay_sim: MicrOpaySimulator) -> None:
    answer = httpx.get(f"{micropay_sim.url}/api/EmployeeDetails", headers={"X-Api-Key": micropay_sim.api_key})

    assert answer.status_code == 401


def test_micropay_change_feed_and_terminated_filter(micropay: httpx.Client) -> None:
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()

    everyone = micropay.get("/api/EmployeeDetails", params={"includeTerminated": "true"}).json()
    current = micropay.get("/api/EmployeeDetails").json()
    changed = micropay.get("/api/EmployeeDetails", params={"changedSince": since, "includeTerminated": "true"}).json()

    assert [e["empCode"] for e in everyone] == ["A1", "A2", "A3"]
    assert [e["empCode"] for e in current] == ["A1", "A2"]
    assert [e["empCode"] for e in changed] == ["A2"]


def test_micropay_edit_outside_change_table_is_not_in_the_feed(micropay: httpx.Client) -> None:
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    micropay.patch("/_sandbox/records/A1", json={"changes": {"payPoint": "PP2"}, "changeFeed": False})
    micropay.patch("/_sandbox/records/A3", json={"changes": {"payPoint": "PP2"}})

    changed = micropay.get("/api/EmployeeDetails", params={"changedSince": since, "includeTerminated": "true"}).json()

    assert [e["empCode"] for e in changed] == ["A2", "A3"]
    assert micropay.get("/api/EmployeeDetails/A1").json()["payPoint"] == "PP2"


def test_micropay_immediate_change_refuses_pay_fields(micropay: httpx.Client) -> None:
    refused = micropay.post(
        "/api/ChangeEmployeeImmediate", json={"empCode": "A1", "changes": {"bankAccounts": [], "street": "x"}}
    )
    applied = micropay.post("/api/ChangeEmployeeImmediate", json={"empCode": "A1", "changes": {"street": "5 New St"}})

    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {"field": "bankAccounts", "message": "bankAccounts affects pay: use ChangeEmployee"}
    ]
    assert applied.status_code == 200 and micropay.get("/api/EmployeeDetails/A1").json()["street"] == "5 New St"


def test_micropay_change_employee_waits_for_approval(micropay: httpx.Client) -> None:
    bank = [{"bsbCode": "033-000", "accountNumber": "9", "accountName": "Me", "balanceOfPay": True}]

    queued = micropay.post("/api/ChangeEmployee", json={"empCode": "A1", "changes": {"bankAccounts": bank}})
    status_id = queued.json()["statusId"]
    before = micropay.get("/api/EmployeeDetails/A1").json()["bankAccounts"][0]["bsbCode"]
    pending = micropay.get(f"/api/ChangeEmployee/{status_id}").json()["status"]
    micropay.post(f"/_sandbox/approvals/{status_id}", json={"decision": "approve"}).raise_for_status()

    assert queued.status_code == 202 and pending == "Pending" and before == "062-000"
    assert micropay.get(f"/api/ChangeEmployee/{status_id}").json()["status"] == "Approved"
    assert micropay.get("/api/EmployeeDetails/A1").json()["bankAccounts"][0]["bsbCode"] == "033-000"


def test_micropay_bank_percentage_refused(micropay: httpx.Client) -> None:
    bank = [
        {"bsbCode": "033-000", "accountNumber": "9", "payAmount": "20%"},
        {"bsbCode": "062-000", "accountNumber": "8", "balanceOfPay": True},
    ]

    answer = micropay.post("/api/ChangeEmployee", json={"empCode": "A1", "changes": {"bankAccounts": bank}})

    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "bankAccounts[0].payAmount"


def test_micropay_deleted_and_lookups(micropay: httpx.Client) -> None:
    micropay.delete("/_sandbox/records/A2").raise_for_status()

    deleted = micropay.get("/api/DeletedEmployees", params={"deletedSince": "2026-01-01"}).json()

    assert [d["empCode"] for d in deleted] == ["A2"]
    assert micropay.get("/api/EmployeeDetails/A2").status_code == 404
    assert "PayFrequency" in micropay.get("/api/LookupTypes").json()
    assert {"code": "SYD", "description": "Sydney"} in micropay.get(
        "/api/LookupType", params={"type": "Location"}
    ).json()


@pytest.fixture
def ess() -> Iterator[httpx.Client]:
    with AccessEssSimulator() as sim, httpx.Client(base_url=sim.url, headers={"X-Api-Key": sim.api_key}) as http:
        http.put(
            "/_sandbox/records",
            json=[ess_member("m-1", "A1", "Ann", "Lee", "a@x.com"), ess_member("m-2", "A1", "Ann", "Lee", None)],
        ).raise_for_status()
        yield http


def test_ess_loaded_duplicates_kept_but_api_create_refused(ess: httpx.Client) -> None:
    listed = ess.get("/api/members", params={"employeeCode": "A1"}).json()
    refused = ess.post("/api/members", json={"employeeCode": "A1", "firstName": "X", "surname": "Y"})
    created = ess.post("/api/members", json={"employeeCode": "A2", "firstName": "X", "surname": "Y"})

    assert listed["total"] == 2
    assert refused.status_code == 409
    assert created.status_code == 201 and created.json()["memberId"].startswith("m-")


def test_ess_member_edits_listed_api_writes_not(ess: httpx.Client) -> None:
    ess.patch("/api/members/m-1", json={"phone": "1"}).raise_for_status()
    ess.post("/_sandbox/members/m-1/edit", json={"address": {"street": "5 New St"}}).raise_for_status()

    changes = ess.get("/api/members/changes", params={"since": "2026-01-01T00:00:00Z"}).json()["items"]

    assert [(c["memberId"], c["fields"]) for c in changes] == [("m-1", ["address"])]
    assert ess.get("/api/members/m-1").json()["address"] == {"street": "5 New St"}
    assert ess.post("/_sandbox/members/m-1/edit", json={"location": "MEL"}).status_code == 400
