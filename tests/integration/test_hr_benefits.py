"""hr-benefits through the real handlers on moto, with Staffology's simulator and the scim2-server sandbox:
HR's selection and its confirm dialog, the tabs with search and paging, benefits levels, link by email then id."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import httpx
import pytest

from sandbox.sample import employee_id, scim_account, staffology_employee
from sandbox.simulators import BenefitsSimulator, StaffologySimulator
from sandbox.simulators.staffology import DEFAULT_API_KEY as STAFFOLOGY_KEY
from sandbox.simulators.staffology import DEFAULT_EMPLOYER_ID
from tests.integration.conftest import api, drain, run_invocations

CONNECTION = "acme-benefits"
B001, B002, B003, B006 = (employee_id(code) for code in ("B001", "B002", "B003", "B006"))


@pytest.fixture
def benefits_systems(aws, monkeypatch) -> Iterator[tuple[StaffologySimulator, BenefitsSimulator]]:
    from hrsync import settings

    monkeypatch.setenv(
        "RUN_FUNCTIONS",
        json.dumps(
            {"staffology-expensein": "StaffologyExpenseInSyncFunction", "hr-benefits": "HrBenefitsSyncFunction"}
        ),
    )
    settings.get_settings.cache_clear()
    with StaffologySimulator() as staffology, BenefitsSimulator() as benefits:
        httpx.put(
            f"{staffology.url}/_sandbox/records",
            json=[
                staffology_employee("B001", "Ann", "Lee", "ann.lee@acme.example"),
                staffology_employee(
                    "B002", "Ben", "Okafor", "ben@acme.example", status="Upcoming", tags=["create-benefits-record"]
                ),
                staffology_employee("B003", "Cara", "Shah", "cara@acme.example"),
                staffology_employee("B006", "Finn", "Moss", "finn@acme.example"),
            ],
        ).raise_for_status()
        httpx.put(
            f"{benefits.url}/_sandbox/records",
            json=[
                scim_account("acct-ann", "Ann.Lee@acme.example", "Ann", "Lee"),
                scim_account("acct-cara-1", "cara@acme.example", "Cara", "Shah", user_name="c1"),
                scim_account("acct-cara-2", "cara@acme.example", "Cara", "Shah", user_name="c2"),
            ],
        ).raise_for_status()
        boto3.client("secretsmanager").create_secret(
            Name=f"hrsync/{CONNECTION}",
            SecretString=json.dumps({"source": {"api_key": STAFFOLOGY_KEY}, "target": {"api_key": benefits.api_key}}),
        )
        body = {
            "connector": "hr-benefits",
            "source": {"base_url": staffology.url, "employer_id": DEFAULT_EMPLOYER_ID, "system": "staffology"},
            "target": {"base_url": benefits.scim_url},
            "secret_name": f"hrsync/{CONNECTION}",
        }
        status, answer = api("api-put-connection.json", path=f"/connections/{CONNECTION}", body=body)
        assert status == 201, answer
        run_invocations(aws)
        drain(aws)
        yield staffology, benefits


def tab(**query: str) -> dict:
    status, body = api("api-list-employees.json", path=f"/connections/{CONNECTION}/employees", query=query)
    assert status == 200, body
    return body


def sync(aws, employee_ids: list[str] | None = None) -> str:
    body = {"employee_ids": employee_ids} if employee_ids else {}
    status, answer = api("api-post-sync.json", path=f"/connections/{CONNECTION}/syncs", body=body)
    assert status == 202, answer
    run_invocations(aws)
    drain(aws)
    return answer["run_id"]


def accounts(benefits: BenefitsSimulator) -> dict[str, dict]:
    return {a["id"]: a for a in httpx.get(f"{benefits.url}/_sandbox/records").json()}


def test_hr_benefits_first_run_creates_the_flagged_starter_and_the_rest_wait_for_selection(aws, benefits_systems):
    _, benefits = benefits_systems
    rows = {row["employee_id"]: row for row in tab()["employees"]}
    assert rows[B002]["status"] == "SUCCESSFUL" and rows[B002]["matched_by"] == "created"
    assert accounts(benefits)[rows[B002]["target_id"]]["externalId"] == B002
    assert rows[B001]["status"] == "NOT_SYNCING" and rows[B001]["awaiting_selection"] and not rows[B001]["target_id"]
    assert rows[B003]["reason"].startswith("2 Benefits platform accounts have this email")


def test_hr_benefits_tabs_search_by_name_asks_the_source_and_by_code_and_pages(aws, benefits_systems):
    waiting = tab(status="NOT_SYNCING")
    assert waiting["total"] == 3 and {r["code"] for r in waiting["employees"]} == {"B001", "B003", "B006"}
    by_name = tab(status="NOT_SYNCING", search="Shah")
    assert [r["code"] for r in by_name["employees"]] == ["B003"] and by_name["search_note"] is None
    assert [r["code"] for r in tab(search="b00")["employees"]] == ["B001", "B002", "B003", "B006"]
    second = tab(status="NOT_SYNCING", page="2", page_size="2")
    assert (second["total"], second["page"], [r["code"] for r in second["employees"]]) == (3, 2, ["B006"])
    short = tab(search="Mo")
    assert short["employees"] == [] and "3 characters" in short["search_note"]
    status, _ = api("api-list-employees.json", path=f"/connections/{CONNECTION}/employees", query={"page": "0"})
    assert status == 422


def test_hr_benefits_preview_counts_what_would_be_sent_and_why_not(aws, benefits_systems):
    path = f"/connections/{CONNECTION}/syncs/preview"
    status, body = api("api-post-sync-preview.json", path=path, body={"employee_ids": [B001, B003, "nobody"]})
    assert status == 200, body
    assert (body["selected"], body["would_send"], body["cannot_send"]) == (3, 1, 2)
    reasons = {entry["employee_id"]: entry["reason"] for entry in body["cannot"]}
    assert reasons[B003].startswith("2 Benefits platform accounts") and "not seen by a sync" in reasons["nobody"]
    status, body = api(
        "api-post-sync-preview.json", path=path, body={"filter": {"status": "NOT_SYNCING", "search": "B00"}}
    )
    assert status == 200 and (body["selected"], body["would_send"]) == (3, 2)
    status, body = api("api-post-sync-preview.json", path=path, body={"employee_ids": [B001], "filter": {}})
    assert status == 422


def test_hr_benefits_selected_employee_linked_by_email_then_updated_by_id_whatever_the_email(aws, benefits_systems):
    staffology, benefits = benefits_systems
    sync(aws, [B001, B003])
    rows = {row["employee_id"]: row for row in tab()["employees"]}
    assert (rows[B001]["status"], rows[B001]["target_id"], rows[B001]["matched_by"]) == (
        "SUCCESSFUL",
        "acct-ann",
        "email",
    )
    assert rows[B003]["status"] == "NOT_SYNCING" and rows[B001]["enrolled"]
    assert accounts(benefits)["acct-ann"]["externalId"] == B001

    employees = httpx.get(f"{staffology.url}/_sandbox/records").json()
    for record in employees:
        if record["id"] == B001:
            record["personalDetails"]["email"] = "ann@elsewhere.example"
    httpx.put(f"{staffology.url}/_sandbox/records", json=employees).raise_for_status()
    status, _ = api(
        "api-put-employee-benefits-level.json",
        path=f"/connections/{CONNECTION}/employees/{B001}",
        body={"benefits_level": "gold"},
    )
    assert status == 200
    sync(aws)
    after = accounts(benefits)
    assert len(after) == 4  # the three loaded and the starter created: no second account for Ann
    ann = after["acct-ann"]
    assert [e["value"] for e in ann["emails"]] == ["ann@elsewhere.example"]
    assert ann["urn:hrsync:params:scim:schemas:extension:benefits:2.0:User"]["benefitsLevel"] == "gold"

    seen = len(httpx.get(f"{benefits.url}/_sandbox/requests").json())
    sync(aws)
    assert {r["method"] for r in httpx.get(f"{benefits.url}/_sandbox/requests").json()[seen:]} == {"GET"}
    status, detail = api("api-get-employee.json", path=f"/connections/{CONNECTION}/employees/{B001}")
    assert status == 200 and [h["outcome"] for h in detail["history"]][:2] == ["SUCCESSFUL", "SUCCESSFUL"]

    # names and emails stay in the two systems: none in hrsync's table (states, history, runs, log lines)
    items = json.dumps(boto3.client("dynamodb").scan(TableName=aws.table)["Items"])
    for personal in ("ann.lee@acme.example", "ann@elsewhere.example", "cara@acme.example", "Okafor", "Shah", "Lee"):
        assert personal not in items


def test_hr_benefits_level_for_unknown_employee_404_and_bad_level_422(aws, benefits_systems):
    path = f"/connections/{CONNECTION}/employees"
    status, _ = api("api-put-employee-benefits-level.json", path=f"{path}/nobody", body={"benefits_level": "gold"})
    assert status == 404
    status, body = api("api-put-employee-benefits-level.json", path=f"{path}/{B001}", body={"benefits_level": "<b>"})
    assert status == 422 and "<b>" not in json.dumps(body.get("message", ""))


def test_hr_benefits_connection_without_its_source_system_refused_naming_the_field(aws, benefits_systems):
    staffology, benefits = benefits_systems
    body = {
        "connector": "hr-benefits",
        "source": {"base_url": staffology.url, "employer_id": DEFAULT_EMPLOYER_ID},
        "target": {"base_url": benefits.scim_url},
        "secret_name": f"hrsync/{CONNECTION}",
    }
    status, answer = api("api-put-connection.json", path="/connections/no-source-system", body=body)
    assert status == 422 and "source.system" in answer["message"]
    status, _ = api("api-get-connection.json", path="/connections/no-source-system")
    assert status == 404


def test_hr_benefits_platform_refusing_every_create_fails_the_employee_with_every_attempt_in_history(
    aws, benefits_systems
):
    staffology, benefits = benefits_systems
    employees = httpx.get(f"{staffology.url}/_sandbox/records").json()
    employees.append(staffology_employee("B007", "Gus", "Webb", "gus@acme.example", tags=["create-benefits-record"]))
    httpx.put(f"{staffology.url}/_sandbox/records", json=employees).raise_for_status()
    faults = {"error_rate": 1.0, "error_status": 503, "error_methods": ["POST"]}
    httpx.put(f"{benefits.url}/_sandbox/faults", json=faults).raise_for_status()
    run_id = sync(aws)

    b007 = employee_id("B007")
    status, detail = api("api-get-employee.json", path=f"/connections/{CONNECTION}/employees/{b007}")
    assert status == 200 and detail["employee"]["status"] == "FAILED" and "503" in detail["employee"]["reason"]
    history = [h for h in detail["history"] if h["run_id"] == run_id]
    assert history[0]["outcome"] == "FAILED"
    attempts = [h for h in history if h["outcome"] == "IN_PROGRESS"]
    assert len(attempts) >= 2 and all("503" in h["reason"] and h["action"] == "create" for h in attempts)
    status, failures = api("api-list-failures.json", path="/failures")
    assert any(f["employee_id"] == b007 and f["run_id"] == run_id for f in failures["failures"])


def test_hr_benefits_level_assigned_then_cleared_goes_back_to_the_sources(aws, benefits_systems):
    _, benefits = benefits_systems
    sync(aws, [B001])
    path = f"/connections/{CONNECTION}/employees/{B001}"
    level = "urn:hrsync:params:scim:schemas:extension:benefits:2.0:User"
    status, state = api("api-put-employee-benefits-level.json", path=path, body={"benefits_level": "gold"})
    assert status == 200 and state["assigned_benefits_level"] == "gold"
    sync(aws)
    assert accounts(benefits)["acct-ann"][level]["benefitsLevel"] == "gold"
    sync(aws)  # in step: an incremental run may carry Ann over unread
    status, _ = api("api-put-employee-benefits-level.json", path=path, body={"benefits_level": None})
    assert status == 200
    sync(aws)
    assert not accounts(benefits)["acct-ann"].get(level, {}).get("benefitsLevel")


def test_hr_benefits_assigning_a_level_drops_the_fingerprint_so_the_next_run_reads_the_employee(aws):
    """An employee whose target record still gives its fingerprint may be carried over unread by an incremental
    run (its values taken from the target); after a level is assigned it must be read and planned afresh."""
    from hrsync.context import store
    from hrsync.models.records import EmployeeState, SyncStatus

    db = store()
    db.put_employee_states(
        [
            EmployeeState(
                connection_id=CONNECTION,
                employee_id=B001,
                status=SyncStatus.SUCCESSFUL,
                target_id="acct-ann",
                source_status="current",
                fingerprint="f" * 64,
            )
        ]
    )
    state = db.assign_benefits_level(CONNECTION, B001, "gold")
    assert state.assigned_benefits_level == "gold" and state.fingerprint is None
    assert db.get_employee_state(CONNECTION, B001).fingerprint is None
