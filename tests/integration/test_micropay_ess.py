"""micropay-ess on moto with the MicrOpay and Access ESS simulators, through the real handlers: the change feed
with its safety nets, lookups first, fields by ownership, member edits back to payroll, the activation report
and the Web API log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest

from sandbox.sample import ess_member, micropay_employee, micropay_lookups
from sandbox.simulators import AccessEssSimulator, MicrOpaySimulator
from tests.integration.conftest import Aws, api, drain, run_invocations

pytestmark = pytest.mark.usefixtures("aws")
CONNECTION = "acme-ess"
LONG_AGO = (datetime.now(UTC) - timedelta(days=3)).isoformat()


def put(sim: Any, path: str, body: Any) -> None:
    httpx.put(f"{sim.url}/_sandbox/{path}", json=body).raise_for_status()


def age_change_table(micropay: MicrOpaySimulator, *extra: dict[str, Any]) -> None:
    """Every payroll record last changed days ago (outside the window), plus `extra` records."""
    records = httpx.get(f"{micropay.url}/_sandbox/records").json()
    put(micropay, "records", [{**r, "changedAt": LONG_AGO} for r in records] + list(extra))


def members(ess: AccessEssSimulator) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for m in httpx.get(f"{ess.url}/_sandbox/records").json():
        found.setdefault(m["employeeCode"], m)
    return found


def payroll(micropay: MicrOpaySimulator) -> dict[str, dict[str, Any]]:
    return {e["empCode"]: e for e in httpx.get(f"{micropay.url}/_sandbox/records").json()}


def sync(aws: Aws, *, event: str | None = None, **body: Any) -> dict[str, Any]:
    """POST /syncs (with `body`, or a sample event's own body) and play Lambda until the run is done."""
    if event:
        status, answer = api(event)
    else:
        status, answer = api("api-post-sync.json", path=f"/connections/{CONNECTION}/syncs", body=body)
    assert status == 202, answer
    run_invocations(aws)
    drain(aws)
    status, run = api("api-get-run.json", path=f"/connections/{CONNECTION}/syncs/{answer['run_id']}")
    assert status == 200
    return dict(run)


def employee(code: str) -> dict[str, Any]:
    status, body = api("api-get-employee.json", path=f"/connections/{CONNECTION}/employees/{code}")
    assert status == 200, body
    return dict(body)


def conflicts() -> list[dict[str, Any]]:
    return list(api("api-list-conflicts.json", path=f"/connections/{CONNECTION}/conflicts")[1]["conflicts"])


def log_lines(run_id: str) -> list[str]:
    status, body = api("api-get-run-log.json", path=f"/connections/{CONNECTION}/syncs/{run_id}/log")
    assert status == 200
    return [line["message"] for line in body["lines"]]


@pytest.fixture
def ess_systems(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MicrOpaySimulator, AccessEssSimulator]]:
    from hrsync import settings

    monkeypatch.setenv("RUN_FUNCTIONS", json.dumps({"micropay-ess": "MicropayEssSyncFunction"}))
    settings.get_settings.cache_clear()
    with MicrOpaySimulator() as micropay, AccessEssSimulator() as ess:
        put(micropay, "departments", micropay_lookups())
        put(
            micropay,
            "records",
            [
                micropay_employee("A001", "Ann", "Lee", "ann@example.com"),  # the forced event's employee
                micropay_employee("A002", "Bo", "Ray", "bo@example.com"),
                micropay_employee("A003", "Cy", "Dee", "cy@example.com"),
                micropay_employee("A004", "Di", "Fox", "di@example.com", location="PER"),  # not in Location lookup
            ],
        )
        put(
            ess,
            "records",
            [
                ess_member("m-A003a", "A003", "Cy", "Dee", "cy@example.com"),
                ess_member("m-A003b", "A003", "Cyrus", "Dee", "cyrus@example.com"),  # duplicate code
                ess_member("m-X999", "A09", "Eve", "Typo", "eve@example.com"),  # code matches no employee
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
                    "target": {"api_key": ess.api_key},
                }
            ),
        )
        status, body = api(
            "api-put-connection.json",
            path=f"/connections/{CONNECTION}",
            body={
                "connector": "micropay-ess",
                "source": {"base_url": micropay.url},
                "target": {"base_url": ess.url},
                "secret_name": f"hrsync/{CONNECTION}",
                "options": {"change_feed_overlap_seconds": 300},
            },
        )
        assert status == 201, body
        run_invocations(aws)
        drain(aws)
        yield micropay, ess


