"""MicrOpay Web API (Access Group): payroll as a source of employees, and the target of self-service edits.

Documented (../shared/specs/vendor-notes.md): `GET api/EmployeeDetails?includeTerminated=&terminatedSince=&page=
&pageSize=`, one employee `GET api/EmployeeDetails/{EmpCode}`, the change feed `GET api/EmployeeDetails?
changedSince=` (fed by the payroll's changed-employees table), `GET api/DeletedEmployees?deletedSince=yyyy-mm-dd`
-> `{empId, empCode, deletedDate}`, lookups `api/LookupTypes` and `api/LookupType?type=`, writes through
`ChangeEmployee` (queued for a payroll user to approve; returns a status id to poll) and `ChangeEmployeeImmediate`
(applied at once; only fields that do not affect pay). Field names are PascalCase in the docs' tables and camelCase
in JSON samples; auth is an API key plus a username and password issued by MicrOpay.

PROVISIONAL (our model, not MicrOpay's published names): the `X-Api-Key` header with HTTP Basic for the user;
`page` 1-based and a bare JSON array per page (read until a short page); `changedSince` as an ISO date-time; the
fields `terminationDate`, `superFund`, `emergencyContactName`, `emergencyContactPhone`, `bankAccounts[]` with
`{bsbCode, accountNumber, accountName, payAmount, balanceOfPay, order}`, `taxDetails {taxFileNumber,
taxFreeThreshold, residencyStatus, helpDebt}` (a pay field: ChangeEmployee only), `standardNetPay` (the net pay of the
employee's standard pay period, read only: what a bank split in percentages is converted against); lookup entries
`{code, description}`;
`POST api/ChangeEmployee` and `POST api/ChangeEmployeeImmediate` taking `{empCode, changes: {...}}`, the first
answering `{statusId, status}`; `GET api/ChangeEmployee/{statusId}` -> `{statusId, status: Pending|Approved|
Rejected, reason}`; the New Employee wizard as `POST api/NewEmployee {empCode, firstName, surname, defaultEmail,
telephone1, hiredDate, street, suburbCity, state, postcode, country}` -> `{pendingId, status: Pending}` and
`GET api/NewEmployee/{pendingId}` -> `{pendingId, status: Pending|Accepted|Rejected, empCode, reason}`.
Leave: `POST api/LeaveRequest {empCode, externalId, leaveCategory, startDate, endDate, hours}` -> `{leaveId}`
(the same externalId answers the leave already recorded), `DELETE api/LeaveRequest/{leaveId}`, and
`GET api/LeaveBalances?empCode=` -> `[{leaveCategory, hours}]`.
The sandbox simulator (sandbox/simulators/micropay.py) speaks the same names.

An employee's id in hrsync is its EmpCode: MicrOpay reads one employee by it and reports deletions by it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hrsync.errors import ExternalSystemError, RecordNotFoundError
from hrsync.models.employee import (
    Address,
    BankAccount,
    EmergencyContact,
    Employee,
    EmploymentStatus,
    Listing,
    RecordRejection,
    TaxDetails,
)
from hrsync.systems.http import RateBudget, RetryPolicy, build_client, json_body, send
from hrsync.systems.mapping import VendorModel, clean_text, id_of, rejection_from

NAME = "MicrOpay"
PAGE_SIZE = 200
MAX_PAGES = 10_000
EMP_CODE_MAX = 20  # 8 or 20 depending on the payroll product: the longer one is accepted here
BSB = r"^\d{3}-\d{3}$"
# The lookups a run refreshes first, in the order the product's log names them (type names provisional).
LOOKUP_TYPES = ("Country", "State", "Gender", "SuperFund", "CostAccount", "JobClassification", "Location", "PayPoint")
PAY_FREQUENCY = "PayFrequency"
# Employee fields checked against a lookup: canonical field -> lookup type.
LOOKUP_FIELDS = {
    "gender": "Gender",
    "super_fund": "SuperFund",
    "cost_account": "CostAccount",
    "job_classification": "JobClassification",
    "location": "Location",
    "pay_point": "PayPoint",
    "pay_frequency": PAY_FREQUENCY,
    "address.state": "State",
    "address.country": "Country",
}
# Canonical profile fields -> MicrOpay JSON. Bank accounts affect pay: ChangeEmployee only.
PROFILE_JSON = {
    "email": ("defaultEmail",),
    "phone": ("telephone1",),
    "address": ("street", "suburbCity", "state", "postcode", "country"),
    "emergency_contact": ("emergencyContactName", "emergencyContactPhone"),
}
PAY_FIELDS = ("bank_accounts", "tax")
STANDARD_NET_PAY = "standardNetPay"  # provisional name: the pay a bank split in percentages is converted against


def money(value: object) -> str | None:
    """A fixed amount as text with two decimals, or None; compared exactly downstream."""
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("must be a non-negative number")
    return format(amount.quantize(Decimal("0.01")), "f")


class _BankAccount(VendorModel):
    bsbCode: str | None = Field(default=None, pattern=BSB)
    accountNumber: str | None = Field(default=None, min_length=1, max_length=20)
    accountName: str | None = Field(default=None, max_length=100)
    payAmount: str | None = None
    balanceOfPay: bool = False
    order: int = Field(default=1, ge=1, le=99)

    @field_validator("payAmount", mode="before")
    @classmethod
    def _amount(cls, value: object) -> str | None:
        return money(value)


class _TaxDetails(VendorModel):
    taxFileNumber: str | None = Field(default=None, pattern=r"^\d{8,9}$")
    taxFreeThreshold: bool | None = None
    residencyStatus: str | None = Field(default=None, max_length=30)
    helpDebt: bool | None = None


class _EmployeeDetails(VendorModel):
    empCode: str = Field(min_length=1, max_length=EMP_CODE_MAX)
    firstName: str = Field(min_length=1, max_length=50)
    surname: str = Field(min_length=1, max_length=50)
    preferredName: str | None = Field(default=None, max_length=50)
    gender: str | None = Field(default=None, max_length=10)
    hiredDate: date | None = None
    terminationDate: date | None = None
    defaultEmail: str | None = Field(default=None, max_length=100)
    location: str | None = Field(default=None, max_length=20)
    payPoint: str | None = Field(default=None, max_length=20)
    payFrequency: str | None = Field(default=None, max_length=20)
    jobClassification: str | None = Field(default=None, max_length=20)
    costAccount: str | None = Field(default=None, max_length=30)
    superFund: str | None = Field(default=None, max_length=20)
    street: str | None = Field(default=None, max_length=120)
    suburbCity: str | None = Field(default=None, max_length=60)
    state: str | None = Field(default=None, max_length=10)
    postcode: str | None = Field(default=None, max_length=10)
    country: str | None = Field(default=None, max_length=10)
    telephone1: str | None = Field(default=None, max_length=30)
    emergencyContactName: str | None = Field(default=None, max_length=100)
    emergencyContactPhone: str | None = Field(default=None, max_length=30)
    bankAccounts: list[_BankAccount] | None = Field(default=None, max_length=10)
    taxDetails: _TaxDetails | None = None
    standardNetPay: str | None = None

    @field_validator("standardNetPay", mode="before")
    @classmethod
    def _pay(cls, value: object) -> str | None:
        return money(value)


class DeletedEmployee(BaseModel):
    model_config = ConfigDict(frozen=True)

    emp_code: str
    deleted_date: date


class _Deleted(VendorModel):
    empCode: str = Field(min_length=1, max_length=EMP_CODE_MAX)
    deletedDate: date


class LookupEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    description: str | None = None


class _LookupEntry(VendorModel):
    code: str = Field(min_length=1, max_length=30)
    description: str | None = None


ChangeState = Literal["Pending", "Approved", "Rejected"]


class ChangeStatus(BaseModel):
    """Where a ChangeEmployee request stands in payroll's approval queue."""

    model_config = ConfigDict(frozen=True)

    status_id: str
    status: ChangeState
    reason: str | None = None


