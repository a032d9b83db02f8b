"""Staffology Payroll: a source of employees.

Follows Staffology's published OpenAPI description (../shared/specs/staffology-employee-sync-subset.openapi.json):
HTTP Basic with the API key as the password; `GET /employers/{employerId}/employees` lists `Item`s with a
zero-based `pageNum` and `pageSize`, with no total, so a client reads until a page comes back shorter than
pageSize; details come from `GET /employers/{employerId}/employees/{id}` as `Contract.EmployeeResponse`.

PROVISIONAL (hrsync's convention, not Staffology's): an employee's `tags` (a published field, a list of strings)
carry the benefits platform's flags: the tag `create-benefits-record` sends a new starter to the benefits
platform, and a tag `benefits-level:<level>` gives their benefits level.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Literal

import httpx
from pydantic import Field, ValidationError

from hrsync.errors import ExternalSystemError, RecordNotFoundError
from hrsync.models.employee import (
    BankDetails,
    Employee,
    EmploymentStatus,
    Listing,
    RecordRejection,
)
from hrsync.systems.bulk import CONCURRENCY, BulkReader
from hrsync.systems.http import RetryPolicy, build_client, json_body, send
from hrsync.systems.mapping import VendorModel, clean_text, id_of, rejection_from

NAME = "Staffology Payroll"
STATUSES = ("Current", "Upcoming", "Former")
CREATE_BENEFITS_TAG = "create-benefits-record"  # provisional
BENEFITS_LEVEL_TAG = "benefits-level:"  # provisional
MAX_PAGES = 10_000
PAGE_WINDOW = 8  # listing pages read ahead concurrently at first; the window doubles while pages come back full
PAGE_WINDOW_MAX = 64
CLIENT_THREADS = 8  # details read at once through a client handed in without a bulk reader (tests)


class _Department(VendorModel):
    code: str | None = None
    title: str | None = None


class _LeaverDetails(VendorModel):
    hasLeft: bool | None = None
    leaveDate: date | None = None


class _StarterDetails(VendorModel):
    startDate: date | None = None


class _EmploymentDetails(VendorModel):
    payrollCode: str | None = Field(default=None, max_length=35)
    department: _Department | None = None
    starterDetails: _StarterDetails | None = None
    leaverDetails: _LeaverDetails | None = None


class _PersonalDetails(VendorModel):
    firstName: str | None = Field(default=None, max_length=35)
    lastName: str | None = Field(default=None, max_length=35)
    email: str | None = Field(default=None, max_length=100)


class _BankDetails(VendorModel):
    accountName: str | None = None
    accountNumber: str | None = None
    sortCode: str | None = None


class _EmployeeResponse(VendorModel):
    id: str = Field(min_length=1)
    status: Literal["Current", "Former", "Upcoming"] | None = None
    personalDetails: _PersonalDetails | None = None
    employmentDetails: _EmploymentDetails | None = None
    bankDetails: _BankDetails | None = None
    tags: list[str] | None = None


def _benefits_level(tags: list[str]) -> str | None:
    for tag in tags:
        if tag.lower().startswith(BENEFITS_LEVEL_TAG):
            return clean_text(tag[len(BENEFITS_LEVEL_TAG) :])
    return None


def employee_from_staffology(raw: object, *, position: str = "employee") -> Employee | RecordRejection:
    """Map one `Contract.EmployeeResponse` to the canonical Employee; a bad payload names its field."""
    record_id = id_of(raw)
    if not isinstance(raw, dict):
        return RecordRejection(record_id=None, position=position, field="(record)", reason="not a JSON object")
    try:
        vendor = _EmployeeResponse.model_validate(raw)
    except ValidationError as exc:
        return rejection_from(exc, record_id=record_id, position=position)
    personal = vendor.personalDetails or _PersonalDetails()
    employment = vendor.employmentDetails or _EmploymentDetails()
    leaver = employment.leaverDetails or _LeaverDetails()
    if leaver.hasLeft or vendor.status == "Former":
        status = EmploymentStatus.FORMER
    elif vendor.status == "Upcoming":
        status = EmploymentStatus.UPCOMING
    else:
        status = EmploymentStatus.CURRENT
    bank = vendor.bankDetails
    tags = [clean_text(tag) or "" for tag in vendor.tags or []]
    return Employee(
        id=vendor.id,
        code=clean_text(employment.payrollCode),
        first_name=clean_text(personal.firstName),
        last_name=clean_text(personal.lastName),
        email=clean_text(personal.email),
        department_code=clean_text(employment.department.code) if employment.department else None,
        benefits_level=_benefits_level(tags),
        create_benefits_record=any(tag.lower() == CREATE_BENEFITS_TAG for tag in tags),
        bank=BankDetails(
            account_name=clean_text(bank.accountName),
            account_number=clean_text(bank.accountNumber),
            sort_code=clean_text(bank.sortCode),
        )
        if bank and (bank.accountNumber or bank.sortCode)
        else None,
        status=status,
        start_date=employment.starterDetails.startDate if employment.starterDetails else None,
        leave_date=leaver.leaveDate if status is EmploymentStatus.FORMER else None,
    )


class StaffologyPayroll:
    """Reads employees from one Staffology employer."""

    name = NAME

    def __init__(
        self,
        client: httpx.Client,
        employer_id: str,
        policy: RetryPolicy,
        *,
        page_size: int = 100,
        bulk: BulkReader | None = None,
    ) -> None:
        """`client` for every call but the details of a whole read, which go through `bulk` (aiohttp, see
        systems/bulk.py); without one (an adapter made on a client alone, as the contract tests' recording
        client) they go through `client` too, from CLIENT_THREADS threads."""
        self._client = client
        self._employer = employer_id
        self._policy = policy
        self._page_size = page_size
        self._bulk = bulk

    @classmethod
    def connect(
        cls, base_url: str, employer_id: str, api_key: str, policy: RetryPolicy, *, concurrency: int = CONCURRENCY
    ) -> StaffologyPayroll:
        """`concurrency`: details a full read fetches at once, at most (see BulkReader)."""
        client = build_client(base_url, auth=httpx.BasicAuth("hrsync", api_key))
        bulk = BulkReader(base_url, system=NAME, policy=policy, basic_auth=("hrsync", api_key), concurrency=concurrency)
        return cls(client, employer_id, policy, bulk=bulk)

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str, params: dict[str, str | int] | None = None) -> object:
        response = send(self._client, "GET", path, system=NAME, policy=self._policy, params=params)
        return json_body(response, system=NAME)

    def _page(self, status: str, page: int) -> object:
        """One listing page, or the error that stopped it (so pages can be read concurrently)."""
        try:
            return self._get(
                f"employers/{self._employer}/employees",
                {"pageNum": page, "pageSize": self._page_size, "status": status, "sortBy": "PayrollCode"},
            )
        except ExternalSystemError as exc:
            return exc

    def _item_ids(self, status: str, listing: Listing, pool: ThreadPoolExecutor) -> Iterator[str]:
        """Ids of one status's Items, page by page until a short page; marks the listing incomplete on trouble.

        The API gives no total, so pages are read ahead in windows, concurrently, and taken in order; pages
        read past the end cost one short answer each. A window is PAGE_WINDOW pages, twice as many after
        each window of full pages (up to PAGE_WINDOW_MAX): a small employer costs a few short answers, and
        10,000 employees' 100 pages take 4 round trips, not 13."""
        seen: set[str] = set()
        first, window = 0, PAGE_WINDOW
        while first < MAX_PAGES:
            window = min(window, MAX_PAGES - first)
            pages = list(pool.map(lambda n: self._page(status, n), range(first, first + window)))
            for page, items in enumerate(pages, start=first):
                if isinstance(items, ExternalSystemError):
                    listing.mark_incomplete(f"{status} employees, page {page}: {items}")
                    return
                if not isinstance(items, list):
                    listing.mark_incomplete(f"{status} employees, page {page}: not a JSON array")
                    return
                new = 0
                for index, item in enumerate(items):
                    item_id = id_of(item)
                    if item_id is None:
                        listing.rejections.append(
                            RecordRejection(
                                record_id=None,
                                position=f"{status} employees, page {page}, item {index}",
                                field="id",
                                reason="missing or not a string",
                            )
                        )
                        continue
                    if item_id in seen:
                        continue
                    seen.add(item_id)
                    new += 1
                    yield item_id
                if len(items) < self._page_size:
                    return
                if new == 0:
                    listing.mark_incomplete(f"{status} employees, page {page} repeated earlier pages")
                    return
            first, window = first + window, min(window * 2, PAGE_WINDOW_MAX)
        listing.mark_incomplete(f"{status} employees: more than {MAX_PAGES} pages")

    def get_employee(self, employee_id: str) -> Employee | RecordRejection:
        """One employee's details; RecordNotFoundError when Staffology has no such employee."""
        return self._employee(employee_id, self._get(self._employee_path(employee_id)))

    def _employee_path(self, employee_id: str) -> str:
        return f"employers/{self._employer}/employees/{employee_id}"

    @staticmethod
    def _employee(employee_id: str, raw: object) -> Employee | RecordRejection:
        result = employee_from_staffology(raw, position=f"employee {employee_id}")
        if isinstance(result, Employee) and result.id != employee_id:
            return RecordRejection(
                record_id=employee_id, position=f"employee {employee_id}", field="id", reason="does not match"
            )
        return result

    def search(self, text: str) -> list[str]:
        """Ids of employees whose name or payroll code contains `text` (Staffology's own search: 3+ characters)."""
        if len(text.strip()) < 3:
            return []
        items = self._get(f"employers/{self._employer}/employees/search", {"query": text.strip()})
        if not isinstance(items, list):
            raise ExternalSystemError(f"{NAME} answered a search with something other than a list")
        return [item_id for item_id in (id_of(item) for item in items) if item_id]

    def list_employees(self) -> Listing:
        """Every Current, Upcoming and Former employee with details, read concurrently."""
        listing = Listing()
        self.read_details(list(self.list_ids(listing)), listing)
        return listing

    def list_ids(self, listing: Listing) -> dict[str, EmploymentStatus]:
        """Who is there, by status, from the listing pages alone (no details); trouble marks `listing`."""
        found: dict[str, EmploymentStatus] = {}
        with ThreadPoolExecutor(max_workers=PAGE_WINDOW_MAX) as pages:
            for status in STATUSES:
                for item_id in self._item_ids(status, listing, pages):
                    found.setdefault(item_id, EmploymentStatus(status.lower()))
        return found

    def read_details(self, ids: list[str], listing: Listing) -> None:
        """Read these employees' details concurrently into `listing`, in `ids`' order: a record each, or a
        rejection naming the employee when it cannot be read or is invalid."""
        results: list[Employee | RecordRejection]
        if self._bulk is not None:
            results = self._bulk.get_json(
                [self._employee_path(employee_id) for employee_id in ids],
                lambda n, raw: self._employee(ids[n], raw),
                lambda n, exc: _unread(ids[n], exc),
            )
        else:

            def fetch(employee_id: str) -> Employee | RecordRejection:
                try:
                    return self.get_employee(employee_id)
                except ExternalSystemError as exc:
                    return _unread(employee_id, exc)

            with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
                results = list(pool.map(fetch, ids))
        for result in results:
            if isinstance(result, Employee):
                listing.records.append(result)
            else:
                listing.rejections.append(result)

    def changed_since(self, moment: datetime) -> set[str]:
        """Ids of the employees the changes report names from `moment` on (added, edited or deleted)."""
        raw = self._get(
            f"employers/{self._employer}/reports/changes",
            {"fromDate": moment.astimezone(UTC).isoformat(timespec="microseconds")},
        )
        model = raw.get("model") if isinstance(raw, dict) else None
        if not isinstance(model, list):
            raise ExternalSystemError(f"{NAME} changes report: `model` is not a list")
        changed: set[str] = set()
        for index, change in enumerate(model):
            employee_id = change.get("employeeUniqueId") if isinstance(change, dict) else None
            if not isinstance(employee_id, str) or not employee_id:
                raise ExternalSystemError(f"{NAME} changes report: entry {index} has no employeeUniqueId")
            changed.add(employee_id)
        return changed


def _unread(employee_id: str, exc: ExternalSystemError) -> RecordRejection:
    if isinstance(exc, RecordNotFoundError):
        return RecordRejection(
            record_id=employee_id,
            position=f"employee {employee_id}",
            field="(record)",
            reason="listed but not found when its details were read",
        )
    return RecordRejection.read_failed(employee_id, str(exc))