def first_run(aws: Aws) -> dict[str, Any]:
    status, _body = api("api-get-connection.json", path=f"/connections/{CONNECTION}")
    assert status == 200
    runs = api("api-get-run.json", path=f"/connections/{CONNECTION}/syncs")[1]["runs"]
    return dict(runs[-1])


def test_first_run_creates_members_with_profile_and_reports_activation_problems(aws, ess_systems):
    _micropay, ess = ess_systems
    run = first_run(aws)
    assert run["full_read"] is True
    assert run["status"] == "SUCCEEDED", run
    by_code = members(ess)
    # A001 and A002 created with payroll's employment fields and, on create, the profile fields
    assert by_code["A001"]["location"] == "SYD" and by_code["A001"]["payFrequency"] == "F"
    assert by_code["A001"]["address"]["street"] == "1 George St"
    assert by_code["A001"]["bankAccounts"][0]["bsb"] == "062-000"
    assert "A004" not in by_code
    a004 = employee("A004")["employee"]
    assert a004["status"] == "NOT_SYNCING"
    assert a004["reason"] == "MicrOpay record is invalid: field location: code is not in MicrOpay's Location lookup"
    # duplicate code: the activation report holds both members; only A003 is held back
    a003 = employee("A003")["employee"]
    assert a003["reason"] == "employee code A003 is held by 2 Access ESS members"
    report = {c["kind"]: c for c in conflicts()}
    assert report["duplicate_target_reference"]["target_ids"] == ["m-A003a", "m-A003b"]
    assert report["duplicate_target_reference"]["employee_ids"] == ["A003"]
    assert report["unmatched_target_record"]["target_ids"] == ["m-X999"]
    assert "matches no MicrOpay employee" in report["unmatched_target_record"]["reason"]


def test_duplicate_code_resolves_by_itself_once_fixed(aws, ess_systems):
    _micropay, ess = ess_systems
    stale = [m for m in httpx.get(f"{ess.url}/_sandbox/records").json() if m["memberId"] != "m-A003b"]
    put(ess, "records", [*stale, {**ess_member("m-A003b", "A033", "Cyrus", "Dee", None), "active": False}])

    run = sync(aws)

    assert run["full_read"] is False
    assert any(line.startswith("Importing employees from MicrOpay: changes since") for line in log_lines(run["run_id"]))
    assert employee("A003")["employee"]["status"] == "SUCCESSFUL"
    assert employee("A003")["employee"]["target_id"] == "m-A003a"
    assert "duplicate_target_reference" not in {c["kind"] for c in conflicts()}


def test_incremental_run_misses_unfed_employee_and_full_reconciliation_finds_it(aws, ess_systems):
    micropay, ess = ess_systems
    age_change_table(micropay, micropay_employee("A010", "Flo", "Gee", "flo@example.com", changed_at=LONG_AGO))

    incremental = sync(aws)
    assert incremental["full_read"] is False
    assert "A010" not in members(ess)
    requests = httpx.get(f"{micropay.url}/_sandbox/requests").json()
    assert any("changedSince=" in r["query"] for r in requests)

    full = sync(aws, event="api-post-sync-full.json")

    assert full["full_read"] is True and full["status"] == "SUCCEEDED"
    assert members(ess)["A010"]["firstName"] == "Flo"
    assert full["counters"]["created"] == 1


def test_forced_employee_ids_resync_whatever_the_change_feed_says(aws, ess_systems):
    micropay, ess = ess_systems
    age_change_table(micropay)
    httpx.patch(
        f"{micropay.url}/_sandbox/records/A001", json={"changes": {"payPoint": "PP2"}, "changeFeed": False}
    ).raise_for_status()
    assert sync(aws)["counters"]["updated"] == 0  # the change table missed it

    forced = sync(aws, event="api-post-sync-forced.json")

    assert forced["counters"]["updated"] == 1, "\n".join([str(forced), *log_lines(forced["run_id"])])
    assert members(ess)["A001"]["payPoint"] == "PP2"


