"""The SCIM adapter's mapping and its answers to SCIM errors, on pure functions and httpx.MockTransport."""

from __future__ import annotations

import json
from datetime import date

import httpx
import pytest

from hrsync.errors import AuthenticationError, RejectedBySystemError, TransientSystemError
from hrsync.models.employee import Employee, EmploymentStatus, RecordRejection
from hrsync.systems.http import RetryPolicy
from hrsync.systems.scim import (
    BENEFITS_SCHEMA,
    ENTERPRISE_SCHEMA,
    ScimTarget,
    ScimUser,
    apply_fields,
    employee_from_scim,
    new_user,
    scim_filter_string,
)

SCIM_JSON = "application/scim+json"


def resource(id_: str, email: str = "ann@example.com", **extra: object) -> dict:
    body: dict = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_SCHEMA, BENEFITS_SCHEMA],
        "id": id_,
        "userName": email,
        "name": {"givenName": "Ann", "familyName": "Lee"},
        "emails": [{"value": "home@example.com", "type": "home"}, {"value": email, "primary": True}],
        "active": True,
        "externalId": "src-1",
        ENTERPRISE_SCHEMA: {"employeeNumber": "E001", "department": "SALES", "costCenter": "CC7"},
        BENEFITS_SCHEMA: {"benefitsLevel": "gold"},
        "meta": {"resourceType": "User"},
    }
    body.update(extra)
    return body


def test_scim_user_maps_to_employee_with_extensions():
    employee = employee_from_scim(resource("a1"))
    assert isinstance(employee, Employee)
    assert (employee.id, employee.code, employee.email, employee.first_name) == ("a1", "E001", "ann@example.com", "Ann")
    assert (employee.department_code, employee.cost_centre, employee.benefits_level) == ("SALES", "CC7", "gold")
    assert employee.external_id == "src-1" and employee.status is EmploymentStatus.CURRENT


def test_scim_inactive_user_with_leave_date_is_former():
    raw = resource("a1", active=False)
    raw[BENEFITS_SCHEMA]["leaveDate"] = "2026-11-20"
    employee = employee_from_scim(raw)
    assert isinstance(employee, Employee)
    assert employee.status is EmploymentStatus.FORMER and employee.leave_date == date(2026, 11, 20)


def test_scim_bad_user_rejected_naming_the_field_never_the_value_keeping_its_email_key():
    raw = resource("a1", active="certainly-not")
    rejection = employee_from_scim(raw, position="page 1, item 3")
    assert isinstance(rejection, RecordRejection)
    assert rejection.field == "active" and rejection.record_id == "a1" and "certainly" not in rejection.reason
    assert rejection.keys == {"email": "home@example.com"}


def test_scim_new_user_is_active_with_email_login_and_hrsync_external_id():
    source = Employee(id="src-9", code="E009", first_name="Cy", last_name="Ode", email="cy@example.com")
    body = new_user(source, ("first_name", "last_name", "email", "code", "external_id")).model_dump()
    assert body["userName"] == "cy@example.com" and body["active"] is True and body["externalId"] == "src-9"
    assert body["emails"] == [{"value": "cy@example.com", "type": "work", "primary": True}]
    assert body[ENTERPRISE_SCHEMA] == {"employeeNumber": "E009"}


def test_scim_update_changes_the_primary_email_only_and_keeps_the_rest():
    user = ScimUser.model_validate(resource("a1"))
    source = Employee(id="src-1", email="new@example.com", first_name="Ann", last_name="Lee")
    apply_fields(user, source, ("email",))
    body = user.model_dump()
    assert [e["value"] for e in body["emails"]] == ["home@example.com", "new@example.com"]
    assert body["userName"] == "ann@example.com"  # the login is the platform's once the account exists
    assert body[ENTERPRISE_SCHEMA]["costCenter"] == "CC7"


def test_scim_filter_string_escapes_quotes_and_backslashes():
    assert scim_filter_string('a"b\\c@example.com') == '"a\\"b\\\\c@example.com"'


def _target(handler) -> ScimTarget:
    client = httpx.Client(base_url="http://scim.test/v2/", transport=httpx.MockTransport(handler))
    return ScimTarget(client, RetryPolicy(attempts=2, wait_initial_s=0.0, max_wait_s=0.0))


def _scim(status: int, body: dict | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body or {}).encode(), headers={"Content-Type": SCIM_JSON})


def _error(status: int, scim_type: str | None, detail: str) -> httpx.Response:
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return _scim(status, body)


EMPLOYEE = Employee(id="src-1", code="E001", first_name="Ann", last_name="Lee", email="ann@example.com")


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        (_error(409, "uniqueness", "userName ann@example.com is taken"), RejectedBySystemError, "409 uniqueness"),
        (_error(400, "invalidValue", "name.givenName is invalid"), RejectedBySystemError, "400 invalidValue"),
        (_error(401, None, "no"), AuthenticationError, "credentials"),
    ],
)
def test_scim_create_refusals_become_clear_per_employee_reasons(answer, error, words):
    target = _target(lambda request: answer)
    with pytest.raises(error) as raised:
        target.create(EMPLOYEE, ("first_name", "last_name", "email"))
    assert words in str(raised.value)
    assert "ann@example.com" not in str(raised.value)  # the platform's detail is redacted


def test_scim_update_of_an_account_gone_is_refused_with_404():
    target = _target(lambda request: _error(404, None, "User a1 not found"))
    with pytest.raises(RejectedBySystemError, match="no such account") as raised:
        target.update("a1", EMPLOYEE, ("email",))
    assert raised.value.status == 404


def test_scim_unavailable_platform_is_transient_after_retries():
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(503)

    with pytest.raises(TransientSystemError, match="503"):
        _target(handler).create(EMPLOYEE, ("email",))
    assert calls == ["POST", "POST"]


def test_scim_listing_reads_pages_by_one_based_start_index_and_keeps_good_records_past_a_bad_one():
    accounts = [resource(f"a{n}", f"p{n}@example.com") for n in range(5)]
    accounts[2]["active"] = "broken"
    starts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        start, count = int(request.url.params["startIndex"]), 2
        starts.append(start)
        page = accounts[start - 1 : start - 1 + count]
        return _scim(
            200,
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": len(accounts),
                "startIndex": start,
                "itemsPerPage": len(page),
                "Resources": page,
            },
        )

    listing = _target(handler).list_records()
    assert listing.complete and starts == [1, 3, 5]
    assert [e.id for e in listing.records] == ["a0", "a1", "a3", "a4"]
    assert [r.record_id for r in listing.rejections] == ["a2"]


def test_scim_listing_failing_part_way_is_incomplete():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["startIndex"] != "1":
            return httpx.Response(500)
        return _scim(200, {"totalResults": 5, "startIndex": 1, "itemsPerPage": 1, "Resources": [resource("a0")]})

    listing = _target(handler).list_records()
    assert not listing.complete and "accounts from 2" in (listing.incomplete_reason or "")
    assert [e.id for e in listing.records] == ["a0"]


def test_scim_find_by_email_filters_on_emails_value():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["filter"])
        return _scim(200, {"totalResults": 1, "startIndex": 1, "itemsPerPage": 1, "Resources": [resource("a1")]})

    assert [e.id for e in _target(handler).find(email="Ann@Example.com")] == ["a1"]
    assert seen == ['emails.value eq "Ann@Example.com"']
