"""Access ESS (MicrOpay's employee self service): members as a target, and member edits as a source.

Documented (../shared/specs/vendor-notes.md): a Member per employee, keyed by employee code; an administrator's
Activation Report lists members with their employee codes (two members with one code block that employee's
sync); some fields flow from payroll only when the Member is created, after which the member edits them in
ESS and ESS uploads them to payroll.

PROVISIONAL (our model: Access ESS publishes no API): header `X-Api-Key`; `GET api/members?page=&pageSize=
&employeeCode=&email=` -> `{items, page, pageSize, total}` (page 1-based; inactive members included);
`GET api/members/{id}`; `POST api/members` (201); `PATCH api/members/{id}`; a leaver is `{terminationDate,
active: false}`; `GET api/members/changes?since=` -> `{items: [{changeId, memberId, employeeCode, fields,
changedAt}]}` listing the fields a member edited. Member JSON: `{memberId, employeeCode, firstName, surname,
email, phone, address {street, suburb, state, postcode, country}, emergencyContact {name, phone},
bankAccounts [{bsb, accountNumber, accountName, amount, balanceOfPay, order}], gender, location, payPoint,
payFrequency, jobClassification, costAccount, superFund, startDate, terminationDate, active}`. The sandbox
simulator (sandbox/simulators/access_ess.py) speaks the same names.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
from pydantic import Field, ValidationError, field_validator

from hrsync.errors import ExternalSystemError
from hrsync.models.employee import (
    Address,
    BankAccount,
    Department,
    EmergencyContact,
    Employee,
    EmploymentStatus,
    Listing,
    MemberChange,
    RecordRejection,
)
from hrsync.systems.http import RateBudget, RetryPolicy, build_client, json_body, send
from hrsync.systems.mapping import VendorModel, clean_text, id_of, rejection_from
from hrsync.systems.micropay import BSB, money

NAME = "Access ESS"
PAGE_SIZE = 500
MAX_PAGES = 10_000
# The profile fields a member edits in ESS, in hrsync's words.
PROFILE_FIELDS = ("email", "phone", "address", "emergency_contact", "bank_accounts")
_MEMBER_FIELD = {
    "email": "email",
    "phone": "phone",
    "address": "address",
    "emergencyContact": "emergency_contact",
    "bankAccounts": "bank_accounts",
}
_SIMPLE = {
    "code": "employeeCode",
    "first_name": "firstName",
    "last_name": "surname",
    "email": "email",
    "phone": "phone",
    "gender": "gender",
    "location": "location",
    "pay_point": "payPoint",
    "pay_frequency": "payFrequency",
    "job_classification": "jobClassification",
    "cost_account": "costAccount",
    "super_fund": "superFund",
}


class _Address(VendorModel):
    street: str | None = None
    suburb: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None


class _Contact(VendorModel):
    name: str | None = None
    phone: str | None = None


class _BankAccount(VendorModel):
    bsb: str | None = Field(default=None, pattern=BSB)
    accountNumber: str | None = None
    accountName: str | None = None
    amount: str | None = None
    balanceOfPay: bool = False
    order: int = Field(default=1, ge=1, le=99)

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: object) -> str | None:
        return money(value)


class _Member(VendorModel):
    memberId: str = Field(min_length=1)
    employeeCode: str | None = None
    firstName: str | None = None
    surname: str | None = None
    email: str | None = None
    phone: str | None = None
    address: _Address | None = None
    emergencyContact: _Contact | None = None
    bankAccounts: list[_BankAccount] | None = None
    gender: str | None = None
    location: str | None = None
    payPoint: str | None = None
    payFrequency: str | None = None
    jobClassification: str | None = None
    costAccount: str | None = None
    superFund: str | None = None
    startDate: date | None = None
    terminationDate: date | None = None
    active: bool | None = None


class _Change(VendorModel):
    changeId: str | int
    memberId: str = Field(min_length=1)
    employeeCode: str = Field(min_length=1)
    fields: list[str]
    changedAt: datetime


def employee_from_member(raw: object, *, position: str = "member") -> Employee | RecordRejection:
    """Map one ESS member to the canonical Employee; a bad one keeps its code so nothing is matched over it."""
    record_id = id_of(raw, "memberId")
    if not isinstance(raw, dict):
        return RecordRejection(record_id=None, position=position, field="(record)", reason="not a JSON object")
    keys: dict[str, str] = {}
    for key, name in (("employeeCode", "code"), ("email", "email")):
        if isinstance(raw.get(key), str) and raw[key].strip():
            keys[name] = raw[key].strip()
    try:
        m = _Member.model_validate(raw)
    except ValidationError as exc:
        return rejection_from(exc, record_id=record_id, position=position, keys=keys)
    address = Address(**{k: clean_text(v) for k, v in m.address.model_dump().items()}) if m.address else None
    given = m.emergencyContact or _Contact()
    contact = EmergencyContact(name=clean_text(given.name), phone=clean_text(given.phone))
    former = m.active is False or (m.terminationDate is not None and m.terminationDate <= datetime.now(UTC).date())
    accounts = (
        tuple(
            sorted(
                (
                    BankAccount(
                        bsb=a.bsb,
                        account_number=clean_text(a.accountNumber),
                        account_name=clean_text(a.accountName),
                        amount=None if a.balanceOfPay else a.amount,
                        balance_of_pay=a.balanceOfPay,
                        order=a.order,
                    )
                    for a in m.bankAccounts
                ),
                key=lambda a: a.order,
            )
        )
        if m.bankAccounts
        else None
    )
    return Employee(
        id=m.memberId,
        code=clean_text(m.employeeCode),
        first_name=clean_text(m.firstName),
        last_name=clean_text(m.surname),
        email=clean_text(m.email),
        phone=clean_text(m.phone),
        address=address if address != Address() else None,
        emergency_contact=contact if contact != EmergencyContact() else None,
        bank_accounts=accounts,
        gender=clean_text(m.gender),
        location=clean_text(m.location),
        pay_point=clean_text(m.payPoint),
        pay_frequency=clean_text(m.payFrequency),
        job_classification=clean_text(m.jobClassification),
        cost_account=clean_text(m.costAccount),
        super_fund=clean_text(m.superFund),
        start_date=m.startDate,
        leave_date=m.terminationDate,
        status=EmploymentStatus.FORMER if former else EmploymentStatus.CURRENT,
    )


def member_fields(employee: Employee, fields: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """The member JSON for the named canonical fields."""
    body: dict[str, Any] = {}
    for name in fields:
        if name in _SIMPLE:
            body[_SIMPLE[name]] = getattr(employee, name)
        elif name == "start_date":
            body["startDate"] = employee.start_date.isoformat() if employee.start_date else None
        elif name == "leave_date":
            body["terminationDate"] = employee.leave_date.isoformat() if employee.leave_date else None
        elif name == "address":
            body["address"] = employee.address.model_dump() if employee.address else None
        elif name == "emergency_contact":
            body["emergencyContact"] = employee.emergency_contact.model_dump() if employee.emergency_contact else None
        elif name == "bank_accounts":
            body["bankAccounts"] = [
                {
                    "bsb": a.bsb,
                    "accountNumber": a.account_number,
                    "accountName": a.account_name,
                    "amount": a.amount,
                    "balanceOfPay": a.balance_of_pay,
                    "order": a.order,
                }
                for a in employee.bank_accounts or ()
            ]
        else:
            raise ValueError(f"{name} is not a field an Access ESS member has")
    return body


class AccessEss:
    """Members of one Access ESS site."""

    name = NAME

    def __init__(self, client: httpx.Client, policy: RetryPolicy, *, budget: RateBudget | None = None) -> None:
        self._client = client
        self._policy = policy
        self._budget = budget

    @classmethod
    def connect(
        cls, base_url: str, api_key: str, policy: RetryPolicy, *, budget: RateBudget | None = None
    ) -> AccessEss:
        return cls(build_client(base_url, headers={"X-Api-Key": api_key}), policy, budget=budget)

    def close(self) -> None:
        self._client.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> object:
        response = send(self._client, method, path, system=NAME, policy=self._policy, budget=self._budget, **kwargs)
        return json_body(response, system=NAME)

    def _members(self, params: dict[str, str | int], listing: Listing) -> None:
        seen: set[str] = set()
        for page in range(1, MAX_PAGES + 1):
            try:
                body = self._send("GET", "api/members", params={**params, "page": page, "pageSize": PAGE_SIZE})
            except ExternalSystemError as exc:
                listing.mark_incomplete(f"members page {page}: {exc}")
                return
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list):
                listing.mark_incomplete(f"members page {page}: no items array")
                return
            for index, raw in enumerate(items):
                listing.add(employee_from_member(raw, position=f"members page {page}, item {index}"), seen)
            if len(items) < PAGE_SIZE:
                return
        listing.mark_incomplete(f"members: more than {MAX_PAGES} pages")

    def list_records(self) -> Listing:
        """Every member, inactive ones included."""
        listing = Listing()
        self._members({}, listing)
        return listing

    def list_departments(self) -> list[Department]:
        return []  # ESS takes payroll's codes as they are; the run checks them against payroll's lookups

    def find(self, *, code: str | None = None, email: str | None = None) -> list[Employee]:
        listing = Listing()
        params: dict[str, str | int] = {}
        if code:
            params["employeeCode"] = code
        if email:
            params["email"] = email
        self._members(params, listing)
        if not listing.complete:
            raise ExternalSystemError(listing.incomplete_reason or "members could not be read")
        return listing.records

    def get_member(self, member_id: str) -> Employee | RecordRejection:
        return employee_from_member(self._send("GET", f"api/members/{member_id}"), position=f"member {member_id}")

    def create(self, employee: Employee, fields: tuple[str, ...]) -> str:
        body = member_fields(employee, tuple(dict.fromkeys(("code", *fields))))
        created = self._send("POST", "api/members", json=body)
        member_id = id_of(created, "memberId")
        if member_id is None:
            raise ExternalSystemError(f"{NAME} created a member but its answer has no memberId")
        return member_id

    def update(self, target_id: str, employee: Employee, fields: tuple[str, ...]) -> None:
        self._send("PATCH", f"api/members/{target_id}", json=member_fields(employee, fields))

    def mark_leaver(self, target_id: str, leave_date: date) -> None:
        self._send(
            "PATCH", f"api/members/{target_id}", json={"terminationDate": leave_date.isoformat(), "active": False}
        )

    def member_changes(self, since: datetime) -> tuple[list[MemberChange], list[str]]:
        """Edits members made since `since`, oldest first, with the positions of entries that could not be read."""
        stamp = since.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        body = self._send("GET", "api/members/changes", params={"since": stamp})
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ExternalSystemError(f"{NAME} member changes: no items array")
        changes: list[MemberChange] = []
        bad: list[str] = []
        for index, raw in enumerate(items):
            try:
                c = _Change.model_validate(raw)
            except ValidationError as exc:
                field = ".".join(str(p) for p in exc.errors(include_input=False)[0]["loc"])
                bad.append(f"change {index} (field {field})")
                continue
            fields = tuple(dict.fromkeys(_MEMBER_FIELD[f] for f in c.fields if f in _MEMBER_FIELD))
            if fields:
                changes.append(
                    MemberChange(
                        change_id=str(c.changeId),
                        member_id=c.memberId,
                        employee_code=c.employeeCode.strip(),
                        fields=fields,
                        changed_at=c.changedAt,
                    )
                )
        return sorted(changes, key=lambda c: c.changed_at), bad
