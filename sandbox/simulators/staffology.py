"""Simulated Staffology Payroll: the employee-sync subset of its published OpenAPI description.

Follows the paths, parameters and JSON shapes of Staffology's published OpenAPI description (the
employee-sync subset, staffology-employee-sync-subset.openapi.json): HTTP Basic auth with the API key as the
password (username ignored), employee listings as bare arrays of `Item {id, name, url, metadata}` with
zero-based `pageNum` and no total count, one employee as `Contract.EmployeeResponse`, search by payroll code,
leavers, departments and the changes report. Only the read operations a sync from Staffology uses are served;
other methods on those paths answer 405.

Records are loaded through `PUT /_sandbox/records` as `Contract.EmployeeResponse` objects and served verbatim,
even when deliberately malformed; only a non-empty string `id` is required. Departments are loaded through
`PUT /_sandbox/departments` as `{code, title}` objects.

Assumptions where the spec is silent:
- `pageSize` defaults to 100 and has no upper cap; negative `pageNum` or `pageSize` < 1 is a 400.
- Item `name` is "firstName lastName" from personalDetails; `url` is the resource's API path; `metadata` is
  null for employees. Department Items carry `{code, title, color, accountingCode, employeeCount}` as
  metadata, a deterministic uuid as id and `/employers/{employerId}/departments/{code}` as url.
- A missing `status` counts as Current. `sortBy=PayrollCode|Employee|Department` sort by payroll code, name
  and department code (as text, missing last); `PaySchedule` and no sortBy keep load order.
  `pensionSchemeId` is validated but not applied.
- `search/payrollcode` matches the code exactly and answers 404 when no employee holds it.
- `search?query=` matches name or payroll code case-insensitively; fewer than 3 characters gives [].
- The changes report holds one ChangeSummary per record added, changed (Edited, with field-level
  modifications) or dropped (Deleted) by each `PUT /_sandbox/records`, dated the day of the load.
  `fromDate`/`toDate` are date-times and filter on the moment of the change (kept with each entry, not
  shown: ChangeSummary's `date` is a day); a bare date means its midnight UTC. It always answers JSON
  (`accept` is ignored).
- Unknown or malformed employerId answers 404 with a JSON message.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, Self

from sandbox.simulators.base import HttpError, Request, Response, Simulator, route

DEFAULT_EMPLOYER_ID = "3f5b8a6e-1c2d-4e7f-9a0b-5c6d7e8f9a01"
DEFAULT_API_KEY = "sandbox-staffology-api-key"
DEFAULT_PAGE_SIZE = 100
EMPLOYEE_STATUSES = ("Current", "Former", "Upcoming")
EMPLOYEE_SORT_FIELDS = ("PayrollCode", "Employee", "Department", "PaySchedule")

_EMPLOYEES = "/employers/{employerId}/employees"


def _dig(record: Any, *keys: str) -> Any:
    """A nested value, or None when any level is missing or not an object."""
    for key in keys:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def employee_name(record: Any) -> str | None:
    """ "First Last" from personalDetails, tolerating malformed records."""
    parts = [_text(_dig(record, "personalDetails", key)) for key in ("firstName", "lastName")]
    return " ".join(part for part in parts if part) or None


def employee_status(record: Any) -> Any:
    status = record.get("status")
    return "Current" if status is None else status


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def _modifications(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    before, after = dict(_flatten(old)), dict(_flatten(new))
    changed = [name for name in {**before, **after} if before.get(name) != after.get(name)]
    return [
        {
            "fieldName": name,
            "oldValue": None if before.get(name) is None else str(before[name]),
            "newValue": None if after.get(name) is None else str(after[name]),
            "isSignificant": True,
        }
        for name in changed
    ]


class StaffologySimulator(Simulator):
    """Staffology Payroll for one employer, as the source system of a sync."""

    display_name = "Staffology Payroll"
    default_port = 8101

    def __init__(
        self, employer_id: str = DEFAULT_EMPLOYER_ID, api_key: str = DEFAULT_API_KEY, *, port: int = 0
    ) -> None:
        super().__init__(port=port)
        self.employer_id = str(uuid.UUID(employer_id))
        self.api_key = api_key
        self._employees: dict[str, dict[str, Any]] = {}
        self._departments: list[dict[str, Any]] = []
        self._changes: list[tuple[datetime, dict[str, Any]]] = []
        self._listings: dict[tuple[Any, ...], list[dict[str, Any]]] = {}  # cleared whenever records change

    # --- state hooks -------------------------------------------------------------------------------------
    def clear_state(self) -> None:
        self._employees, self._departments, self._changes = {}, [], []
        self._listings = {}

    def load_records(self, records: list[Any]) -> None:
        loaded: dict[str, dict[str, Any]] = {}
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise HttpError(400, f"record {index} is not a JSON object", extra={"index": index})
            employee_id = record.get("id")
            if not isinstance(employee_id, str) or not employee_id.strip():
                raise HttpError(400, f"record {index} has no usable id", extra={"index": index})
            if employee_id in loaded:
                raise HttpError(400, f"record {index} repeats id {employee_id}", extra={"index": index})
            loaded[employee_id] = record
        self._log_changes(self._employees, loaded)
        self._employees = loaded
        self._listings = {}

    def dump_records(self) -> list[Any]:
        return list(self._employees.values())

    def load_departments(self, departments: list[Any]) -> None:
        for index, department in enumerate(departments):
            if not isinstance(department, dict) or not _text(department.get("code")):
                raise HttpError(400, f"department {index} needs a non-empty code", extra={"index": index})
            if not isinstance(department.get("title", ""), str | None):
                raise HttpError(400, f"department {index} has a non-text title", extra={"index": index})
        self._departments = [dict(department) for department in departments]

    def dump_departments(self) -> list[Any]:
        return [dict(department) for department in self._departments]

    def is_authorized(self, request: Request) -> bool:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, separator, password = decoded.partition(":")
        return bool(separator) and hmac.compare_digest(password.encode(), self.api_key.encode())

    def unauthorized(self) -> Response:
        return Response(401, {"message": "Unauthorized"}, {"WWW-Authenticate": 'Basic realm="Staffology"'})

    # --- vendor routes -----------------------------------------------------------------------------------
    @route("GET", _EMPLOYEES)
    def list_employees(self, request: Request) -> Any:
        self._require_employer(request)
        page_num = request.int_param("pageNum", 0)
        page_size = request.int_param("pageSize", DEFAULT_PAGE_SIZE, minimum=1)
        status = request.choice_param("status", EMPLOYEE_STATUSES)
        dept_code = request.param("deptCode")
        request.uuid_param("pensionSchemeId")
        sort_by = request.choice_param("sortBy", EMPLOYEE_SORT_FIELDS)
        descending = request.bool_param("sortDescending", False)
        # A client pages through one listing: filter and sort it once per set of records, not per page.
        listing_key = (status, dept_code, sort_by, descending)
        employees = self._listings.get(listing_key)
        if employees is None:
            employees = self._sorted(
                [
                    record
                    for record in self._employees.values()
                    if (status is None or employee_status(record) == status)
                    and (dept_code is None or _dig(record, "employmentDetails", "department", "code") == dept_code)
                ],
                sort_by,
                descending,
            )
            self._listings[listing_key] = employees
        start = page_num * page_size
        return [self._item(record) for record in employees[start : start + page_size]]

    @route("GET", _EMPLOYEES + "/leavers")
    def list_leavers(self, request: Request) -> Any:
        self._require_employer(request)
        only_unsent = request.bool_param("onlyUnsentP45s", False)
        return [
            self._item(record)
            for record in self._employees.values()
            if employee_status(record) == "Former"
            and not (only_unsent and _dig(record, "employmentDetails", "leaverDetails", "p45Sent") is True)
        ]

    @route("GET", _EMPLOYEES + "/search/payrollcode")
    def find_by_payroll_code(self, request: Request) -> Any:
        self._require_employer(request)
        code = request.param("code")
        for record in self._employees.values():
            if code is not None and _dig(record, "employmentDetails", "payrollCode") == code:
                return self._item(record)
        raise HttpError(404, f"No employee with payroll code {code}")

    @route("GET", _EMPLOYEES + "/search")
    def search_employees(self, request: Request) -> Any:
        self._require_employer(request)
        request.bool_param("exludeCisSubContactors", False)  # the spec's spelling
        query = (request.param("query") or "").strip().lower()
        if len(query) < 3:
            return []
        return [
            self._item(record)
            for record in self._employees.values()
            if any(
                isinstance(text, str) and query in text.lower()
                for text in (employee_name(record), _dig(record, "employmentDetails", "payrollCode"))
            )
        ]

    @route("GET", _EMPLOYEES + "/{id}")
    def get_employee(self, request: Request) -> Any:
        self._require_employer(request)
        return self._require_employee(request)

    @route("GET", _EMPLOYEES + "/{id}/departments")
    def get_department_memberships(self, request: Request) -> Any:
        self._require_employer(request)
        department = _dig(self._require_employee(request), "employmentDetails", "department")
        if not isinstance(department, dict) or not _text(department.get("code")):
            return []
        return [
            {
                "code": department["code"],
                "title": department.get("title"),
                "color": department.get("color"),
                "primary": True,
                "weighting": 1.0,
            }
        ]

    @route("GET", "/employers/{employerId}/departments")
    def list_departments(self, request: Request) -> Any:
        self._require_employer(request)
        counts: dict[str, int] = {}
        for record in self._employees.values():
            code = _dig(record, "employmentDetails", "department", "code")
            if isinstance(code, str):
                counts[code] = counts.get(code, 0) + 1
        return [self._department_item(department, counts) for department in self._known_departments()]

    @route("GET", "/employers/{employerId}/reports/changes")
    def changes_report(self, request: Request) -> Any:
        self._require_employer(request)
        from_date = request.datetime_param("fromDate")
        to_date = request.datetime_param("toDate")
        model = [
            change
            for moment, change in self._changes
            if (from_date is None or moment >= from_date) and (to_date is None or moment <= to_date)
        ]
        return {"type": "application/json", "content": None, "model": model, "stream": None}

    # --- helpers -----------------------------------------------------------------------------------------
    def _require_employer(self, request: Request) -> None:
        if request.path_params["employerId"].lower() != self.employer_id:
            raise HttpError(404, "Employer not found")

    def _require_employee(self, request: Request) -> dict[str, Any]:
        record = self._employees.get(request.path_params["id"])
        if record is None:
            raise HttpError(404, "Employee not found")
        return record

    def _item(self, record: dict[str, Any]) -> dict[str, Any]:
        employee_id = record["id"]
        return {
            "id": employee_id,
            "name": employee_name(record),
            "url": f"/employers/{self.employer_id}/employees/{employee_id}",
            "metadata": None,
        }

    @staticmethod
    def _sorted(records: list[dict[str, Any]], sort_by: str | None, descending: bool) -> list[dict[str, Any]]:
        if sort_by in (None, "PaySchedule"):
            return list(reversed(records)) if descending else records

        def key(record: dict[str, Any]) -> str | None:
            if sort_by == "Employee":
                return employee_name(record)
            path = ("department", "code") if sort_by == "Department" else ("payrollCode",)
            value = _dig(record, "employmentDetails", *path)
            return None if value is None else str(value)

        present = [record for record in records if key(record) is not None]
        missing = [record for record in records if key(record) is None]
        return sorted(present, key=lambda record: key(record) or "", reverse=descending) + missing

    def _known_departments(self) -> list[dict[str, Any]]:
        if self._departments:
            return self._departments
        derived: dict[str, dict[str, Any]] = {}
        for record in self._employees.values():
            department = _dig(record, "employmentDetails", "department")
            if isinstance(department, dict) and isinstance(department.get("code"), str):
                derived.setdefault(department["code"], department)
        return list(derived.values())

    def _department_item(self, department: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
        code = department["code"]
        return {
            "id": str(uuid.uuid5(uuid.UUID(self.employer_id), f"department:{code}")),
            "name": department.get("title"),
            "url": f"/employers/{self.employer_id}/departments/{code}",
            "metadata": {
                "code": code,
                "title": department.get("title"),
                "color": department.get("color"),
                "accountingCode": department.get("accountingCode"),
                "employeeCount": counts.get(code, 0),
            },
        }

    def _log_changes(self, before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> None:
        moment = datetime.now(UTC)
        today = moment.date()
        for employee_id, record in after.items():
            previous = before.get(employee_id)
            if previous is None:
                self._changes.append((moment, self._change(record, "Added", [], today)))
            elif previous != record:
                self._changes.append((moment, self._change(record, "Edited", _modifications(previous, record), today)))
        for employee_id, record in before.items():
            if employee_id not in after:
                self._changes.append((moment, self._change(record, "Deleted", [], today)))

    def _change(
        self, record: dict[str, Any], action: str, modifications: list[dict[str, Any]], day: date
    ) -> dict[str, Any]:
        employee_id = record["id"]
        name = employee_name(record)
        return {
            "id": str(uuid.uuid4()),
            "auditId": str(uuid.uuid4()),
            "actionPerformed": action,
            "actionPerformedBy": "sandbox",
            "actionPerformedOn": name,
            "changeType": "Employee",
            "date": day.isoformat(),
            "displayName": name,
            "employeeFirstName": _text(_dig(record, "personalDetails", "firstName")),
            "employeeLastName": _text(_dig(record, "personalDetails", "lastName")),
            "employeeUniqueId": employee_id,
            "employerUniqueId": self.employer_id,
            "entityId": employee_id,
            "entityType": "Employee",
            "modifications": modifications,
            "uniqueId": self.employer_id,
        }

    # --- command line ------------------------------------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--employer-id", default=DEFAULT_EMPLOYER_ID)
        parser.add_argument("--api-key", default=DEFAULT_API_KEY)

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> Self:
        return cls(employer_id=args.employer_id, api_key=args.api_key, port=args.port)


def main(argv: Sequence[str] | None = None) -> int:
    return StaffologySimulator.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