def test_force_without_employee_ids_is_refused(aws, ess_systems):
    status, _body = api("api-post-sync.json", path=f"/connections/{CONNECTION}/syncs", body={"force": True})
    assert status == 422


def test_payroll_change_to_create_only_field_does_not_overwrite_member(aws, ess_systems):
    micropay, ess = ess_systems
    member_id = members(ess)["A001"]["memberId"]
    httpx.post(f"{ess.url}/_sandbox/members/{member_id}/edit", json={"phone": "0411 111 111"}).raise_for_status()
    httpx.patch(
        f"{micropay.url}/_sandbox/records/A002", json={"changes": {"street": "9 Payroll Rd", "location": "MEL"}}
    ).raise_for_status()

    sync(aws)

    a002 = members(ess)["A002"]
    assert a002["location"] == "MEL"  # employment field: payroll wins
    assert a002["address"]["street"] == "1 George St"  # create-only: the member's value stays


def test_member_address_reaches_payroll_at_once_and_bank_waits_for_approval(aws, ess_systems):
    micropay, ess = ess_systems
    member_id = members(ess)["A001"]["memberId"]
    address = {"street": "5 New St", "suburb": "Parramatta", "state": "NSW", "postcode": "2150", "country": "AU"}
    bank = [{"bsb": "033-000", "accountNumber": "99887766", "accountName": "Me", "balanceOfPay": True, "order": 1}]
    httpx.post(f"{ess.url}/_sandbox/members/{member_id}/edit", json={"address": address}).raise_for_status()
    httpx.post(f"{ess.url}/_sandbox/members/{member_id}/edit", json={"bankAccounts": bank}).raise_for_status()

    run = sync(aws)

    assert run["status"] == "SUCCEEDED"
    a001 = payroll(micropay)["A001"]
    assert a001["street"] == "5 New St" and a001["suburbCity"] == "Parramatta"
    assert a001["bankAccounts"][0]["bsbCode"] == "062-000"  # not yet: waiting for a payroll user
    changes = {tuple(c["fields"]): c for c in employee("A001")["payroll_changes"]}
    assert changes[("address",)]["state"] == "APPLIED"
    waiting = changes[("bank_accounts",)]
    assert waiting["state"] == "PENDING_APPROVAL" and waiting["status_id"]
    assert "99887766" not in json.dumps(employee("A001"))

    again = sync(aws)  # the edits are read again inside the overlap window: neither is uploaded twice
    assert len(httpx.get(f"{micropay.url}/_sandbox/approvals").json()) == 1
    assert len(employee("A001")["payroll_changes"]) == 2
    assert any("still waiting" in line for line in log_lines(again["run_id"]))

    httpx.post(
        f"{micropay.url}/_sandbox/approvals/{waiting['status_id']}", json={"decision": "approve"}
    ).raise_for_status()
    sync(aws)

    changes = {tuple(c["fields"]): c for c in employee("A001")["payroll_changes"]}
    assert changes[("bank_accounts",)]["state"] == "APPROVED"
    assert payroll(micropay)["A001"]["bankAccounts"][0]["bsbCode"] == "033-000"


def test_deleted_payroll_employee_deactivates_member(aws, ess_systems):
    micropay, ess = ess_systems
    httpx.delete(f"{micropay.url}/_sandbox/records/A002").raise_for_status()

    run = sync(aws)

    assert run["counters"]["marked_leaver"] == 1
    assert members(ess)["A002"]["active"] is False
    assert members(ess)["A002"]["terminationDate"]


def test_run_log_reads_in_the_products_order_and_expires_in_a_month(aws, ess_systems):
    run = first_run(aws)
    lines = log_lines(run["run_id"])

    def at(prefix: str) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(prefix))

    lookups = [line for line in lines if line.startswith("Importing from lookups: ")]
    assert [line.removeprefix("Importing from lookups: ") for line in lookups] == [
        "country",
        "state",
        "gender",
        "super fund",
        "cost accounts",
        "job classification",
        "location",
        "pay point",
    ]
    order = [
        at("Job Started"),
        at("Clearing cache"),
        at("Importing from lookups: country"),
        at("Importing pay frequency"),
        at("Importing employees from MicrOpay"),
        at("Employees read:"),
        at("2 to create"),
        at("Uploads to payroll queued"),
        at("Job Finished"),
    ]
    assert order == sorted(order)
    assert sum(line == "Job Started" for line in lines) == 1
    items = boto3.client("dynamodb").query(
        TableName=aws.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"RUN#{run['run_id']}"}},
    )["Items"]
    month = datetime.now(UTC) + timedelta(days=30)
    for item in items:
        assert abs(int(item["expires_at"]["N"]) - month.timestamp()) < 120


