"""The canonical Employee every adapter maps to and from, and the result of reading a system."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class EmploymentStatus(StrEnum):
    CURRENT = "current"
    UPCOMING = "upcoming"
    FORMER = "former"


class BankDetails(BaseModel):
    model_config = ConfigDict(frozen=True)

    account_name: str | None = None
    account_number: str | None = None
    sort_code: str | None = None


class Address(BaseModel):
    model_config = ConfigDict(frozen=True)

    street: str | None = None
    suburb: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None


class EmergencyContact(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str | None = None
    phone: str | None = None


class TaxDetails(BaseModel):
    """An Australian employee's tax declaration (MicrOpay and Worknice; JSON names provisional in both)."""

    model_config = ConfigDict(frozen=True)

    tax_file_number: str | None = None
    tax_free_threshold: bool | None = None
    residency_status: str | None = None
    help_debt: bool | None = None


class BankAccount(BaseModel):
    """One of an employee's pay accounts (Australian: a BSB). `amount` is fixed; the balance-of-pay account has
    none. MicrOpay takes no percentages."""

    model_config = ConfigDict(frozen=True)

    bsb: str | None = None
    account_number: str | None = None
    account_name: str | None = None
    amount: str | None = None  # a decimal as text: compared exactly, never rounded
    balance_of_pay: bool = False
    order: int = 1


class BankShare(BaseModel):
    """One account of a bank split as an HR system holds it (Worknice): a percentage of pay, a fixed amount, or
    the balance of pay. MicrOpay takes fixed amounts only: sync/bank.py converts a split against a known pay."""

    model_config = ConfigDict(frozen=True)

    bsb: str | None = None
    account_number: str | None = None
    account_name: str | None = None
    percentage: Decimal | None = None
    amount: str | None = None  # a decimal as text, like BankAccount's
    balance_of_pay: bool = False
    order: int = 1


class Employee(BaseModel):
    """One person as one system holds them, in hrsync's words.

    `id` is the record's id in its own system; `code` is the payroll code (a source) or the reference that
    holds it (a target). A target record is an Employee too, so planning compares like with like.
    `external_id` is, on a target record, the id the target keeps for hrsync's employee (SCIM externalId).
    `create_benefits_record` is the source's flag that sends a new starter to the benefits platform.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    code: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    department_code: str | None = None
    cost_centre: str | None = None
    benefits_level: str | None = None
    create_benefits_record: bool = False
    external_id: str | None = None
    bank: BankDetails | None = None
    status: EmploymentStatus = EmploymentStatus.CURRENT
    start_date: date | None = None
    leave_date: date | None = None
    # Employment fields some payrolls carry (MicrOpay): codes of the payroll's lookups.
    gender: str | None = None
    location: str | None = None
    pay_point: str | None = None
    pay_frequency: str | None = None
    job_classification: str | None = None
    cost_account: str | None = None
    super_fund: str | None = None
    # Profile fields an employee may keep themselves (self service).
    phone: str | None = None
    address: Address | None = None
    emergency_contact: EmergencyContact | None = None
    bank_accounts: tuple[BankAccount, ...] | None = None
    # The split as an HR system holds it, percentages and all (Worknice); `bank_accounts` holds it as fixed
    # amounts only when it has no percentages, since converting them needs the pay.
    bank_split: tuple[BankShare, ...] | None = None
    # The net pay of a standard pay period (MicrOpay): what a percentage split is converted against.
    standard_net_pay: str | None = None  # a decimal as text; personal, never logged
    tax: TaxDetails | None = None


class RecordRejection(BaseModel):
    """A vendor record that could not be read, with the field at fault. Never carries the bad value.

    `record_id` is None when the record had no usable id; `keys` holds what could still be read of its
    match keys (code, email) so a target record that cannot be read still blocks matching against it.
    """

    model_config = ConfigDict(frozen=True)

    record_id: str | None
    position: str
    field: str
    reason: str
    keys: dict[str, str] = {}
    retryable: bool = False

    @classmethod
    def read_failed(cls, record_id: str, reason: str) -> RecordRejection:
        """A record whose read failed for a reason that may pass (an outage): tried again by a later run."""
        return cls(record_id=record_id, position=f"employee {record_id}", field="(read)", reason=reason, retryable=True)


class Listing(BaseModel):
    """What a read of one system returned: the records, the ones it could not read, and whether it is whole."""

    records: list[Employee] = []
    rejections: list[RecordRejection] = []
    complete: bool = True
    incomplete_reason: str | None = None

    def mark_incomplete(self, reason: str) -> None:
        """The read stopped part-way: what is here is not everyone."""
        self.complete = False
        self.incomplete_reason = reason

    def add(self, result: Employee | RecordRejection, seen: set[str]) -> bool:
        """One mapped record of a paged read: a rejection is kept as one; an employee is kept unless its id is
        in `seen` (a page repeating an earlier one), and its id added there. True when an employee was added."""
        if isinstance(result, RecordRejection):
            self.rejections.append(result)
            return False
        if result.id in seen:
            return False
        seen.add(result.id)
        self.records.append(result)
        return True


class MemberChange(BaseModel):
    """Profile fields an employee edited in a self-service system (names only, never values), and when."""

    model_config = ConfigDict(frozen=True)

    change_id: str
    member_id: str
    employee_code: str
    fields: tuple[str, ...]
    changed_at: datetime


class Department(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name: str | None = None