class _ChangeStatus(VendorModel):
    statusId: str | int
    status: ChangeState
    reason: str | None = Field(default=None, max_length=500)


def _address(vendor: _EmployeeDetails) -> Address | None:
    address = Address(
        street=clean_text(vendor.street),
        suburb=clean_text(vendor.suburbCity),
        state=clean_text(vendor.state),
        postcode=clean_text(vendor.postcode),
        country=clean_text(vendor.country),
    )
    return address if address != Address() else None


def _bank_accounts(accounts: list[_BankAccount] | None) -> tuple[BankAccount, ...] | None:
    if not accounts:
        return None
    mapped = (
        BankAccount(
            bsb=a.bsbCode,
            account_number=clean_text(a.accountNumber),
            account_name=clean_text(a.accountName),
            amount=None if a.balanceOfPay else a.payAmount,
            balance_of_pay=a.balanceOfPay,
            order=a.order,
        )
        for a in accounts
    )
    return tuple(sorted(mapped, key=lambda a: a.order))


def employee_from_micropay(
    raw: object, *, position: str = "employee", today: date | None = None
) -> Employee | RecordRejection:
    """Map one EmployeeDetails record to the canonical Employee; a bad payload names its field, never its value."""
    record_id = id_of(raw, "empCode")
    if not isinstance(raw, dict):
        return RecordRejection(record_id=None, position=position, field="(record)", reason="not a JSON object")
    try:
        vendor = _EmployeeDetails.model_validate(raw)
    except ValidationError as exc:
        return rejection_from(exc, record_id=record_id, position=position)
    today = today or datetime.now(UTC).date()
    if vendor.terminationDate is not None and vendor.terminationDate <= today:
        status = EmploymentStatus.FORMER
    elif vendor.hiredDate is not None and vendor.hiredDate > today:
        status = EmploymentStatus.UPCOMING
    else:
        status = EmploymentStatus.CURRENT
    contact = EmergencyContact(
        name=clean_text(vendor.emergencyContactName), phone=clean_text(vendor.emergencyContactPhone)
    )
    return Employee(
        id=vendor.empCode.strip(),
        code=vendor.empCode.strip(),
        first_name=clean_text(vendor.preferredName) or clean_text(vendor.firstName),
        last_name=clean_text(vendor.surname),
        email=clean_text(vendor.defaultEmail),
        status=status,
        start_date=vendor.hiredDate,
        leave_date=vendor.terminationDate if status is EmploymentStatus.FORMER else None,
        gender=clean_text(vendor.gender),
        location=clean_text(vendor.location),
        pay_point=clean_text(vendor.payPoint),
        pay_frequency=clean_text(vendor.payFrequency),
        job_classification=clean_text(vendor.jobClassification),
        cost_account=clean_text(vendor.costAccount),
        super_fund=clean_text(vendor.superFund),
        phone=clean_text(vendor.telephone1),
        address=_address(vendor),
        emergency_contact=contact if contact != EmergencyContact() else None,
        bank_accounts=_bank_accounts(vendor.bankAccounts),
        standard_net_pay=vendor.standardNetPay,
        tax=_tax(vendor.taxDetails),
    )