def test_trigger_while_running_is_409_and_expired_lease_times_out_without_a_second_job_started(aws, ess_systems):
    from hrsync import clock
    from hrsync.context import store
    from hrsync.store import dynamo, keys

    status, started = api("api-post-sync-full.json")
    assert status == 202
    aws.invocations.clear()  # the run function never runs: it crashed
    status, busy = api("api-post-sync.json", path=f"/connections/{CONNECTION}/syncs", body={})
    assert status == 409 and busy["run_id"] == started["run_id"]
    dynamo.client().update_item(
        TableName=store().table,
        Key=dynamo.values({"pk": keys.connection(CONNECTION), "sk": keys.STATE}),
        UpdateExpression="SET lock_expires_at = :past",
        ExpressionAttributeValues=dynamo.values({":past": clock.epoch() - 1}),
    )

    fresh = sync(aws)

    status, old = api("api-get-run.json", path=f"/connections/{CONNECTION}/syncs/{started['run_id']}")
    assert old["status"] == "TIMED_OUT"
    assert log_lines(started["run_id"]) == [f"Job Timed Out: {old['reason']}; run {fresh['run_id']} took over"]
    assert log_lines(fresh["run_id"]).count("Job Started") == 1 and fresh["status"] == "SUCCEEDED"


def test_schedule_event_starts_a_run_for_micropay_connections_only(aws, ess_systems, monkeypatch):
    from functions_run_sync import handler

    from hrsync import settings
    from tests.integration.conftest import FakeContext, load_event

    monkeypatch.setenv("CONNECTOR", "micropay-ess")
    settings.get_settings.cache_clear()

    result = handler(load_event("run-sync-micropay-ess-schedule.json"), FakeContext("MicropayEssSyncFunction", 900))

    [(connection, run_id)] = result["scheduled"].items()
    assert connection == CONNECTION
    drain(aws)
    _status, run = api("api-get-run.json", path=f"/connections/{CONNECTION}/syncs/{run_id}")
    assert run["trigger"] == "schedule" and run["status"] == "SUCCEEDED"


def test_bank_change_rejected_by_payroll_shows_rejected_with_reason(aws, ess_systems):
    micropay, ess = ess_systems
    member_id = members(ess)["A002"]["memberId"]
    bank = [{"bsb": "033-000", "accountNumber": "1", "accountName": "Me", "balanceOfPay": True, "order": 1}]
    httpx.post(f"{ess.url}/_sandbox/members/{member_id}/edit", json={"bankAccounts": bank}).raise_for_status()
    sync(aws)
    [waiting] = employee("A002")["payroll_changes"]
    httpx.post(
        f"{micropay.url}/_sandbox/approvals/{waiting['status_id']}",
        json={"decision": "reject", "reason": "account closed"},
    ).raise_for_status()

    sync(aws)

    [decided] = employee("A002")["payroll_changes"]
    assert (decided["state"], decided["reason"]) == ("REJECTED", "account closed") and decided["decided_at"]
    assert payroll(micropay)["A002"]["bankAccounts"][0]["bsbCode"] == "062-000"

    httpx.post(f"{ess.url}/_sandbox/members/{member_id}/edit", json={"bankAccounts": bank}).raise_for_status()
    sync(aws)  # the member submits it again: a new edit goes to payroll again

    states = [c["state"] for c in employee("A002")["payroll_changes"]]
    assert states == ["REJECTED", "PENDING_APPROVAL"]


def test_payroll_unreachable_run_fails_with_the_reason_in_the_log(aws, ess_systems):
    micropay, _ess = ess_systems
    put(micropay, "faults", {"error_rate": 1.0, "error_status": 503})

    run = sync(aws)

    assert run["status"] == "FAILED" and "MicrOpay could not be read" in run["reason"]
    lines = log_lines(run["run_id"])
    assert lines[-1] == f"Job Failed: {run['reason']}"
    assert lines.count("Job Started") == 1
    assert any(line.startswith("Lookup Country could not be read") for line in lines)


