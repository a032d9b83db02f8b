"""Vendor JSON <-> canonical Employee, and bad payloads giving per-record reasons instead of crashes."""

from __future__ import annotations

from datetime import date

import pytest

from hrsync.models.employee import BankDetails, Employee, EmploymentStatus, RecordRejection
from hrsync.systems.expensein import employee_from_user, user_fields
from hrsync.systems.staffology import employee_from_staffology
from sandbox.sample import expensein_user, staffology_employee

BANK = {"accountName": "A Lee", "accountNumber": "12345678", "sortCode": "12-34-56"}


def test_staffology_current_employee_maps_every_field():
    raw = staffology_employee("E001", " Ann ", "Lee", "ann@example.com", department="ENG", bank=BANK)
    employee = employee_from_staffology(raw)
    assert employee == Employee(
        id=raw["id"],
        code="E001",
        first_name="Ann",
        last_name="Lee",
        email="ann@example.com",
        department_code="ENG",
        bank=BankDetails(account_name="A Lee", account_number="12345678", sort_code="12-34-56"),
        status=EmploymentStatus.CURRENT,
        start_date=date(2024, 1, 8),
    )


def test_staffology_former_and_upcoming_statuses():
    former = employee_from_staffology(
        staffology_employee("E2", "A", "B", "c@d.ef", status="Former", leave_date="2026-10-31")
    )
    assert isinstance(former, Employee) and former.status is EmploymentStatus.FORMER
    assert former.leave_date == date(2026, 10, 31)
    upcoming = employee_from_staffology(staffology_employee("E3", "A", "B", "c@d.ef", status="Upcoming"))
    assert isinstance(upcoming, Employee) and upcoming.status is EmploymentStatus.UPCOMING


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r["personalDetails"].update(firstName=123), "personalDetails.firstName"),
        (lambda r: r["employmentDetails"].update(payrollCode=["E1"]), "employmentDetails.payrollCode"),
        (lambda r: r["employmentDetails"].update(payrollCode="X" * 10_000), "employmentDetails.payrollCode"),
        (lambda r: r.update(personalDetails="not an object"), "personalDetails"),
        (lambda r: r["employmentDetails"]["leaverDetails"].update(leaveDate="31/10/2026"), "leaveDate"),
        (lambda r: r.update(status="Retired"), "status"),
        (lambda r: r.pop("id"), "id"),
    ],
)
def test_staffology_bad_payload_rejected_naming_field_without_value(mutate, field):
    raw = staffology_employee("E001", "Ann", "Lee", "ann@example.com")
    mutate(raw)
    result = employee_from_staffology(raw, position="employee x")
    assert isinstance(result, RecordRejection)
    assert field in result.field
    assert "123" not in result.reason and "XXXX" not in result.reason and "31/10" not in result.reason


def test_staffology_non_object_and_nulls():
    assert isinstance(employee_from_staffology("<html>oops</html>"), RecordRejection)
    raw = staffology_employee("E001", None, None, None)
    raw["employmentDetails"] = None
    employee = employee_from_staffology(raw)
    assert isinstance(employee, Employee) and employee.code is None and employee.first_name is None


def test_staffology_control_characters_stripped_from_names():
    employee = employee_from_staffology(staffology_employee("E001", "An\x00n\u200b", "Lee\n", "a@b.co"))
    assert isinstance(employee, Employee)
    assert employee.first_name == "Ann" and employee.last_name == "Lee"


def test_expensein_user_maps_and_bank_read_only_when_included():
    raw = expensein_user("u-1", "E001", "Ann", "Lee", "ann@example.com", department="ENG") | {"bankDetails": BANK}
    without = employee_from_user(raw, include_bank=False)
    with_bank = employee_from_user(raw, include_bank=True)
    assert isinstance(without, Employee) and without.bank is None and without.code == "E001"
    assert isinstance(with_bank, Employee) and with_bank.bank and with_bank.bank.sort_code == "12-34-56"


def test_expensein_leaver_is_former():
    raw = expensein_user("u-1", "E001", "Ann", "Lee", "a@b.co", leave_date="2020-01-31")
    employee = employee_from_user(raw, include_bank=False)
    assert isinstance(employee, Employee) and employee.status is EmploymentStatus.FORMER


def test_expensein_bad_user_rejected_but_keys_kept_for_matching():
    raw = expensein_user("u-1", "E001", "Ann", "Lee", "a@b.co") | {"leaveDate": "soon"}
    result = employee_from_user(raw, include_bank=False)
    assert isinstance(result, RecordRejection)
    assert result.field == "leaveDate" and result.keys == {"code": "E001", "email": "a@b.co"}


def test_expensein_user_fields_round_trip():
    employee = Employee(
        id="x",
        code="E1",
        first_name="Ann",
        last_name="Lee",
        email="a@b.co",
        department_code="ENG",
        bank=BankDetails(account_name="A", account_number="1", sort_code="2"),
        leave_date=date(2026, 1, 2),
    )
    body = user_fields(employee, ("first_name", "last_name", "email", "code", "department_code", "bank", "leave_date"))
    assert body == {
        "firstName": "Ann",
        "lastName": "Lee",
        "email": "a@b.co",
        "reference": "E1",
        "department": "ENG",
        "bankDetails": {"accountName": "A", "accountNumber": "1", "sortCode": "2"},
        "leaveDate": "2026-01-02",
    }
    back = employee_from_user({"id": "u", **body}, include_bank=True)
    assert isinstance(back, Employee)
    assert back.model_dump(exclude={"id", "status"}) == employee.model_dump(exclude={"id", "status", "start_date"}) | {
        "start_date": None
    }
