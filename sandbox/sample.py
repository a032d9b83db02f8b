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
