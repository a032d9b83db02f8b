"""The sandbox benefits platform (scim2-server embedded) and the SCIM adapter against it; scim2-tester checks the
stand-in is a compliant SCIM server."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date

import httpx
import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from hrsync.errors import RejectedBySystemError, TransientSystemError
from hrsync.models.employee import Employee, EmploymentStatus
from hrsync.systems.http import RetryPolicy
from hrsync.systems.scim import BENEFITS_SCHEMA, ScimTarget
from sandbox.sample import scim_account
from sandbox.simulators.benefits import BenefitsSimulator

FIELDS = ("first_name", "last_name", "email", "code", "department_code", "benefits_level", "external_id")
SOURCE = Employee(
    id="src-1", code="E001", first_name="Ann", last_name="Lee", email="ann@acme.example", benefits_level="gold"
)


@pytest.fixture(scope="module")
def simulator() -> Iterator[BenefitsSimulator]:
    with BenefitsSimulator() as running:
        yield running


@pytest.fixture
def platform(simulator: BenefitsSimulator) -> BenefitsSimulator:
    httpx.post(f"{simulator.url}/_sandbox/reset").raise_for_status()
    return simulator


@pytest.fixture
def target(platform: BenefitsSimulator) -> Iterator[ScimTarget]:
    adapter = ScimTarget.connect(platform.scim_url, platform.api_key, RetryPolicy(attempts=2, wait_initial_s=0.0))
    yield adapter
    adapter.close()


def records(platform: BenefitsSimulator) -> list[dict]:
    return httpx.get(f"{platform.url}/_sandbox/records").json()


def test_benefits_sandbox_scim2_tester_finds_it_compliant(platform):
    http = httpx2.Client(base_url=platform.scim_url, headers={"Authorization": f"Bearer {platform.api_key}"})
    client = SyncSCIMClient(http)
    client.discover()
    results = check_server(client)
    statuses = Counter(result.status for result in results)
    failures = [(r.title, r.reason) for r in results if r.status not in (Status.SUCCESS, Status.SKIPPED)]
    assert statuses[Status.SUCCESS] > 50 and failures == []


def test_benefits_sandbox_refuses_a_wrong_bearer_token(platform):
    answer = httpx.get(f"{platform.scim_url}/Users", headers={"Authorization": "Bearer wrong"})
    assert answer.status_code == 401 and answer.headers["content-type"].startswith("application/scim+json")


def test_benefits_adapter_create_then_find_by_email_any_case_then_update_keeps_the_id(platform, target):
    account_id = target.create(SOURCE, FIELDS)
    [found] = target.find(email="ANN@ACME.EXAMPLE")
    assert found.id == account_id and found.external_id == "src-1" and found.benefits_level == "gold"
    target.update(account_id, SOURCE.model_copy(update={"email": "ann.new@acme.example"}), ("email",))
    [stored] = records(platform)
    assert stored["id"] == account_id and [e["value"] for e in stored["emails"]] == ["ann.new@acme.example"]
    assert target.find(email="ann@acme.example") == []


def test_benefits_adapter_mark_leaver_deactivates_with_the_date_and_never_deletes(platform, target):
    account_id = target.create(SOURCE, FIELDS)
    target.mark_leaver(account_id, date(2026, 11, 20))
    [stored] = records(platform)
    assert stored["active"] is False and stored[BENEFITS_SCHEMA]["leaveDate"] == "2026-11-20"
    [listed] = target.list_records().records
    assert listed.status is EmploymentStatus.FORMER and listed.leave_date == date(2026, 11, 20)
    methods = {r["method"] for r in httpx.get(f"{platform.url}/_sandbox/requests").json()}
    assert "DELETE" not in methods and "PATCH" in methods


def test_benefits_adapter_second_account_with_the_same_login_is_a_409_reason(platform, target):
    target.create(SOURCE, FIELDS)
    with pytest.raises(RejectedBySystemError, match="409 uniqueness"):
        target.create(SOURCE.model_copy(update={"id": "src-2"}), FIELDS)


def test_benefits_sandbox_records_loaded_as_given_two_accounts_may_share_an_email(platform, target):
    accounts = [
        scim_account("acct-1", "cara@acme.example", "Cara", "Shah", user_name="cshah"),
        scim_account("acct-2", "CARA@acme.example", "Cara", "Shah", user_name="cara.s", employee_number="E003"),
    ]
    httpx.put(f"{platform.url}/_sandbox/records", json=accounts).raise_for_status()
    assert sorted(e.id for e in target.find(email="cara@acme.example")) == ["acct-1", "acct-2"]
    assert [e.id for e in target.find(code="E003")] == ["acct-2"]
    assert {r["id"] for r in records(platform)} == {"acct-1", "acct-2"}


def test_benefits_sandbox_bad_record_refused_naming_its_index(platform):
    answer = httpx.put(f"{platform.url}/_sandbox/records", json=[scim_account("a", "a@x.example", "A", "B"), 7])
    assert answer.status_code == 400 and answer.json()["index"] == 1


def test_benefits_sandbox_faults_apply_to_scim_and_the_log_records_them(platform, target):
    httpx.put(f"{platform.url}/_sandbox/faults", json={"error_rate": 1.0, "error_status": 503}).raise_for_status()
    with pytest.raises(TransientSystemError, match="503"):
        target.create(SOURCE, FIELDS)
    log = httpx.get(f"{platform.url}/_sandbox/requests").json()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [("POST", "/v2/Users", 503)] * 2
    assert records(platform) == []


def test_benefits_sandbox_has_no_departments_to_load(platform):
    assert httpx.put(f"{platform.url}/_sandbox/departments", json=[{"code": "X"}]).status_code == 400
    assert httpx.get(f"{platform.url}/_sandbox/departments").json() == []
