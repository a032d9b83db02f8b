"""micropay-worknice on moto with the MicrOpay and Worknice simulators, through the real handlers: links by
employee ID, a change from each side in one run, a run with nothing to send, a field changed on both sides as
one conflict resolved through the API, directions refused with 422, person connections kept in step."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest

from sandbox.sample import micropay_employee, micropay_lookups, worknice_person
from sandbox.simulators import MicrOpaySimulator, WorkniceSimulator
from tests.integration.conftest import Aws, FakeContext, api, drain, load_event, run_invocations

pytestmark = pytest.mark.usefixtures("aws")
CONNECTION = "acme-worknice"
INTEGRATION = "int-micropay"
TAX = {"taxFreeThreshold": True, "residencyStatus": "RESIDENT", "helpDebt": False}
WRITES = ("/api/ChangeEmployee", "/api/ChangeEmployeeImmediate")


def put(sim: Any, path: str, body: Any) -> None:
    httpx.put(f"{sim.url}/_sandbox/{path}", json=body).raise_for_status()


def payroll(micropay: MicrOpaySimulator) -> dict[str, dict[str, Any]]:
    return {e["empCode"]: e for e in httpx.get(f"{micropay.url}/_sandbox/records").json()}


def people(worknice: WorkniceSimulator) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in httpx.get(f"{worknice.url}/_sandbox/records").json()}


def requests_since(sim: Any, since: int) -> list[dict[str, Any]]:
    return list(httpx.get(f"{sim.url}/_sandbox/requests", params={"since": since}).json())


def request_count(sim: Any) -> int:
    return len(requests_since(sim, 0))


def sync(aws: Aws) -> dict[str, Any]:
    status, answer = api("api-post-sync.json", path=f"/connections/{CONNECTION}/syncs", body={})
    assert status == 202, answer
    run_invocations(aws)
    drain(aws)
    status, run = api("api-get-run.json", path=f"/connections/{CONNECTION}/syncs/{answer['run_id']}")
    assert status == 200
    return dict(run)


def conflicts() -> list[dict[str, Any]]:
    return list(api("api-list-conflicts.json", path=f"/connections/{CONNECTION}/conflicts")[1]["conflicts"])


def employee(code: str) -> dict[str, Any]:
    status, body = api("api-get-employee.json", path=f"/connections/{CONNECTION}/employees/{code}")
    assert status == 200, body
    return dict(body)


def save_connection(micropay: MicrOpaySimulator, worknice: WorkniceSimulator, **options: Any) -> tuple[int, Any]:
    """PUT the connection to these simulators with `options`, through the API; its status and body."""
    body = {
        "connector": "micropay-worknice",
        "source": {"base_url": micropay.url},
        "target": {"base_url": worknice.url, "employer_id": INTEGRATION},
        "secret_name": f"hrsync/{CONNECTION}",
        "options": options,
    }
    return api("api-put-connection.json", path=f"/connections/{CONNECTION}", body=body)


@pytest.fixture
def linked(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MicrOpaySimulator, WorkniceSimulator]]:
    """Three payroll employees, their Worknice people (one more without an employee ID), a first run done."""
    from hrsync import settings

    monkeypatch.setenv("RUN_FUNCTIONS", json.dumps({"micropay-worknice": "MicropayWorkniceSyncFunction"}))
    settings.get_settings.cache_clear()
    with MicrOpaySimulator() as micropay, WorkniceSimulator() as worknice:
        put(micropay, "departments", micropay_lookups())
        put(
            micropay,
            "records",
            [
                {**micropay_employee("P001", "Ann", "Lee", "ann@example.com"), "taxDetails": TAX},
                {**micropay_employee("P002", "Bo", "Ray", "bo@example.com"), "taxDetails": TAX},
                {**micropay_employee("P003", "Cy", "Dee", "cy@example.com"), "taxDetails": TAX},
                micropay_employee("P004", "Di", "Fox", "di@example.com"),  # no Worknice person
            ],
        )
        same = {"profilePhone": None, "startDate": "2023-02-06"}
        put(
            worknice,
            "records",
            [
                {**worknice_person("wn-1", "P001", "Ann", "Lee", "ann@example.com"), **same},
                {**worknice_person("wn-2", "P002", "Bo", "Ray", "bo@example.com"), **same},
                {**worknice_person("wn-3", "P003", "Cy", "Dee", "cy@example.com"), **same},
                worknice_person("wn-9", None, "New", "Hire"),
            ],
        )
        boto3.client("secretsmanager").create_secret(
            Name=f"hrsync/{CONNECTION}",
            SecretString=json.dumps(
                {
                    "source": {
                        "api_key": micropay.api_key,
                        "username": micropay.username,
                        "password": micropay.password,
                    },
                    "target": {"api_key": worknice.token},
                }
            ),
        )
        status, body = save_connection(micropay, worknice)
        assert status == 201, body
        run_invocations(aws)
        drain(aws)
        yield micropay, worknice


def test_first_run_links_by_employee_id_and_agrees_where_both_hold_the_same(aws, linked):
    _micropay, worknice = linked

    assert employee("P001")["employee"]["status"] == "SUCCESSFUL"
    assert employee("P001")["employee"]["target_id"] == "wn-1"
    assert set(employee("P001")["employee"]["merge_base"]) >= {"email", "address", "tax"}
    p004 = employee("P004")["employee"]
    assert p004["status"] == "NOT_SYNCING"
    assert "no Worknice person holds this employee ID" in p004["reason"]
    connections = httpx.get(f"{worknice.url}/_sandbox/connections").json()
    assert sorted((c["remote"]["id"], c["personId"], c["status"]) for c in connections) == [
        ("P001", "wn-1", "CONNECTED"),
        ("P002", "wn-2", "CONNECTED"),
        ("P003", "wn-3", "CONNECTED"),
    ]
    assert httpx.get(f"{worknice.url}/_sandbox/integration-syncs").json() == [INTEGRATION]
    assert conflicts() == []


def test_a_change_on_each_side_crosses_in_one_run_and_the_next_run_sends_nothing(aws, linked):
    micropay, worknice = linked
    moved = {"street": "9 Elm Ave", "suburb": "Carlton", "state": "VIC", "postcode": "3053", "country": "AU"}
    httpx.patch(f"{worknice.url}/_sandbox/records/wn-1", json={"profileAddress": moved}).raise_for_status()
    new_tax = {**TAX, "taxFreeThreshold": False, "helpDebt": True}
    httpx.patch(f"{micropay.url}/_sandbox/records/P002", json={"changes": {"taxDetails": new_tax}}).raise_for_status()

    run = sync(aws)

    assert run["status"] == "SUCCEEDED", run
    ann = payroll(micropay)["P001"]
    assert (ann["street"], ann["suburbCity"], ann["state"], ann["postcode"]) == ("9 Elm Ave", "Carlton", "VIC", "3053")
    assert people(worknice)["wn-2"]["taxDetails"] == {**new_tax, "taxFileNumber": None}
    history = employee("P001")["history"]
    assert any("address -> MicrOpay" in h["fields"] for h in history)

    mark_payroll, mark_worknice = request_count(micropay), request_count(worknice)
    again = sync(aws)

    assert again["status"] == "SUCCEEDED"
    assert not [r for r in requests_since(micropay, mark_payroll) if r["path"] in WRITES]
    assert payroll(micropay)["P001"]["street"] == "9 Elm Ave"
    assert people(worknice)["wn-2"]["taxDetails"]["helpDebt"] is True
    lines = api("api-get-run-log.json", path=f"/connections/{CONNECTION}/syncs/{again['run_id']}/log")[1]["lines"]
    assert any("0 fields sent to Worknice, 0 to MicrOpay, 0 in conflict" in line["message"] for line in lines)
    assert request_count(worknice) > mark_worknice  # it did read Worknice


def integration_syncs(worknice: WorkniceSimulator) -> list[str]:
    return list(httpx.get(f"{worknice.url}/_sandbox/integration-syncs").json())


def test_integration_sync_completed_only_by_a_run_that_wrote_or_changed_a_connection(aws, linked):
    micropay, worknice = linked
    assert integration_syncs(worknice) == [INTEGRATION]  # the first run made the person connections

    sync(aws)  # everything in step
    assert integration_syncs(worknice) == [INTEGRATION]

    httpx.patch(f"{micropay.url}/_sandbox/records/P001", json={"changes": {"telephone1": "0411"}}).raise_for_status()
    sync(aws)  # a field sent to Worknice
    assert integration_syncs(worknice) == [INTEGRATION] * 2

    connections = httpx.get(f"{worknice.url}/_sandbox/connections").json()
    put(
        worknice,
        "connections",
        [{**c, "status": "LOCAL_ONLY"} if c["remote"]["id"] == "P002" else c for c in connections],
    )
    sync(aws)  # a person connection put back to CONNECTED, nothing else
    assert integration_syncs(worknice) == [INTEGRATION] * 3
    assert {c["remote"]["id"]: c["status"] for c in httpx.get(f"{worknice.url}/_sandbox/connections").json()}[
        "P002"
    ] == "CONNECTED"

    records = list(people(worknice).values())
    put(worknice, "records", [*records, worknice_person("wn-10", "P010", "Eve", "New", "eve@example.com")])
    sync(aws)  # a new hire put in MicrOpay's wizard
    assert integration_syncs(worknice) == [INTEGRATION] * 4

    sync(aws)  # the new hire still pending: nothing written
    assert integration_syncs(worknice) == [INTEGRATION] * 4


def test_same_field_changed_differently_is_one_conflict_and_resolving_writes_the_winner(aws, linked):
    micropay, worknice = linked
    httpx.patch(
        f"{micropay.url}/_sandbox/records/P003", json={"changes": {"defaultEmail": "cy.payroll@example.com"}}
    ).raise_for_status()
    httpx.patch(f"{worknice.url}/_sandbox/records/wn-3", json={"profileEmail": "cy.hr@example.com"}).raise_for_status()
    mark = request_count(micropay)

    run = sync(aws)

    [conflict] = conflicts()
    assert (conflict["kind"], conflict["field"], conflict["group"]) == ("changed_on_both_sides", "email", "personal")
    assert conflict["employee_ids"] == ["P003"]
    assert "example.com" not in json.dumps(conflict)
    assert payroll(micropay)["P003"]["defaultEmail"] == "cy.payroll@example.com"
    assert people(worknice)["wn-3"]["profileEmail"] == "cy.hr@example.com"
    assert not [r for r in requests_since(micropay, mark) if r["path"] in WRITES]
    log = api("api-get-run-log.json", path=f"/connections/{CONNECTION}/syncs/{run['run_id']}/log")[1]["lines"]
    assert not any("example.com" in line["message"] for line in log)

    # a second run reports the same conflict and still writes nothing
    sync(aws)
    assert [c["conflict_id"] for c in conflicts()] == [conflict["conflict_id"]]

    path = f"/connections/{CONNECTION}/conflicts/{conflict['conflict_id']}/resolve"
    completed = len(integration_syncs(worknice))
    status, body = api("api-post-conflict-resolve.json", path=path, body={"winner": "target"})

    assert status == 200, body
    assert body == {"conflict_id": conflict["conflict_id"], "winner": "target", "written_to": "MicrOpay"}
    assert payroll(micropay)["P003"]["defaultEmail"] == "cy.hr@example.com"
    assert len(integration_syncs(worknice)) == completed + 1  # the write closes a batch, as a run's does
    assert conflicts() == []
    mark = request_count(micropay)
    sync(aws)
    assert conflicts() == []
    assert not [r for r in requests_since(micropay, mark) if r["path"] in WRITES]


def test_resolving_after_a_side_changed_again_is_409_and_writes_nothing(aws, linked):
    micropay, worknice = linked
    httpx.patch(f"{micropay.url}/_sandbox/records/P003", json={"changes": {"telephone1": "0411"}}).raise_for_status()
    httpx.patch(f"{worknice.url}/_sandbox/records/wn-3", json={"profilePhone": "0422"}).raise_for_status()
    sync(aws)
    [conflict] = conflicts()
    httpx.patch(f"{worknice.url}/_sandbox/records/wn-3", json={"profilePhone": "0433"}).raise_for_status()

    path = f"/connections/{CONNECTION}/conflicts/{conflict['conflict_id']}/resolve"
    status, body = api("api-post-conflict-resolve.json", path=path, body={"winner": "source"})

    assert status == 409, body
    assert people(worknice)["wn-3"]["profilePhone"] == "0433"


def test_resolve_unknown_conflict_is_404_and_bad_winner_is_422(aws, linked):
    path = f"/connections/{CONNECTION}/conflicts/nope/resolve"
    assert api("api-post-conflict-resolve.json", path=path, body={"winner": "target"})[0] == 404
    assert api("api-post-conflict-resolve.json", path=path, body={"winner": "both"})[0] == 422


def test_prefer_source_settles_a_conflict_without_review(aws, linked):
    micropay, worknice = linked
    status, body = save_connection(micropay, worknice, prefer={"personal": "source"})
    assert status in (200, 201), body
    run_invocations(aws)
    drain(aws)
    httpx.patch(
        f"{micropay.url}/_sandbox/records/P003", json={"changes": {"defaultEmail": "cy.payroll@example.com"}}
    ).raise_for_status()
    httpx.patch(f"{worknice.url}/_sandbox/records/wn-3", json={"profileEmail": "cy.hr@example.com"}).raise_for_status()

    sync(aws)

    assert conflicts() == []
    assert people(worknice)["wn-3"]["profileEmail"] == "cy.payroll@example.com"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"directions": {"super": "two_way"}}, "options.directions.super: two_way is not supported"),
        ({"directions": {"super": "target_to_source"}}, "options.directions.super"),
        ({"directions": {"leave_balances": "target_to_source"}}, "payroll accrues leave"),
        ({"directions": {"holidays": "off"}}, "options.directions.holidays: not a data group"),
        ({"directions": {"tax": "sideways"}}, "'sideways' is not a direction"),
        ({"prefer": {"super": "source"}}, "options.prefer.super"),
    ],
)
def test_unsupported_direction_is_422_naming_the_option(aws, linked, options, named):
    micropay, worknice = linked
    status, body = save_connection(micropay, worknice, **options)
    assert status == 422, body
    assert named in body["message"]


def test_schedule_event_runs_every_micropay_worknice_connection(aws, linked, monkeypatch):
    from functions_run_sync import handler

    from hrsync import settings

    monkeypatch.setenv("CONNECTOR", "micropay-worknice")
    settings.get_settings.cache_clear()

    result = handler(
        load_event("run-sync-micropay-worknice-schedule.json"), FakeContext("MicropayWorkniceSyncFunction", 900)
    )

    [(connection, run_id)] = result["scheduled"].items()
    assert connection == CONNECTION
    drain(aws)
    _status, run = api("api-get-run.json", path=f"/connections/{CONNECTION}/syncs/{run_id}")
    assert run["trigger"] == "schedule" and run["status"] == "SUCCEEDED"


def test_new_hire_goes_to_the_new_employee_wizard_once_and_is_linked_once_payroll_accepts(aws, linked):
    micropay, worknice = linked
    records = list(people(worknice).values())
    put(worknice, "records", [*records, worknice_person("wn-10", "P010", "Eve", "New", "eve@example.com")])

    sync(aws)

    [pending] = httpx.get(f"{micropay.url}/_sandbox/new-employees").json()
    assert (pending["status"], pending["record"]["empCode"], pending["record"]["surname"]) == ("Pending", "P010", "New")
    state = employee("P010")["employee"]
    assert (state["status"], state["target_id"]) == ("NOT_SYNCING", "wn-10")
    assert "waiting in MicrOpay's New Employee wizard" in state["reason"]

    sync(aws)  # still pending: not put in the wizard again
    assert len(httpx.get(f"{micropay.url}/_sandbox/new-employees").json()) == 1

    httpx.post(
        f"{micropay.url}/_sandbox/new-employees/{pending['pendingId']}", json={"decision": "accept"}
    ).raise_for_status()
    sync(aws)

    state = employee("P010")["employee"]
    assert (state["status"], state["target_id"]) == ("SUCCESSFUL", "wn-10")
    assert payroll(micropay)["P010"]["defaultEmail"] == "eve@example.com"
    remote = {c["remote"]["id"]: c["personId"] for c in httpx.get(f"{worknice.url}/_sandbox/connections").json()}
    assert remote["P010"] == "wn-10"


def test_person_without_employee_id_is_not_syncing_with_the_reason(aws, linked):
    _micropay, _worknice = linked

    state = employee("worknice-wn-9")["employee"]

    assert state["status"] == "NOT_SYNCING"
    assert "without an employee ID" in state["reason"]


def run_log(run: dict[str, Any]) -> list[str]:
    lines = api("api-get-run-log.json", path=f"/connections/{CONNECTION}/syncs/{run['run_id']}/log")[1]["lines"]
    return [line["message"] for line in lines]


def test_approved_leave_is_recorded_once_and_a_cancellation_follows(aws, linked):
    micropay, worknice = linked
    requests = [
        {"id": "lr-1", "personId": "wn-1", "category": "ANNUAL", "startDate": "2026-12-01", "endDate": "2026-12-02",
         "hours": 15.2, "status": "APPROVED"},
        {"id": "lr-2", "personId": "wn-2", "category": "SICK", "startDate": "2026-12-03", "endDate": "2026-12-03",
         "hours": 7.6, "status": "PENDING"},
    ]  # fmt: skip
    put(worknice, "leave-requests", requests)

    sync(aws)
    mark = request_count(micropay)
    again = sync(aws)

    [leave] = httpx.get(f"{micropay.url}/_sandbox/leave").json()
    assert (leave["empCode"], leave["externalId"], leave["hours"], leave["status"]) == (
        "P001",
        "lr-1",
        "15.2",
        "Recorded",
    )
    assert not [r for r in requests_since(micropay, mark) if r["path"] == "/api/LeaveRequest"]
    assert not any(line.startswith("Leave:") for line in run_log(again))

    httpx.patch(f"{worknice.url}/_sandbox/leave-requests/lr-1", json={"status": "CANCELLED"}).raise_for_status()
    sync(aws)

    [leave] = httpx.get(f"{micropay.url}/_sandbox/leave").json()
    assert leave["status"] == "Cancelled"
    changes = employee("P001")["payroll_changes"]
    assert [(c["change_id"], c["state"]) for c in changes] == [("leave-lr-1", "CANCELLED")]


def test_leave_balances_reach_worknice_for_visible_categories_only_when_changed(aws, linked):
    micropay, worknice = linked
    put(micropay, "leave-balances", {"P001": {"ANNUAL": "76.0", "SICK": "38.0", "LSL": "10.0"}})
    status, body = save_connection(micropay, worknice, visible_leave_categories=["ANNUAL", "SICK"])
    assert status == 200, body
    sync(aws)

    assert httpx.get(f"{worknice.url}/_sandbox/leave-balances").json()["wn-1"] == {"ANNUAL": "76.0", "SICK": "38.0"}
    again = sync(aws)
    assert not any(line.startswith("Leave:") for line in run_log(again))

    put(micropay, "leave-balances", {"P001": {"ANNUAL": "68.4", "SICK": "38.0", "LSL": "10.0"}})
    changed = sync(aws)

    assert httpx.get(f"{worknice.url}/_sandbox/leave-balances").json()["wn-1"] == {"ANNUAL": "68.4", "SICK": "38.0"}
    assert any("balances set for 1 employees" in line for line in run_log(changed))


PERCENT_SPLIT = [
    {"bsb": "062-001", "accountNumber": "11112222", "accountName": "Savings", "percentage": 30, "order": 1},
    {"bsb": "062-002", "accountNumber": "33334444", "accountName": "Everyday", "balanceOfPay": True, "order": 2},
]


def approvals(micropay: MicrOpaySimulator, code: str) -> list[dict[str, Any]]:
    return [a for a in httpx.get(f"{micropay.url}/_sandbox/approvals").json() if a["empCode"] == code]


@pytest.mark.parametrize("direction", ["two_way", "target_to_source"])
def test_bank_split_in_percentages_reaches_micropay_as_fixed_amounts_of_the_known_pay(aws, linked, direction):
    micropay, worknice = linked
    status, body = save_connection(micropay, worknice, directions={"bank": direction})
    assert status == 200, body
    run_invocations(aws)
    drain(aws)
    # P001: a known pay; P002: none, and an address edit in Worknice that must wait with the bank split.
    httpx.patch(
        f"{micropay.url}/_sandbox/records/P001", json={"changes": {"standardNetPay": "2345.67"}}
    ).raise_for_status()
    for person in ("wn-1", "wn-2"):
        httpx.patch(f"{worknice.url}/_sandbox/records/{person}", json={"bankAccounts": PERCENT_SPLIT})
    moved = {"street": "2 Wattle Rd", "suburb": "Sydney", "state": "NSW", "postcode": "2000", "country": "AU"}
    httpx.patch(f"{worknice.url}/_sandbox/records/wn-2", json={"profileAddress": moved}).raise_for_status()

    run = sync(aws)

    [change] = approvals(micropay, "P001")
    assert change["changes"] == {
        "bankAccounts": [
            {
                "bsbCode": "062-001",
                "accountNumber": "11112222",
                "accountName": "Savings",
                "payAmount": "703.70",
                "balanceOfPay": False,
                "order": 1,
            },
            {
                "bsbCode": "062-002",
                "accountNumber": "33334444",
                "accountName": "Everyday",
                "payAmount": None,
                "balanceOfPay": True,
                "order": 2,
            },
        ]
    }  # fmt: skip  (30% of 2345.67 is 703.701, rounded down; the balance account takes the rest)
    assert employee("P001")["employee"]["status"] == "SUCCESSFUL"
    held = employee("P002")["employee"]
    assert held["status"] == "NOT_SYNCING"
    assert "standardNetPay" in held["reason"] and "bankAccounts.percentage" in held["reason"]
    assert not any(value in held["reason"] for value in ("062-00", "11112222", "33334444", "30"))
    assert approvals(micropay, "P002") == []
    assert payroll(micropay)["P002"]["street"] != "2 Wattle Rd"  # nothing at all is sent for P002
    assert run["counters"]["not_syncing"] == 3  # P002, P004 (no Worknice person), wn-9 (no employee ID)
    assert run["status"] == "SUCCEEDED"

    # payroll approves: MicrOpay now holds what Worknice's split comes to, and nothing is sent again
    httpx.post(f"{micropay.url}/_sandbox/approvals/{change['statusId']}", json={"decision": "approve"})
    sync(aws)
    assert len(approvals(micropay, "P001")) == 1
    assert payroll(micropay)["P001"]["bankAccounts"][0]["payAmount"] == "703.70"

    # payroll sets P002's pay: its split is converted and sent, its address with it
    httpx.patch(
        f"{micropay.url}/_sandbox/records/P002", json={"changes": {"standardNetPay": "1000.00"}}
    ).raise_for_status()
    sync(aws)
    assert employee("P002")["employee"]["status"] == "SUCCESSFUL"
    [p002] = approvals(micropay, "P002")
    assert [a["payAmount"] for a in p002["changes"]["bankAccounts"]] == ["300.00", None]
    assert payroll(micropay)["P002"]["street"] == "2 Wattle Rd"


def test_bank_split_in_percentages_follows_a_pay_change_when_two_way(aws, linked):
    micropay, worknice = linked
    status, body = save_connection(micropay, worknice, directions={"bank": "two_way"})
    assert status == 200, body
    run_invocations(aws)
    drain(aws)
    httpx.patch(f"{micropay.url}/_sandbox/records/P001", json={"changes": {"standardNetPay": "2000.00"}})
    httpx.patch(f"{worknice.url}/_sandbox/records/wn-1", json={"bankAccounts": PERCENT_SPLIT}).raise_for_status()
    sync(aws)
    [first] = approvals(micropay, "P001")
    httpx.post(f"{micropay.url}/_sandbox/approvals/{first['statusId']}", json={"decision": "approve"})
    sync(aws)

    httpx.patch(f"{micropay.url}/_sandbox/records/P001", json={"changes": {"standardNetPay": "2100.00"}})
    sync(aws)

    assert [a["changes"]["bankAccounts"][0]["payAmount"] for a in approvals(micropay, "P001")] == ["600.00", "630.00"]
    # Worknice keeps its split in percentages: MicrOpay's amounts were not written over it
    assert people(worknice)["wn-1"]["bankAccounts"] == PERCENT_SPLIT
    assert conflicts() == []


def test_bank_from_micropay_leaves_a_percentage_split_that_comes_to_payroll_amounts(aws, linked):
    micropay, worknice = linked  # bank: source_to_target, the default
    split = [{**PERCENT_SPLIT[0], "percentage": 25}, PERCENT_SPLIT[1]]
    payroll_accounts = [
        {"bsbCode": "062-001", "accountNumber": "11112222", "accountName": "Savings", "payAmount": "500.00",
         "order": 1},
        {"bsbCode": "062-002", "accountNumber": "33334444", "accountName": "Everyday", "balanceOfPay": True,
         "order": 2},
    ]  # fmt: skip
    httpx.patch(
        f"{micropay.url}/_sandbox/records/P001",
        json={"changes": {"standardNetPay": "2000.00", "bankAccounts": payroll_accounts}},
    ).raise_for_status()
    httpx.patch(
        f"{micropay.url}/_sandbox/records/P002", json={"changes": {"bankAccounts": payroll_accounts}}
    ).raise_for_status()
    for person in ("wn-1", "wn-2"):
        httpx.patch(f"{worknice.url}/_sandbox/records/{person}", json={"bankAccounts": split}).raise_for_status()

    sync(aws)

    # P001: 25% of 2000.00 is payroll's 500.00, so Worknice keeps its percentages; P002's pay is unknown, so
    # payroll's fixed amounts are written over the split (MicrOpay owns bank accounts in this direction)
    assert people(worknice)["wn-1"]["bankAccounts"] == split
    assert [(a.get("percentage"), a["amount"]) for a in people(worknice)["wn-2"]["bankAccounts"]] == [
        (None, "500.00"),
        (None, None),
    ]
    assert employee("P002")["employee"]["status"] == "SUCCESSFUL"


def ended(counters: dict[str, Any]) -> int:
    """How many employees a run ended one way or another: with nothing queued, every one it saw."""
    names = ("in_step", "not_syncing", "conflicts", "failed", "created", "updated", "marked_leaver", "unreadable")
    return sum(counters[name] for name in names)


def test_run_counts_new_hires_and_failures_so_every_employee_seen_ends_counted(aws, linked):
    micropay, worknice = linked
    records = list(people(worknice).values())
    put(worknice, "records", [*records, worknice_person("wn-10", "P010", "Eve", "New", "eve@example.com")])

    first = sync(aws)

    # P001-P004 from MicrOpay; wn-9 (no employee ID) and P010 (new hire, pending in the wizard) from Worknice
    c = first["counters"]
    assert (c["seen"], c["in_step"], c["not_syncing"], c["failed"]) == (6, 3, 3, 0)
    assert ended(c) == c["seen"]
    assert employee("P010")["employee"]["status"] == "NOT_SYNCING"

    # Then: another new hire MicrOpay refuses, and P001's address edit MicrOpay refuses; P010 still pending
    records = list(people(worknice).values())
    put(worknice, "records", [*records, worknice_person("wn-11", "P011", "Fay", "Gee", "fay@example.com")])
    moved = {"street": "3 Gum Rd", "suburb": "Sydney", "state": "NSW", "postcode": "2000", "country": "AU"}
    httpx.patch(f"{worknice.url}/_sandbox/records/wn-1", json={"profileAddress": moved}).raise_for_status()
    refuse_writes = {"error_rate": 1.0, "error_status": 400, "error_methods": ["POST"]}
    httpx.put(f"{micropay.url}/_sandbox/faults", json=refuse_writes).raise_for_status()
    try:
        second = sync(aws)
    finally:
        httpx.put(f"{micropay.url}/_sandbox/faults", json={}).raise_for_status()

    c = second["counters"]
    assert (c["seen"], c["in_step"], c["not_syncing"], c["failed"]) == (7, 2, 3, 2)
    assert ended(c) == c["seen"]
    assert second["status"] == "COMPLETED_WITH_FAILURES"
    assert [employee(code)["employee"]["status"] for code in ("P001", "P010", "P011")] == [
        "FAILED",
        "NOT_SYNCING",
        "FAILED",
    ]
    _status, failures = api("api-list-failures.json")
    assert {f["employee_id"] for f in failures["failures"]} >= {"P001", "P011"}
    assert any("Job Finished: 0 created, 0 updated, 0 marked as leavers, 2 already in step, 3 not syncing" in line
               for line in run_log(second))  # fmt: skip