def test_upload_refused_by_payroll_is_a_failure_for_review_and_others_still_go(aws, ess_systems):
    micropay, ess = ess_systems
    by_code = members(ess)
    httpx.post(f"{ess.url}/_sandbox/members/{by_code['A001']['memberId']}/edit", json={"phone": "9" * 200})
    httpx.post(f"{ess.url}/_sandbox/members/{by_code['A002']['memberId']}/edit", json={"phone": "0499 000 111"})

    run = sync(aws)

    assert run["status"] == "COMPLETED_WITH_FAILURES" and run["counters"]["failed"] == 1
    assert payroll(micropay)["A002"]["telephone1"] == "0499 000 111"
    [change] = employee("A001")["payroll_changes"]
    assert change["state"] == "FAILED" and "telephone1" in change["reason"]
    _, body = api("api-list-failures.json", path="/failures", query={"status": "OPEN"})
    [failure] = [f for f in body["failures"] if f["connection_id"] == CONNECTION]
    assert (failure["employee_id"], failure["action"]) == ("A001", "upload_to_payroll")
    assert "9" * 20 not in json.dumps(body)

    # the member corrects it; retrying the failure uploads what the member holds now
    httpx.put(
        f"{ess.url}/_sandbox/records",
        json=[
            {**m, "phone": "0411 222 333"} if m["memberId"] == by_code["A001"]["memberId"] else m
            for m in httpx.get(f"{ess.url}/_sandbox/records").json()
        ],
    ).raise_for_status()
    status, retried = api("api-post-sync.json", path=f"/failures/{failure['failure_id']}/retry", body="")
    assert status == 202, retried
    run_invocations(aws)
    drain(aws)
    assert payroll(micropay)["A001"]["telephone1"] == "0411 222 333"
    assert [c["state"] for c in employee("A001")["payroll_changes"]] == ["FAILED", "APPLIED"]


def test_personal_data_stays_out_of_the_table_and_the_logs(aws, ess_systems, caplog):
    micropay, ess = ess_systems
    canary = micropay_employee(
        "C001", "Canaryfirst", "Canarylast", "canary.person@example.com", street="77 Canary Lane"
    )
    canary["bankAccounts"] = [
        {"bsbCode": "765-432", "accountNumber": "CANARY99", "accountName": "Canary Acct", "balanceOfPay": True}
    ]
    put(micropay, "records", [*httpx.get(f"{micropay.url}/_sandbox/records").json(), canary])
    sync(aws)
    member_id = members(ess)["C001"]["memberId"]
    edit = {
        "address": {"street": "88 Canary Close", "suburb": "Canaryville", "state": "NSW", "postcode": "2999"},
        "bankAccounts": [
            {"bsb": "765-999", "accountNumber": "CANARY77", "accountName": "Canary New", "balanceOfPay": True}
        ],
        "phone": "0400 CANARY",
    }
    httpx.post(f"{ess.url}/_sandbox/members/{member_id}/edit", json=edit).raise_for_status()
    sync(aws)
    assert payroll(micropay)["C001"]["street"] == "88 Canary Close"  # the canary did travel where it belongs

    items = json.dumps(boto3.client("dynamodb").scan(TableName=aws.table)["Items"]).lower()
    logs = json.dumps([vars(record) for record in caplog.records], default=str).lower()
    assert "run queued" in logs and "c001" in items  # both were read: the check below can fail
    for where in (items, logs):
        assert "canary" not in where


def test_member_edited_in_ess_by_an_admin_is_put_back_without_a_payroll_change(aws, ess_systems):
    micropay, ess = ess_systems
    age_change_table(micropay)
    edited = [
        {**m, "location": "MEL", "payPoint": "PP2"} if m["employeeCode"] == "A001" else m
        for m in httpx.get(f"{ess.url}/_sandbox/records").json()
    ]
    put(ess, "records", edited)

    run = sync(aws)

    assert run["full_read"] is False and run["counters"]["updated"] == 1
    assert (members(ess)["A001"]["location"], members(ess)["A001"]["payPoint"]) == ("SYD", "PP1")
    assert sync(aws)["counters"]["updated"] == 0  # in step again: not re-sent
