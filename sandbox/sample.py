"""Vendor-shaped sample records for the demo, the tests and the benchmark."""

from __future__ import annotations

import uuid
from typing import Any

NAMESPACE = uuid.UUID("6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b")


def employee_id(code: str) -> str:
    """A stable Staffology employee id for a payroll code."""
    return str(uuid.uuid5(NAMESPACE, code))


def staffology_employee(
    code: str,
    first_name: str | None,
    last_name: str | None,
    email: str | None,
    *,
    status: str = "Current",
    department: str | None = "SALES",
    start_date: str = "2024-01-08",
    leave_date: str | None = None,
    bank: dict[str, str] | None = None,
    tags: list[str] | None = None,
) -> dict[str, Any]:
    """A Staffology `Contract.EmployeeResponse` as the API returns it (absent objects are left out, not null).
    `tags` carry the benefits platform's flags (provisional: `create-benefits-record`, `benefits-level:<level>`)."""
    employment: dict[str, Any] = {
        "payrollCode": code,
        "starterDetails": {"startDate": start_date, "starterDeclaration": "A"},
        "leaverDetails": {"hasLeft": status == "Former", "leaveDate": leave_date},
    }
    if department:
        employment["department"] = {"code": department, "title": department.title()}
    record: dict[str, Any] = {
        "id": employee_id(code),
        "status": status,
        "personalDetails": {
            "firstName": first_name,
            "lastName": last_name,
            "email": email,
            "dateOfBirth": "1990-05-17",
            "gender": "Female",
            "maritalStatus": "Unknown",
        },
        "employmentDetails": employment,
    }
    if bank:
        record["bankDetails"] = bank
    if tags is not None:
        record["tags"] = tags
    return record


def expensein_user(
    user_id: str,
    reference: str | None,
    first_name: str,
    last_name: str,
    email: str,
    *,
    department: str | None = None,
    leave_date: str | None = None,
) -> dict[str, Any]:
    """An ExpenseIn user in the (provisional) shape the simulator and adapter share."""
    return {
        "id": user_id,
        "firstName": first_name,
        "lastName": last_name,
        "email": email,
        "reference": reference,
        "department": department,
        "bankDetails": None,
        "leaveDate": leave_date,
    }


def scim_account(
    account_id: str,
    email: str,
    first_name: str,
    last_name: str,
    *,
    user_name: str | None = None,
    active: bool = True,
    employee_number: str | None = None,
) -> dict[str, Any]:
    """A benefits platform account: a SCIM 2.0 User (RFC 7643) as the sandbox's scim2-server stores it."""
    account: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": account_id,
        "userName": user_name or email,
        "name": {"givenName": first_name, "familyName": last_name},
        "emails": [{"value": email, "type": "work", "primary": True}],
        "active": active,
    }
    if employee_number:
        account["schemas"].append("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        account["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = {"employeeNumber": employee_number}
    return account


# --- MicrOpay and Access ESS (camelCase JSON; names partly provisional, see the simulators) ---------------------
MICROPAY_LOOKUPS: dict[str, list[tuple[str, str]]] = {
    "Country": [("AU", "Australia"), ("NZ", "New Zealand")],
    "State": [("NSW", "New South Wales"), ("VIC", "Victoria"), ("QLD", "Queensland")],
    "Gender": [("F", "Female"), ("M", "Male"), ("X", "Non-binary")],
    "SuperFund": [("AUS01", "AustralianSuper"), ("HOST1", "Hostplus")],
    "CostAccount": [("100-200", "Operations"), ("100-300", "Sales")],
    "JobClassification": [("CLK", "Clerk"), ("MGR", "Manager")],
    "Location": [("SYD", "Sydney"), ("MEL", "Melbourne")],
    "PayPoint": [("PP1", "Head office"), ("PP2", "Stores")],
    "PayFrequency": [("W", "Weekly"), ("F", "Fortnightly"), ("M", "Monthly")],
}


def micropay_lookups() -> list[dict[str, str]]:
    """Every lookup entry as the MicrOpay simulator loads them (`PUT /_sandbox/departments`)."""
    return [
        {"type": kind, "code": code, "description": description}
        for kind, entries in MICROPAY_LOOKUPS.items()
        for code, description in entries
    ]


def micropay_employee(
    code: str,
    first_name: str,
    surname: str,
    email: str | None = None,
    *,
    location: str = "SYD",
    pay_point: str = "PP1",
    hired: str = "2023-02-06",
    terminated: str | None = None,
    street: str = "1 George St",
    bank: list[dict[str, Any]] | None = None,
    changed_at: str | None = None,
) -> dict[str, Any]:
    """A MicrOpay EmployeeDetails record as the simulator serves it."""
    record: dict[str, Any] = {
        "empId": sum(ord(ch) for ch in code) * 7,
        "empCode": code,
        "firstName": first_name,
        "surname": surname,
        "gender": "F",
        "dateOfBirth": "1991-03-04",
        "hiredDate": hired,
        "terminationDate": terminated,
        "defaultEmail": email,
        "location": location,
        "payPoint": pay_point,
        "payFrequency": "F",
        "payrollCompany": "01",
        "jobClassification": "CLK",
        "costAccount": "100-200",
        "superFund": "AUS01",
        "street": street,
        "suburbCity": "Sydney",
        "state": "NSW",
        "postcode": "2000",
        "country": "AU",
        "telephone1": "02 9000 0000",
        "emergencyContactName": "Sam Contact",
        "emergencyContactPhone": "0400 000 000",
        "bankAccounts": bank
        if bank is not None
        else [{"bsbCode": "062-000", "accountNumber": "12345678", "accountName": "Pay", "balanceOfPay": True}],
    }
    if changed_at:
        record["changedAt"] = changed_at
    return record


def ess_member(member_id: str, code: str | None, first_name: str, surname: str, email: str | None) -> dict[str, Any]:
    """An Access ESS member in the (provisional) shape the simulator and adapter share."""
    return {
        "memberId": member_id,
        "employeeCode": code,
        "firstName": first_name,
        "surname": surname,
        "email": email,
        "active": True,
    }


def worknice_person(
    person_id: str,
    code: str | None,
    first_name: str,
    last_name: str,
    email: str | None = None,
    *,
    street: str = "1 George St",
    status: str = "ACTIVE",
    tax_free_threshold: bool = True,
) -> dict[str, Any]:
    """A Worknice person as the simulator serves it (field names beyond the vendor notes provisional)."""
    return {
        "id": person_id,
        "displayName": f"{first_name} {last_name}",
        "status": status,
        "employeeCode": code,
        "firstName": first_name,
        "lastName": last_name,
        "profileEmail": email,
        "profilePhone": "0400 000 000",
        "startDate": "2023-02-06",
        "profileAddress": {"street": street, "suburb": "Sydney", "state": "NSW", "postcode": "2000", "country": "AU"},
        "taxDetails": {"taxFreeThreshold": tax_free_threshold, "residencyStatus": "RESIDENT", "helpDebt": False},
    }
