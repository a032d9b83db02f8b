"""The MicrOpay and Access ESS adapters: pure mapping of camelCase JSON, and their requests (MockTransport)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from hrsync.errors import RecordNotFoundError
from hrsync.models.employee import Address, BankAccount, Employee, EmploymentStatus, RecordRejection
from hrsync.systems.access_ess import AccessEss, employee_from_member, member_fields
from hrsync.systems.http import RetryPolicy
from hrsync.systems.micropay import MicrOpay, employee_from_micropay, profile_changes
from sandbox.sample import micropay_employee

TODAY = datetime.now(UTC).date()


def test_employee_from_micropay_camel_case_maps_employment_and_profile() -> None:
    raw = micropay_employee("A1", "Ann", "Lee", "ann@example.com")
    raw["preferredName"] = "Annie"
    raw["bankAccounts"] = [
        {"bsbCode": "062-000", "accountNumber": "1", "accountName": "Rest", "balanceOfPay": True, "order": 2},
        {"bsbCode": "033-000", "accountNumber": "2", "accountName": "Save", "payAmount": 150, "order": 1},
    ]
    raw["standardNetPay"] = 2345.6

    employee = employee_from_micropay(raw)

    assert isinstance(employee, Employee)
    assert (employee.id, employee.code, employee.first_name, employee.last_name) == ("A1", "A1", "Annie", "Lee")
    assert (employee.location, employee.pay_point, employee.pay_frequency) == ("SYD", "PP1", "F")
    assert employee.address == Address(
        street="1 George St", suburb="Sydney", state="NSW", postcode="2000", country="AU"
    )
    assert employee.bank_accounts == (
        BankAccount(bsb="033-000", account_number="2", account_name="Save", amount="150.00", order=1),
        BankAccount(bsb="062-000", account_number="1", account_name="Rest", balance_of_pay=True, order=2),
    )
    assert employee.standard_net_pay == "2345.60"
    assert employee.status is EmploymentStatus.CURRENT


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"terminationDate": (TODAY - timedelta(days=1)).isoformat()}, EmploymentStatus.FORMER),
        ({"hiredDate": (TODAY + timedelta(days=7)).isoformat()}, EmploymentStatus.UPCOMING),
    ],
)
def test_employee_from_micropay_dates_give_status(change: dict[str, str], status: EmploymentStatus) -> None:
    employee = employee_from_micropay({**micropay_employee("A1", "Ann", "Lee"), **change})

    assert isinstance(employee, Employee) and employee.status is status


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"surname": ""}, "surname"),
        ({"empCode": "X" * 21}, "empCode"),
        ({"bankAccounts": [{"bsbCode": "0620001", "accountNumber": "1"}]}, "bankAccounts.0.bsbCode"),
        (
            {"bankAccounts": [{"bsbCode": "062-000", "accountNumber": "1", "payAmount": "10%"}]},
            "bankAccounts.0.payAmount",
        ),
        ({"hiredDate": "someday"}, "hiredDate"),
        ({"standardNetPay": "10%"}, "standardNetPay"),
    ],
)
def test_employee_from_micropay_bad_field_named_without_its_value(change: dict[str, object], field: str) -> None:
    rejection = employee_from_micropay({**micropay_employee("A1", "Ann", "Lee"), **change}, position="record 3")

    assert isinstance(rejection, RecordRejection)
    assert rejection.field == field and rejection.position == "record 3"
    assert "0620001" not in rejection.reason and "10%" not in rejection.reason


def test_profile_changes_named_fields_only_in_micropay_names() -> None:
    employee = Employee(id="A1", code="A1", phone="0400", address=Address(street="5 New St", state="VIC"))

    assert profile_changes(employee, ["phone", "address"]) == {
        "telephone1": "0400",
        "street": "5 New St",
        "suburbCity": None,
        "state": "VIC",
        "postcode": None,
        "country": None,
    }
    with pytest.raises(ValueError, match="not a profile field"):
        profile_changes(employee, ["location"])


def _micropay(handler) -> MicrOpay:  # type: ignore[no-untyped-def]
    client = httpx.Client(base_url="http://micropay.test/", transport=httpx.MockTransport(handler))
    return MicrOpay(client, RetryPolicy(attempts=1), page_size=2)


def test_micropay_change_feed_reads_pages_until_short_with_changed_since() -> None:
    seen: list[dict[str, str]] = []
    people = [micropay_employee(f"A{i}", "Ann", f"Lee{i}") for i in range(3)]

    def handle(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        seen.append(params)
        page = int(params["page"])
        return httpx.Response(200, json=people[(page - 1) * 2 : page * 2])

    listing = _micropay(handle).list_changed(datetime(2026, 11, 1, 4, 0, tzinfo=UTC))

    assert [e.code for e in listing.records] == ["A0", "A1", "A2"] and listing.complete
    assert [p["page"] for p in seen] == ["1", "2"]
    assert seen[0]["changedSince"] == "2026-11-01T04:00:00Z" and seen[0]["includeTerminated"] == "true"


def test_micropay_failing_page_marks_listing_incomplete() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.params["page"] == "2":
            return httpx.Response(500)
        return httpx.Response(200, json=[micropay_employee("A1", "Ann", "Lee"), micropay_employee("A2", "Bo", "Ray")])

    listing = _micropay(handle).list_employees()

    assert not listing.complete and "page 2" in (listing.incomplete_reason or "")


def test_micropay_get_employee_deleted_comes_back_as_leaver() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/DeletedEmployees"):
            return httpx.Response(200, json=[{"empId": 7, "empCode": "A9", "deletedDate": "2026-11-02"}])
        return httpx.Response(404, json={"message": "Employee not found"})

    payroll = _micropay(handle)
    gone = payroll.get_employee("A9")

    assert isinstance(gone, Employee)
    assert gone.status is EmploymentStatus.FORMER and gone.leave_date == date(2026, 11, 2)
    with pytest.raises(RecordNotFoundError):
        payroll.get_employee("A8")


def test_micropay_bank_goes_only_through_change_employee() -> None:
    bodies: list[tuple[str, dict[str, object]]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append((request.url.path, json.loads(request.content)))
        return httpx.Response(202, json={"statusId": "CE1", "status": "Pending"})

    payroll = _micropay(handle)
    employee = Employee(id="A1", code="A1", bank_accounts=(BankAccount(bsb="062-000", account_number="1"),))

    with pytest.raises(ValueError, match="ChangeEmployee"):
        payroll.change_employee_immediate(employee, ("bank_accounts",))
    assert payroll.change_employee(employee, ("bank_accounts",)) == "CE1"
    assert bodies == [
        (
            "/api/ChangeEmployee",
            {
                "empCode": "A1",
                "changes": {
                    "bankAccounts": [
                        {
                            "bsbCode": "062-000",
                            "accountNumber": "1",
                            "accountName": None,
                            "payAmount": None,
                            "balanceOfPay": False,
                            "order": 1,
                        }
                    ]
                },
            },
        )
    ]


def test_member_round_trip_through_member_fields() -> None:
    source = employee_from_micropay(micropay_employee("A1", "Ann", "Lee", "ann@example.com"))
    assert isinstance(source, Employee)
    fields = ("code", "first_name", "last_name", "location", "start_date", "address", "bank_accounts", "email")

    member = employee_from_member({"memberId": "m-1", "active": True, **member_fields(source, fields)})

    assert isinstance(member, Employee)
    for name in fields:
        assert getattr(member, name) == getattr(source, name), name


def test_member_unreadable_keeps_its_code_for_matching() -> None:
    rejection = employee_from_member({"memberId": "m-1", "employeeCode": "A1", "bankAccounts": [{"bsb": "bad"}]})

    assert isinstance(rejection, RecordRejection)
    assert rejection.keys == {"code": "A1"} and rejection.field == "bankAccounts.0.bsb"


def test_member_changes_field_names_mapped_and_bad_entries_named() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.params["since"] == "2026-11-01T00:00:00Z"
        return httpx.Response(
            200,
            json={
                "items": [
                    {
                        "changeId": 2,
                        "memberId": "m-1",
                        "employeeCode": "A1",
                        "fields": ["bankAccounts", "address", "nickname"],
                        "changedAt": "2026-11-02T01:00:00Z",
                    },
                    {"changeId": 3, "memberId": "m-2", "fields": ["phone"], "changedAt": "2026-11-02T02:00:00Z"},
                ]
            },
        )

    client = httpx.Client(base_url="http://ess.test/", transport=httpx.MockTransport(handle))
    changes, bad = AccessEss(client, RetryPolicy(attempts=1)).member_changes(datetime(2026, 11, 1, tzinfo=UTC))

    assert [(c.employee_code, c.fields) for c in changes] == [("A1", ("bank_accounts", "address"))]
    assert bad == ["change 1 (field employeeCode)"]
