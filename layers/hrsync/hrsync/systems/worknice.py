"""Worknice (HR) over its GraphQL API: people, person connections, profile writes, leave requests and balances.

Documented (../shared/specs/vendor-notes.md): `POST https://app.worknice.com/api/graphql` with the header
`worknice-api-token: <key>`; `session { org { people(includeArchived:, status:[ACTIVE]) { id displayName status
employeeCode profileEmail profilePhone startDate currentJob { position { title } } location { name } } } }`;
`integration(id) { connections { ... on PersonConnection { person { id } remote { id name } status } } }`;
mutations `createPersonConnection(integrationId, remote: {id, name}, personId, status: CONNECTED|LOCAL_ONLY|MERGED|
REMOTE_ONLY)`, `updatePersonConnection`, `completeIntegrationSync(integrationId)`. Employee ID is required to
link a person to MicrOpay.

PROVISIONAL (our model, not Worknice's published schema; the simulator sandbox/simulators/worknice.py speaks the
same): the person fields `firstName`, `lastName`, `profileAddress {street suburb state postcode country}`,
`taxDetails {taxFileNumber taxFreeThreshold residencyStatus helpDebt}`, `bankAccounts {bsb accountNumber
accountName percentage amount balanceOfPay order}` (a percentage of net pay; null where unset), `superFund`;
paging of people by `people(first:, after:)`: at most `first` people after the person id `after`, in ascending
id order (read until a short page); a person connection's `id`, and `updatePersonConnection(id, remote, status)`
taking it; `updatePerson(personId, input: PersonInput)`; `org { leaveRequests(statuses:) { id person { id }
category startDate endDate hours status } }` with status APPROVED|CANCELLED|PENDING|DECLINED;
`setLeaveBalances(personId, balances: [{category, hours}])`. GraphQL errors come back as HTTP 200 with
`errors[]`; their messages may quote input, so only their count and `path` reach a reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hrsync.errors import ExternalSystemError, RejectedBySystemError
from hrsync.models.employee import (
    Address,
    BankAccount,
    BankShare,
    Department,
    Employee,
    EmploymentStatus,
    Listing,
    RecordRejection,
    TaxDetails,
)
from hrsync.systems.http import RateBudget, RetryPolicy, build_client, json_body, send
from hrsync.systems.mapping import VendorModel, clean_text, id_of, rejection_from
from hrsync.systems.micropay import BSB, money

NAME = "Worknice"
TOKEN_HEADER = "worknice-api-token"  # noqa: S105 - the header's name, not a token
GRAPHQL_PATH = "api/graphql"
CONNECTION_STATUSES = ("CONNECTED", "LOCAL_ONLY", "MERGED", "REMOTE_ONLY")
ConnectionStatus = Literal["CONNECTED", "LOCAL_ONLY", "MERGED", "REMOTE_ONLY"]
LeaveStatus = Literal["APPROVED", "CANCELLED", "PENDING", "DECLINED"]
# Canonical fields Worknice's person takes through updatePerson, by data group.
PERSONAL_FIELDS = ("first_name", "last_name", "email", "phone", "address")
TAX_FIELDS = ("tax",)
BANK_FIELDS = ("bank_accounts",)
SUPER_FIELDS = ("super_fund",)

PAGE_SIZE = 100
MAX_PAGES = 10_000
# A page of people after a cursor (keyset on the person id, ascending): a person added or removed while the pages
# are read moves no other person from one page to another, as an offset would.
PEOPLE_QUERY = """
query People($first: Int!, $after: ID) {
  session { org { people(includeArchived: true, first: $first, after: $after) {
    id displayName status employeeCode firstName lastName profileEmail profilePhone startDate superFund
    profileAddress { street suburb state postcode country }
    taxDetails { taxFileNumber taxFreeThreshold residencyStatus helpDebt }
    bankAccounts { bsb accountNumber accountName percentage amount balanceOfPay order }
  } } }
}
"""
CONNECTIONS_QUERY = """
query Connections($integrationId: ID!) {
  integration(id: $integrationId) {
    connections { ... on PersonConnection { id person { id } remote { id name } status } }
  }
}
"""
CREATE_CONNECTION = """
mutation Create($integrationId: ID!, $remote: RemoteInput!, $personId: ID, $status: ConnectionStatus!) {
  createPersonConnection(integrationId: $integrationId, remote: $remote, personId: $personId, status: $status) {
    id
  }
}
"""
UPDATE_CONNECTION = """
mutation Update($id: ID!, $remote: RemoteInput, $status: ConnectionStatus) {
  updatePersonConnection(id: $id, remote: $remote, status: $status) { id }
}
"""
COMPLETE_SYNC = """
mutation Complete($integrationId: ID!) { completeIntegrationSync(integrationId: $integrationId) }
"""
UPDATE_PERSON = """
mutation UpdatePerson($personId: ID!, $input: PersonInput!) { updatePerson(personId: $personId, input: $input) { id } }
"""
LEAVE_REQUESTS_QUERY = """
query LeaveRequests($statuses: [LeaveRequestStatus!]) {
  session { org { leaveRequests(statuses: $statuses) {
    id person { id } category startDate endDate hours status
  } } }
}
"""
SET_BALANCES = """
mutation SetBalances($personId: ID!, $balances: [LeaveBalanceInput!]!) {
  setLeaveBalances(personId: $personId, balances: $balances)
}
"""


class _Address(VendorModel):
    street: str | None = Field(default=None, max_length=120)
    suburb: str | None = Field(default=None, max_length=60)
    state: str | None = Field(default=None, max_length=10)
    postcode: str | None = Field(default=None, max_length=10)
    country: str | None = Field(default=None, max_length=10)


class _Tax(VendorModel):
    taxFileNumber: str | None = Field(default=None, pattern=r"^\d{8,9}$")
    taxFreeThreshold: bool | None = None
    residencyStatus: str | None = Field(default=None, max_length=30)
    helpDebt: bool | None = None


class _Bank(VendorModel):
    bsb: str | None = Field(default=None, pattern=BSB)
    accountNumber: str | None = Field(default=None, min_length=1, max_length=20)
    accountName: str | None = Field(default=None, max_length=100)
    percentage: Decimal | None = Field(default=None, ge=0, le=100)
    amount: str | None = None
    balanceOfPay: bool = False
    order: int = Field(default=1, ge=1, le=99)

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: object) -> str | None:
        return money(value)

    # GraphQL answers null for a field a person's account does not set
    @field_validator("balanceOfPay", mode="before")
    @classmethod
    def _balance(cls, value: object) -> object:
        return False if value is None else value

    @field_validator("order", mode="before")
    @classmethod
    def _order(cls, value: object) -> object:
        return 1 if value is None else value


class _Person(VendorModel):
    id: str = Field(min_length=1, max_length=64)
    status: Literal["ACTIVE", "ARCHIVED", "PENDING"] = "ACTIVE"
    employeeCode: str | None = Field(default=None, max_length=20)
    firstName: str | None = Field(default=None, max_length=50)
    lastName: str | None = Field(default=None, max_length=50)
    profileEmail: str | None = Field(default=None, max_length=100)
    profilePhone: str | None = Field(default=None, max_length=30)
    startDate: date | None = None
    superFund: str | None = Field(default=None, max_length=20)
    profileAddress: _Address | None = None
    taxDetails: _Tax | None = None
    bankAccounts: list[_Bank] | None = Field(default=None, max_length=10)


class Person(BaseModel):
    """A Worknice person: the canonical Employee (id = Worknice's person id, code = the employee ID). Its bank
    split is `employee.bank_split` as Worknice holds it; `employee.bank_accounts` only when it has no
    percentages (sync/bank.py converts percentages against MicrOpay's pay)."""

    model_config = ConfigDict(frozen=True)

    employee: Employee


class PersonConnection(BaseModel):
    model_config = ConfigDict(frozen=True)

    connection_id: str
    person_id: str | None
    remote_id: str | None
    status: ConnectionStatus


class LeaveRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: str
    person_id: str
    category: str
    start_date: date
    end_date: date
    hours: Decimal
    status: LeaveStatus


class _LeaveRequest(VendorModel):
    id: str = Field(min_length=1, max_length=64)
    person: dict[str, Any]
    category: str = Field(min_length=1, max_length=40)
    startDate: date
    endDate: date
    hours: Decimal = Field(ge=0, le=10_000)
    status: LeaveStatus


def person_from_worknice(raw: object, *, position: str = "person") -> Person | RecordRejection:
    """Map one person to the canonical Employee; a bad payload names its field, never its value."""
    record_id = id_of(raw)
    if not isinstance(raw, dict):
        return RecordRejection(record_id=None, position=position, field="(record)", reason="not a JSON object")
    # What can still be read of its match keys: an unreadable person keeps its MicrOpay employee from being
    # reported as having no Worknice person (the plan says the person could not be read, naming the field).
    keys = {
        name: raw[key].strip()
        for key, name in (("employeeCode", "code"), ("profileEmail", "email"))
        if isinstance(raw.get(key), str) and raw[key].strip()
    }
    try:
        vendor = _Person.model_validate(raw)
    except ValidationError as exc:
        return rejection_from(exc, record_id=record_id, position=position, keys=keys)
    address = None
    if vendor.profileAddress is not None:
        a = vendor.profileAddress
        address = Address(
            street=clean_text(a.street),
            suburb=clean_text(a.suburb),
            state=clean_text(a.state),
            postcode=clean_text(a.postcode),
            country=clean_text(a.country),
        )
        address = address if address != Address() else None
    tax = None
    if vendor.taxDetails is not None:
        t = vendor.taxDetails
        tax = TaxDetails(
            tax_file_number=t.taxFileNumber,
            tax_free_threshold=t.taxFreeThreshold,
            residency_status=clean_text(t.residencyStatus),
            help_debt=t.helpDebt,
        )
        tax = tax if tax != TaxDetails() else None
    split = tuple(
        sorted(
            (
                BankShare(
                    bsb=b.bsb,
                    account_number=clean_text(b.accountNumber),
                    account_name=clean_text(b.accountName),
                    percentage=b.percentage,
                    amount=b.amount,
                    balance_of_pay=b.balanceOfPay,
                    order=b.order,
                )
                for b in vendor.bankAccounts or ()
            ),
            key=lambda b: b.order,
        )
    )
    employee = Employee(
        id=vendor.id.strip(),
        code=clean_text(vendor.employeeCode),
        first_name=clean_text(vendor.firstName),
        last_name=clean_text(vendor.lastName),
        email=clean_text(vendor.profileEmail),
        phone=clean_text(vendor.profilePhone),
        start_date=vendor.startDate,
        status=EmploymentStatus.FORMER if vendor.status == "ARCHIVED" else EmploymentStatus.CURRENT,
        super_fund=clean_text(vendor.superFund),
        address=address,
        tax=tax,
        bank_accounts=fixed_accounts(split),
        bank_split=split or None,
    )
    return Person(employee=employee)


def fixed_accounts(split: tuple[BankShare, ...]) -> tuple[BankAccount, ...] | None:
    """The split as fixed amounts when it has no percentages (else None: sync/bank.py converts those, given
    the pay)."""
    if not split or any(b.percentage is not None and not b.balance_of_pay for b in split):
        return None
    return tuple(
        BankAccount(
            bsb=b.bsb,
            account_number=b.account_number,
            account_name=b.account_name,
            amount=None if b.balance_of_pay else b.amount,
            balance_of_pay=b.balance_of_pay,
            order=b.order,
        )
        for b in split
    )


def person_input(employee: Employee, fields: tuple[str, ...]) -> dict[str, Any]:
    """The PersonInput (provisional) for the named canonical fields of `employee`."""
    body: dict[str, Any] = {}
    for name in fields:
        if name == "first_name":
            body["firstName"] = employee.first_name
        elif name == "last_name":
            body["lastName"] = employee.last_name
        elif name == "email":
            body["profileEmail"] = employee.email
        elif name == "phone":
            body["profilePhone"] = employee.phone
        elif name == "super_fund":
            body["superFund"] = employee.super_fund
        elif name == "address":
            a = employee.address or Address()
            body["profileAddress"] = {
                "street": a.street,
                "suburb": a.suburb,
                "state": a.state,
                "postcode": a.postcode,
                "country": a.country,
            }
        elif name == "tax":
            t = employee.tax or TaxDetails()
            body["taxDetails"] = {
                "taxFileNumber": t.tax_file_number,
                "taxFreeThreshold": t.tax_free_threshold,
                "residencyStatus": t.residency_status,
                "helpDebt": t.help_debt,
            }
        elif name == "bank_accounts":
            body["bankAccounts"] = [
                {
                    "bsb": b.bsb,
                    "accountNumber": b.account_number,
                    "accountName": b.account_name,
                    "percentage": None,  # hrsync sends fixed amounts: they replace a split in percentages
                    "amount": b.amount,
                    "balanceOfPay": b.balance_of_pay,
                    "order": b.order,
                }
                for b in employee.bank_accounts or ()
            ]
        else:
            raise ValueError(f"{name} is not a field Worknice's person takes")
    return body


def _error_paths(errors: list[Any]) -> str:
    paths = {
        ".".join(str(p) for p in e["path"])
        for e in errors
        if isinstance(e, dict) and isinstance(e.get("path"), list) and e["path"]
    }
    return ", ".join(sorted(paths)) or "the operation"


class Worknice:
    """People, person connections and leave of one Worknice organisation."""

    name = NAME

    def __init__(
        self, client: httpx.Client, policy: RetryPolicy, *, budget: RateBudget | None = None, page_size: int = PAGE_SIZE
    ) -> None:
        self._client = client
        self._policy = policy
        self._budget = budget
        self._page_size = page_size

    @classmethod
    def connect(
        cls, base_url: str, api_token: str, policy: RetryPolicy, *, budget: RateBudget | None = None
    ) -> Worknice:
        return cls(build_client(base_url, headers={TOKEN_HEADER: api_token}), policy, budget=budget)

    def close(self) -> None:
        self._client.close()

    def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """One GraphQL operation; its `data`, or a domain error naming the failing paths (never the message)."""
        response = send(
            self._client,
            "POST",
            GRAPHQL_PATH,
            system=NAME,
            policy=self._policy,
            budget=self._budget,
            json={"query": document, "variables": variables or {}},
        )
        body = json_body(response, system=NAME)
        if not isinstance(body, dict):
            raise ExternalSystemError(f"{NAME} answered with a body that is not a GraphQL response")
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            raise RejectedBySystemError(
                f"{NAME} refused {len(errors)} part(s) of the request: {_error_paths(errors)}", 400
            )
        data = body.get("data")
        if not isinstance(data, dict):
            raise ExternalSystemError(f"{NAME} answered without data")
        return data

    def _people_pages(self) -> Iterator[list[Any]]:
        """Raw people a page at a time until a short page; ExternalSystemError naming the page on trouble."""
        after: str | None = None
        for page in range(1, MAX_PAGES + 1):
            data = self.execute(PEOPLE_QUERY, {"first": self._page_size, "after": after})
            try:
                raw_people = data["session"]["org"]["people"]
            except (KeyError, TypeError):
                raise ExternalSystemError(f"{NAME} people, page {page}: the answer has no session.org.people") from None
            if not isinstance(raw_people, list):
                raise ExternalSystemError(f"{NAME} people, page {page}: not a list")
            yield raw_people
            last = id_of(raw_people[-1]) if raw_people else None
            if len(raw_people) < self._page_size:
                return
            if last is None or last == after:
                raise ExternalSystemError(f"{NAME} people, page {page}: the last person has no id to read on from")
            after = last
        raise ExternalSystemError(f"{NAME} people: more than {MAX_PAGES} pages")

    def list_people(self) -> tuple[list[Person], list[RecordRejection]]:
        """Every person, archived ones included, and the ones that could not be read."""
        people: list[Person] = []
        rejections: list[RecordRejection] = []
        seen: set[str] = set()
        index = 0
        for raw_people in self._people_pages():
            for raw in raw_people:
                result = person_from_worknice(raw, position=f"people, record {index}")
                index += 1
                if isinstance(result, RecordRejection):
                    rejections.append(result)
                elif result.employee.id not in seen:
                    seen.add(result.employee.id)
                    people.append(result)
        return people, rejections

    def list_records(self) -> Listing:
        """Every person as a canonical record (the TargetSystem listing)."""
        try:
            people, rejections = self.list_people()
        except ExternalSystemError as exc:
            listing = Listing()
            listing.mark_incomplete(f"people: {exc}")
            return listing
        return Listing(records=[p.employee for p in people], rejections=rejections)

    def update_person(self, person_id: str, employee: Employee, fields: tuple[str, ...]) -> None:
        self.execute(UPDATE_PERSON, {"personId": person_id, "input": person_input(employee, fields)})

    def person_connections(self, integration_id: str) -> list[PersonConnection]:
        data = self.execute(CONNECTIONS_QUERY, {"integrationId": integration_id})
        integration = data.get("integration")
        if not isinstance(integration, dict) or not isinstance(integration.get("connections"), list):
            raise ExternalSystemError(f"{NAME} integration {integration_id}: no connections in the answer")
        found: list[PersonConnection] = []
        for raw in integration["connections"]:
            if not isinstance(raw, dict) or raw.get("status") not in CONNECTION_STATUSES or not id_of(raw):
                continue  # another kind of connection, or one we cannot read: not ours to keep in step
            person, remote = raw.get("person"), raw.get("remote")
            found.append(
                PersonConnection(
                    connection_id=str(id_of(raw)),
                    person_id=id_of(person) if isinstance(person, dict) else None,
                    remote_id=id_of(remote) if isinstance(remote, dict) else None,
                    status=raw["status"],
                )
            )
        return found

    def create_person_connection(
        self, integration_id: str, person_id: str | None, remote_id: str, remote_name: str, status: ConnectionStatus
    ) -> str:
        data = self.execute(
            CREATE_CONNECTION,
            {
                "integrationId": integration_id,
                "remote": {"id": remote_id, "name": remote_name},
                "personId": person_id,
                "status": status,
            },
        )
        created = id_of(data.get("createPersonConnection"))
        if created is None:
            raise ExternalSystemError(f"{NAME} created a person connection but its answer has no id")
        return created

    def update_person_connection(
        self, connection_id: str, *, remote_id: str, remote_name: str, status: ConnectionStatus
    ) -> None:
        self.execute(
            UPDATE_CONNECTION,
            {"id": connection_id, "remote": {"id": remote_id, "name": remote_name}, "status": status},
        )

    def complete_integration_sync(self, integration_id: str) -> None:
        self.execute(COMPLETE_SYNC, {"integrationId": integration_id})

    def leave_requests(
        self, statuses: tuple[LeaveStatus, ...] = ("APPROVED", "CANCELLED")
    ) -> tuple[list[LeaveRequest], list[RecordRejection]]:
        data = self.execute(LEAVE_REQUESTS_QUERY, {"statuses": list(statuses)})
        try:
            raw_requests = data["session"]["org"]["leaveRequests"]
        except (KeyError, TypeError):
            raise ExternalSystemError(f"{NAME} leave requests: the answer has no session.org.leaveRequests") from None
        requests: list[LeaveRequest] = []
        rejections: list[RecordRejection] = []
        for index, raw in enumerate(raw_requests if isinstance(raw_requests, list) else []):
            try:
                vendor = _LeaveRequest.model_validate(raw)
            except ValidationError as exc:
                rejections.append(rejection_from(exc, record_id=id_of(raw), position=f"leave request {index}"))
                continue
            person_id = id_of(vendor.person)
            if person_id is None:
                rejections.append(
                    RecordRejection(
                        record_id=vendor.id, position=f"leave request {index}", field="person.id", reason="missing"
                    )
                )
                continue
            requests.append(
                LeaveRequest(
                    request_id=vendor.id,
                    person_id=person_id,
                    category=vendor.category,
                    start_date=vendor.startDate,
                    end_date=vendor.endDate,
                    hours=vendor.hours,
                    status=vendor.status,
                )
            )
        return requests, rejections

    def set_leave_balances(self, person_id: str, balances: dict[str, Decimal]) -> None:
        payload = [{"category": category, "hours": str(hours)} for category, hours in sorted(balances.items())]
        self.execute(SET_BALANCES, {"personId": person_id, "balances": payload})

    # --- TargetSystem: what the shared run and worker may ask of a target ---------------------------------
    def list_departments(self) -> list[Department]:
        return []  # Worknice's departments are not synced with MicrOpay

    def find(self, *, code: str | None = None, email: str | None = None) -> list[Employee]:
        wanted_email = email.lower() if email else None
        return [
            record
            for record in self.list_records().records
            if (code is not None and record.code == code)
            or (wanted_email is not None and (record.email or "").lower() == wanted_email)
        ]

    def create(self, employee: Employee, fields: tuple[str, ...]) -> str:
        raise RejectedBySystemError(f"{NAME} people are created in {NAME}, never by hrsync", 400)

    def update(self, target_id: str, employee: Employee, fields: tuple[str, ...]) -> None:
        self.update_person(target_id, employee, fields)

    def mark_leaver(self, target_id: str, leave_date: date) -> None:
        raise RejectedBySystemError(f"{NAME} offboards leavers itself; hrsync does not mark them", 400)
