"""ExpenseIn: a target of users and departments.

ExpenseIn publishes no machine-readable API description. What is documented: base
`https://api.expensein.com/1.0/`, header `Authorization: ApiKey <key>`, `GET /users`; a user has first name,
last name, email, an optional Reference (forced unique when the API synchronises users), a department
matched by Department Reference, bank details, a leave date, an approval flow and expense policy (assigned by
an admin), and an invited state.

PROVISIONAL (our model, not ExpenseIn's published names): the JSON field names
`{id, firstName, lastName, email, reference, department, bankDetails {accountName, accountNumber, sortCode},
leaveDate, isActive}`, department `{reference, name}`; paging `GET /users?page=&pageSize=&includeLeavers=true`
answering `{items, page, pageSize, totalItems}` (page 1-based); filters `reference=` and `email=`;
`GET /users/{id}`; `POST /users` with `sendInvitation`; `PATCH /users/{id}`; `GET /departments`
answering `{items}`. The sandbox simulator (sandbox/simulators/expensein.py) speaks the same names.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from pydantic import Field, ValidationError

from hrsync.errors import ExternalSystemError
from hrsync.models.employee import (
    BankDetails,
    Department,
    Employee,
    EmploymentStatus,
    Listing,
    RecordRejection,
)
from hrsync.systems.http import RateBudget, RetryPolicy, build_client, json_body, send
from hrsync.systems.mapping import VendorModel, clean_text, id_of, rejection_from

NAME = "ExpenseIn"
PAGE_SIZE = 500
MAX_PAGES = 10_000


class _BankDetails(VendorModel):
    accountName: str | None = None
    accountNumber: str | None = None
    sortCode: str | None = None


class _User(VendorModel):
    id: str = Field(min_length=1)
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None
    reference: str | None = None
    department: str | None = None
    bankDetails: _BankDetails | None = None
    leaveDate: date | None = None
    isActive: bool | None = None


class _Department(VendorModel):
    reference: str = Field(min_length=1)
    name: str | None = None


def employee_from_user(raw: object, *, include_bank: bool, position: str = "user") -> Employee | RecordRejection:
    """Map one ExpenseIn user to the canonical Employee. Bank fields are read only when the connection syncs them."""
    record_id = id_of(raw)
    keys: dict[str, str] = {}
    if isinstance(raw, dict):
        for key, name in (("reference", "code"), ("email", "email")):
            if isinstance(raw.get(key), str) and raw[key].strip():
                keys[name] = raw[key].strip()
    else:
        return RecordRejection(record_id=None, position=position, field="(record)", reason="not a JSON object")
    try:
        user = _User.model_validate(raw)
    except ValidationError as exc:
        return rejection_from(exc, record_id=record_id, position=position, keys=keys)
    bank = user.bankDetails if include_bank else None
    former = user.isActive is False or (user.leaveDate is not None and user.leaveDate <= date.today())
    return Employee(
        id=user.id,
        code=clean_text(user.reference),
        first_name=clean_text(user.firstName),
        last_name=clean_text(user.lastName),
        email=clean_text(user.email),
        department_code=clean_text(user.department),
        bank=BankDetails(
            account_name=clean_text(bank.accountName),
            account_number=clean_text(bank.accountNumber),
            sort_code=clean_text(bank.sortCode),
        )
        if bank
        else None,
        status=EmploymentStatus.FORMER if former else EmploymentStatus.CURRENT,
        leave_date=user.leaveDate,
    )


_FIELD_NAMES = {
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "code": "reference",
    "department_code": "department",
    "leave_date": "leaveDate",
}


def user_fields(employee: Employee, fields: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """The ExpenseIn JSON for the named canonical fields of an employee."""
    body: dict[str, Any] = {}
    for field in fields:
        if field == "bank":
            bank = employee.bank
            body["bankDetails"] = (
                {
                    "accountName": bank.account_name,
                    "accountNumber": bank.account_number,
                    "sortCode": bank.sort_code,
                }
                if bank
                else None
            )
        elif field == "leave_date":
            body["leaveDate"] = employee.leave_date.isoformat() if employee.leave_date else None
        else:
            body[_FIELD_NAMES[field]] = getattr(employee, field)
    return body


class ExpenseIn:
    """Users and departments of one ExpenseIn account."""

    name = NAME

    def __init__(
        self,
        client: httpx.Client,
        policy: RetryPolicy,
        *,
        include_bank: bool = False,
        budget: RateBudget | None = None,
    ) -> None:
        self._client = client
        self._policy = policy
        self._include_bank = include_bank
        self._budget = budget

    @classmethod
    def connect(
        cls, base_url: str, api_key: str, policy: RetryPolicy, *, include_bank: bool, budget: RateBudget | None = None
    ) -> ExpenseIn:
        client = build_client(base_url, headers={"Authorization": f"ApiKey {api_key}"})
        return cls(client, policy, include_bank=include_bank, budget=budget)

    def close(self) -> None:
        self._client.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> object:
        response = send(self._client, method, path, system=NAME, policy=self._policy, budget=self._budget, **kwargs)
        return json_body(response, system=NAME)

    def _users(self, params: dict[str, str | int], listing: Listing) -> None:
        seen: set[str] = set()
        for page in range(1, MAX_PAGES + 1):
            try:
                body = self._send("GET", "users", params={**params, "page": page, "pageSize": PAGE_SIZE})
            except ExternalSystemError as exc:
                listing.mark_incomplete(f"users page {page}: {exc}")
                return
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list):
                listing.mark_incomplete(f"users page {page}: no items array")
                return
            new = 0
            for index, raw in enumerate(items):
                result = employee_from_user(
                    raw, include_bank=self._include_bank, position=f"users page {page}, item {index}"
                )
                new += listing.add(result, seen)
            if len(items) < PAGE_SIZE:
                return
            if new == 0:
                listing.mark_incomplete(f"users page {page} repeated earlier pages")
                return
        listing.mark_incomplete(f"users: more than {MAX_PAGES} pages")

    def list_records(self) -> Listing:
        """Every user, leavers included."""
        listing = Listing()
        self._users({"includeLeavers": "true"}, listing)
        return listing

    def find(self, *, code: str | None = None, email: str | None = None) -> list[Employee]:
        """Users holding a reference or an email: the re-check before a create."""
        listing = Listing()
        params: dict[str, str | int] = {"includeLeavers": "true"}
        if code:
            params["reference"] = code
        if email:
            params["email"] = email
        self._users(params, listing)
        if not listing.complete:
            raise ExternalSystemError(listing.incomplete_reason or "users could not be read")
        return listing.records

    def list_departments(self) -> list[Department]:
        body = self._send("GET", "departments")
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ExternalSystemError(f"{NAME} departments: no items array")
        departments = []
        for raw in items:
            try:
                vendor = _Department.model_validate(raw)
            except ValidationError:
                continue  # a department we cannot read cannot be matched; the employee gets a warning instead
            departments.append(Department(code=vendor.reference, name=vendor.name))
        return departments

    def create(self, employee: Employee, fields: tuple[str, ...]) -> str:
        """Create an uninvited user (no approval flow or policy: an admin assigns those); returns its id."""
        body = user_fields(employee, fields)
        body["sendInvitation"] = False
        created = self._send("POST", "users", json=body)
        user_id = id_of(created)
        if user_id is None:
            raise ExternalSystemError(f"{NAME} created a user but its answer has no id")
        return user_id

    def update(self, target_id: str, employee: Employee, fields: tuple[str, ...]) -> None:
        self._send("PATCH", f"users/{target_id}", json=user_fields(employee, fields))

    def mark_leaver(self, target_id: str, leave_date: date) -> None:
        self._send("PATCH", f"users/{target_id}", json={"leaveDate": leave_date.isoformat()})