def _tax(vendor: _TaxDetails | None) -> TaxDetails | None:
    if vendor is None:
        return None
    tax = TaxDetails(
        tax_file_number=vendor.taxFileNumber,
        tax_free_threshold=vendor.taxFreeThreshold,
        residency_status=clean_text(vendor.residencyStatus),
        help_debt=vendor.helpDebt,
    )
    return tax if tax != TaxDetails() else None


def deleted_employee(code: str, deleted: date) -> Employee:
    """A deleted payroll employee as a leaver: its member is deactivated, never deleted."""
    return Employee(id=code, code=code, status=EmploymentStatus.FORMER, leave_date=deleted)


def profile_changes(employee: Employee, fields: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """MicrOpay JSON for the named canonical profile fields (the body's `changes`)."""
    changes: dict[str, Any] = {}
    for name in fields:
        if name == "email":
            changes["defaultEmail"] = employee.email
        elif name == "phone":
            changes["telephone1"] = employee.phone
        elif name == "address":
            a = employee.address or Address()
            changes.update(street=a.street, suburbCity=a.suburb, state=a.state, postcode=a.postcode, country=a.country)
        elif name == "emergency_contact":
            c = employee.emergency_contact or EmergencyContact()
            changes.update(emergencyContactName=c.name, emergencyContactPhone=c.phone)
        elif name == "bank_accounts":
            changes["bankAccounts"] = [
                {
                    "bsbCode": a.bsb,
                    "accountNumber": a.account_number,
                    "accountName": a.account_name,
                    "payAmount": a.amount,
                    "balanceOfPay": a.balance_of_pay,
                    "order": a.order,
                }
                for a in employee.bank_accounts or ()
            ]
        elif name == "tax":
            t = employee.tax or TaxDetails()
            changes["taxDetails"] = {
                "taxFileNumber": t.tax_file_number,
                "taxFreeThreshold": t.tax_free_threshold,
                "residencyStatus": t.residency_status,
                "helpDebt": t.help_debt,
            }
        else:
            raise ValueError(f"{name} is not a profile field MicrOpay takes")
    return changes


class MicrOpay:
    """Employees, deletions, lookups and self-service writes of one MicrOpay payroll."""

    name = NAME

    def __init__(
        self, client: httpx.Client, policy: RetryPolicy, *, page_size: int = PAGE_SIZE, budget: RateBudget | None = None
    ) -> None:
        self._client = client
        self._policy = policy
        self._page_size = page_size
        self._budget = budget

    @classmethod
    def connect(cls, base_url: str, api_key: str, username: str, password: str, policy: RetryPolicy) -> MicrOpay:
        client = build_client(base_url, headers={"X-Api-Key": api_key}, auth=httpx.BasicAuth(username, password))
        return cls(client, policy)

    def close(self) -> None:
        self._client.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> object:
        response = send(self._client, method, path, system=NAME, policy=self._policy, budget=self._budget, **kwargs)
        return json_body(response, system=NAME)

    def _pages(self, params: dict[str, str | int], listing: Listing, what: str) -> Iterator[object]:
        """Raw records page by page until a short page; marks the listing incomplete on trouble."""
        for page in range(1, MAX_PAGES + 1):
            try:
                items = self._send(
                    "GET", "api/EmployeeDetails", params={**params, "page": page, "pageSize": self._page_size}
                )
            except ExternalSystemError as exc:
                listing.mark_incomplete(f"{what}, page {page}: {exc}")
                return
            if not isinstance(items, list):
                listing.mark_incomplete(f"{what}, page {page}: not a JSON array")
                return
            yield from items
            if len(items) < self._page_size:
                return
        listing.mark_incomplete(f"{what}: more than {MAX_PAGES} pages")

    def _listing(self, params: dict[str, str | int], what: str) -> Listing:
        listing = Listing()
        seen: set[str] = set()
        for index, raw in enumerate(self._pages(params, listing, what)):
            listing.add(employee_from_micropay(raw, position=f"{what}, record {index}"), seen)
        return listing

    def list_employees(self) -> Listing:
        """Every employee, terminated ones included (the full reconciliation)."""
        return self._listing({"includeTerminated": "true"}, "employees")

    def search(self, text: str) -> list[str]:
        """EmpCodes of employees whose name or code contains `text` (3+ characters). MicrOpay's Web API
        documents no search, so this reads the employee list and matches here; the names are not kept."""
        needle = text.strip().lower()
        if len(needle) < 3:
            return []
        return [
            employee.id
            for employee in self.list_employees().records
            if any(
                needle in (value or "").lower() for value in (employee.first_name, employee.last_name, employee.code)
            )
        ]

    def list_changed(self, since: datetime) -> Listing:
        """Employees in the payroll's change table since `since` (the change feed)."""
        stamp = since.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return self._listing({"changedSince": stamp, "includeTerminated": "true"}, "changed employees")

    def deleted_since(self, since: date) -> tuple[list[DeletedEmployee], list[RecordRejection]]:
        """Employees deleted from payroll on or after `since`, and the entries that could not be read."""
        body = self._send("GET", "api/DeletedEmployees", params={"deletedSince": since.isoformat()})
        if not isinstance(body, list):
            raise ExternalSystemError(f"{NAME} deleted employees: not a JSON array")
        found: list[DeletedEmployee] = []
        rejected: list[RecordRejection] = []
        for index, raw in enumerate(body):
            try:
                entry = _Deleted.model_validate(raw)
            except ValidationError as exc:
                rejected.append(rejection_from(exc, record_id=id_of(raw, "empCode"), position=f"deleted {index}"))
                continue
            found.append(DeletedEmployee(emp_code=entry.empCode.strip(), deleted_date=entry.deletedDate))
        return found, rejected

    def get_employee(self, employee_id: str) -> Employee | RecordRejection:
        """One employee by EmpCode; a deleted one comes back as a leaver; RecordNotFoundError when neither."""
        try:
            raw = self._send("GET", f"api/EmployeeDetails/{employee_id}")
        except RecordNotFoundError:
            deleted, _ = self.deleted_since(date(2000, 1, 1))
            for entry in deleted:
                if entry.emp_code == employee_id:
                    return deleted_employee(entry.emp_code, entry.deleted_date)
            raise
        result = employee_from_micropay(raw, position=f"employee {employee_id}")
        if isinstance(result, Employee) and result.id != employee_id:
            return RecordRejection(
                record_id=employee_id, position=f"employee {employee_id}", field="empCode", reason="does not match"
            )
        return result

    def lookup_types(self) -> list[str]:
        body = self._send("GET", "api/LookupTypes")
        if not isinstance(body, list):
            raise ExternalSystemError(f"{NAME} lookup types: not a JSON array")
        return [str(t) for t in body if isinstance(t, str)]

    def lookup(self, lookup_type: str) -> list[LookupEntry]:
        """One lookup's entries; entries that cannot be read are left out (a code they held is then unknown)."""
        body = self._send("GET", "api/LookupType", params={"type": lookup_type})
        if not isinstance(body, list):
            raise ExternalSystemError(f"{NAME} lookup {lookup_type}: not a JSON array")
        entries = []
        for raw in body:
            try:
                entry = _LookupEntry.model_validate(raw)
            except ValidationError:
                continue
            entries.append(LookupEntry(code=entry.code.strip(), description=clean_text(entry.description)))
        return entries

    def change_employee_immediate(self, employee: Employee, fields: tuple[str, ...]) -> None:
        """Apply non-pay fields at once; pay-affecting fields are refused here before MicrOpay refuses them."""
        if any(f in PAY_FIELDS for f in fields):
            raise ValueError("pay-affecting fields go through ChangeEmployee, not ChangeEmployeeImmediate")
        body = {"empCode": employee.code, "changes": profile_changes(employee, fields)}
        self._send("POST", "api/ChangeEmployeeImmediate", json=body)

    def change_employee(self, employee: Employee, fields: tuple[str, ...]) -> str:
        """Queue a change for a payroll user to approve; returns the status id to poll."""
        body = {"empCode": employee.code, "changes": profile_changes(employee, fields)}
        answer = self._send("POST", "api/ChangeEmployee", json=body)
        status_id = id_of(answer, "statusId")
        if status_id is None:
            raise ExternalSystemError(f"{NAME} queued a change but its answer has no statusId")
        return status_id

    def change_status(self, status_id: str) -> ChangeStatus:
        raw = self._send("GET", f"api/ChangeEmployee/{status_id}")
        try:
            vendor = _ChangeStatus.model_validate(raw)
        except ValidationError as exc:
            field = ".".join(str(p) for p in exc.errors(include_input=False)[0]["loc"])
            raise ExternalSystemError(f"{NAME} change status {status_id}: field {field} is invalid") from None
        return ChangeStatus(status_id=str(vendor.statusId), status=vendor.status, reason=clean_text(vendor.reason))

    def new_employee(self, employee: Employee) -> str:
        """Put a new starter in the New Employee wizard, pending payroll's validation; returns the pending id."""
        a = employee.address or Address()
        body = {
            "empCode": employee.code,
            "firstName": employee.first_name,
            "surname": employee.last_name,
            "defaultEmail": employee.email,
            "telephone1": employee.phone,
            "hiredDate": employee.start_date.isoformat() if employee.start_date else None,
            "street": a.street,
            "suburbCity": a.suburb,
            "state": a.state,
            "postcode": a.postcode,
            "country": a.country,
        }
        answer = self._send("POST", "api/NewEmployee", json=body)
        pending_id = id_of(answer, "pendingId")
        if pending_id is None:
            raise ExternalSystemError(f"{NAME} took a new employee but its answer has no pendingId")
        return pending_id

    def new_employee_status(self, pending_id: str) -> ChangeStatus:
        """Where a new starter stands in the wizard: Pending, Approved (accepted by payroll) or Rejected."""
        raw = self._send("GET", f"api/NewEmployee/{pending_id}")
        status = raw.get("status") if isinstance(raw, dict) else None
        mapped = {"Pending": "Pending", "Accepted": "Approved", "Rejected": "Rejected"}.get(str(status))
        if mapped is None:
            raise ExternalSystemError(f"{NAME} new employee {pending_id}: field status is invalid")
        reason = raw.get("reason") if isinstance(raw, dict) and isinstance(raw.get("reason"), str) else None
        return ChangeStatus(status_id=pending_id, status=mapped, reason=clean_text(reason))  # type: ignore[arg-type]

    def record_leave(
        self, emp_code: str, request_id: str, category: str, start: date, end: date, hours: Decimal
    ) -> str:
        """Record an approved leave request (its id as externalId, so sending it again finds the same leave)."""
        body = {
            "empCode": emp_code,
            "externalId": request_id,
            "leaveCategory": category,
            "startDate": start.isoformat(),
            "endDate": end.isoformat(),
            "hours": str(hours),
        }
        leave_id = id_of(self._send("POST", "api/LeaveRequest", json=body), "leaveId")
        if leave_id is None:
            raise ExternalSystemError(f"{NAME} recorded leave but its answer has no leaveId")
        return leave_id

    def cancel_leave(self, leave_id: str) -> None:
        try:
            self._send("DELETE", f"api/LeaveRequest/{leave_id}")
        except RecordNotFoundError:
            return  # already gone: cancelled is what we wanted

    def leave_balances(self, emp_code: str) -> dict[str, Decimal]:
        """Hours of each leave category an employee has accrued; entries that cannot be read are left out."""
        body = self._send("GET", "api/LeaveBalances", params={"empCode": emp_code})
        if not isinstance(body, list):
            raise ExternalSystemError(f"{NAME} leave balances of {emp_code}: not a JSON array")
        balances: dict[str, Decimal] = {}
        for entry in body:
            if not isinstance(entry, dict) or not isinstance(entry.get("leaveCategory"), str):
                continue
            try:
                balances[entry["leaveCategory"]] = Decimal(str(entry.get("hours")))
            except InvalidOperation:
                continue
        return balances
