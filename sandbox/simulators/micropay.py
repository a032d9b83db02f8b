"""Simulated MicrOpay Web API: employees, the change feed, deletions, lookups and employee changes.

What is documented (../shared/specs/vendor-notes.md) is followed: `GET api/EmployeeDetails?includeTerminated=
&terminatedSince=&page=&pageSize=`, `GET api/EmployeeDetails/{EmpCode}`, `changedSince=` fed by the payroll's
changed-employees table, `GET api/DeletedEmployees?deletedSince=yyyy-mm-dd` -> `{empId, empCode, deletedDate}`,
`api/LookupTypes`, `api/LookupType?type=`, ChangeEmployee (queued for approval, a status id to poll) and
ChangeEmployeeImmediate (only fields that do not affect pay), camelCase JSON, an API key plus a username and
password. PROVISIONAL (the simulator's own choices, shared with hrsync/systems/micropay.py): header `X-Api-Key`
with HTTP Basic; `page` 1-based, pageSize 1..500, a bare JSON array per page sorted by empCode; `changedSince` an
ISO date-time; fields `terminationDate`, `superFund`, `emergencyContactName`, `emergencyContactPhone`,
`bankAccounts[] {bsbCode, accountNumber, accountName, payAmount, balanceOfPay, order}`, `standardNetPay` (the
net pay of a standard pay period; read only: the API cannot change it); lookup entries `{code, description}`;
`POST api/ChangeEmployee|ChangeEmployeeImmediate {empCode, changes}`; `GET api/ChangeEmployee/{statusId}` ->
`{statusId, status: Pending|Approved|Rejected, reason}`; errors 400 `{message, errors: [{field, message}]}`.

Control surface beyond the shared one (`/_sandbox/departments` holds the lookups as `{type, code, description}`):
- `PATCH /_sandbox/records/{empCode}` `{changes, changeFeed}`: a payroll user edits an employee; with
  `changeFeed: false` the change table misses it (written while the integration service was down).
- `DELETE /_sandbox/records/{empCode}`: delete an employee (listed by DeletedEmployees from today).
- `PUT|GET /_sandbox/leave-balances` `{empCode: {category: hours}}`; `GET /_sandbox/leave`: leave recorded
  through `POST api/LeaveRequest` (provisional, as are `DELETE api/LeaveRequest/{leaveId}` and
  `GET api/LeaveBalances?empCode=`).
- `GET /_sandbox/new-employees`; `POST /_sandbox/new-employees/{pendingId}` `{decision: accept|reject, reason}`:
  payroll validates a new starter from the New Employee wizard (accepting makes it an employee).
- `GET /_sandbox/approvals`; `POST /_sandbox/approvals/{statusId}` `{decision: approve|reject, reason}`: a
  payroll user decides a queued ChangeEmployee (approval applies it and puts the employee in the change table).
Records loaded with `PUT /_sandbox/records` may carry `changedAt` (ISO date-time) for the change table; default now.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Self

from sandbox.simulators.base import HttpError, Request, Response, Simulator, route

DEFAULT_API_KEY = "sandbox-micropay-api-key"
DEFAULT_USERNAME = "hrsync"
DEFAULT_PASSWORD = "sandbox-micropay-password"  # noqa: S105 - a local simulator's fixed password
MAX_PAGE_SIZE = 500
IMMEDIATE_FIELDS = (
    "defaultEmail",
    "telephone1",
    "street",
    "suburbCity",
    "state",
    "postcode",
    "country",
    "emergencyContactName",
    "emergencyContactPhone",
    "preferredName",
)
PAY_FIELDS = ("bankAccounts", "taxDetails")
_BSB = re.compile(r"^\d{3}-\d{3}$")


def _now() -> datetime:
    return datetime.now(UTC)


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


class MicrOpaySimulator(Simulator):
    """MicrOpay's employees, change table, deletions, lookups and approval queue (names partly provisional)."""

    display_name = "MicrOpay"
    default_port = 8103

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        *,
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.api_key, self.username, self.password = api_key, username, password
        self._employees: dict[str, dict[str, Any]] = {}
        self._changed_at: dict[str, datetime] = {}
        self._deleted: list[dict[str, Any]] = []
        self._lookups: list[dict[str, Any]] = []
        self._approvals: dict[str, dict[str, Any]] = {}
        self._next_status = 1
        self._new_employees: dict[str, dict[str, Any]] = {}
        self._leave: dict[str, dict[str, Any]] = {}
        self._balances: dict[str, dict[str, Any]] = {}

    # --- state hooks -------------------------------------------------------------------------------------
    def clear_state(self) -> None:
        self._employees, self._changed_at, self._deleted, self._lookups = {}, {}, [], []
        self._approvals, self._next_status = {}, 1
        self._new_employees, self._leave, self._balances = {}, {}, {}

    def load_records(self, records: list[Any]) -> None:
        employees: dict[str, dict[str, Any]] = {}
        changed: dict[str, datetime] = {}
        for index, record in enumerate(records):
            code = record.get("empCode") if isinstance(record, dict) else None
            if not isinstance(code, str) or not code.strip():
                raise HttpError(400, f"record {index} needs a non-empty empCode", extra={"index": index})
            if code in employees:
                raise HttpError(400, f"record {index} repeats empCode {code}", extra={"index": index})
            stamp = record.get("changedAt")
            try:
                changed[code] = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else _now()
            except (AttributeError, ValueError):
                raise HttpError(
                    400, f"record {index} has a changedAt that is not a date-time", extra={"index": index}
                ) from None
            employees[code] = {k: v for k, v in record.items() if k != "changedAt"}
        self._employees, self._changed_at = employees, changed

    def dump_records(self) -> list[Any]:
        return [dict(e) for e in self._employees.values()]

    def load_departments(self, departments: list[Any]) -> None:
        for index, entry in enumerate(departments):
            if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("type", "code")):
                raise HttpError(400, f"lookup {index} needs a type and a code", extra={"index": index})
        self._lookups = [
            {"type": e["type"], "code": e["code"], "description": e.get("description")} for e in departments
        ]

    def dump_departments(self) -> list[Any]:
        return [dict(e) for e in self._lookups]

    def is_authorized(self, request: Request) -> bool:
        key = request.headers.get("X-Api-Key", "")
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (
            scheme.lower() == "basic"
            and hmac.compare_digest(key.encode(), self.api_key.encode())
            and hmac.compare_digest(user.encode(), self.username.encode())
            and hmac.compare_digest(password.encode(), self.password.encode())
        )

    # --- vendor routes -----------------------------------------------------------------------------------
    @route("GET", "/api/EmployeeDetails")
    def list_employees(self, request: Request) -> Any:
        page = request.int_param("page", 1, minimum=1)
        page_size = request.int_param("pageSize", 100, minimum=1, maximum=MAX_PAGE_SIZE)
        include_terminated = request.bool_param("includeTerminated", False)
        terminated_since = request.datetime_param("terminatedSince")
        changed_since = request.datetime_param("changedSince")
        today = self.today()
        chosen = []
        for code in sorted(self._employees):
            employee = self._employees[code]
            ended = _date(employee.get("terminationDate"))
            terminated = ended is not None and ended <= today
            if (
                terminated
                and not include_terminated
                and not (terminated_since is not None and ended is not None and ended >= terminated_since.date())
            ):
                continue
            if changed_since is not None and self._changed_at[code] < changed_since:
                continue
            chosen.append(employee)
        start = (page - 1) * page_size
        return chosen[start : start + page_size]

    @route("GET", "/api/EmployeeDetails/{empCode}")
    def get_employee(self, request: Request) -> Any:
        return self._require(request.path_params["empCode"])

    @route("GET", "/api/DeletedEmployees")
    def deleted_employees(self, request: Request) -> Any:
        since = request.datetime_param("deletedSince")
        return [d for d in self._deleted if since is None or (_date(d["deletedDate"]) or date.min) >= since.date()]

    @route("GET", "/api/LookupTypes")
    def lookup_types(self, request: Request) -> Any:
        return sorted({e["type"] for e in self._lookups})

    @route("GET", "/api/LookupType")
    def lookup_type(self, request: Request) -> Any:
        wanted = request.param("type")
        types = {e["type"] for e in self._lookups}
        if wanted is None or wanted not in types:
            raise HttpError(400, f"type must be one of: {', '.join(sorted(types))}")
        return [{"code": e["code"], "description": e["description"]} for e in self._lookups if e["type"] == wanted]

    @route("POST", "/api/ChangeEmployeeImmediate")
    def change_immediate(self, request: Request) -> Any:
        code, changes = self._change_body(request, immediate=True)
        self._apply(code, changes)
        return {"empCode": code, "status": "Applied"}

    @route("POST", "/api/ChangeEmployee")
    def change_for_approval(self, request: Request) -> Any:
        code, changes = self._change_body(request, immediate=False)
        status_id = f"CE{self._next_status:06d}"
        self._next_status += 1
        self._approvals[status_id] = {
            "statusId": status_id,
            "empCode": code,
            "changes": changes,
            "status": "Pending",
            "reason": None,
            "submittedAt": _now().isoformat(),
        }
        return Response(202, {"statusId": status_id, "status": "Pending"})

    @route("POST", "/api/NewEmployee")
    def new_employee(self, request: Request) -> Any:
        body = request.json()
        if not isinstance(body, dict):
            raise HttpError(400, "The request body must be a JSON object")
        errors = [
            {"field": name, "message": f"{name} is required"}
            for name in ("empCode", "firstName", "surname")
            if not isinstance(body.get(name), str) or not body[name].strip()
        ]
        code = body.get("empCode")
        if isinstance(code, str) and (
            code in self._employees
            or any(p["record"]["empCode"] == code and p["status"] != "Rejected" for p in self._new_employees.values())
        ):
            errors.append({"field": "empCode", "message": "empCode is already in use"})
        if errors:
            raise HttpError(400, "The request is invalid", extra={"errors": errors})
        pending_id = f"NE{self._next_status:06d}"
        self._next_status += 1
        self._new_employees[pending_id] = {"pendingId": pending_id, "status": "Pending", "reason": None, "record": body}
        return Response(202, {"pendingId": pending_id, "status": "Pending"})

    @route("GET", "/api/NewEmployee/{pendingId}")
    def new_employee_status(self, request: Request) -> Any:
        entry = self._new_employees.get(request.path_params["pendingId"])
        if entry is None:
            raise HttpError(404, "No such new employee")
        return {**{k: entry[k] for k in ("pendingId", "status", "reason")}, "empCode": entry["record"]["empCode"]}

    @route("GET", "/_sandbox/new-employees")
    def _control_new_employees(self, request: Request) -> Any:
        return list(self._new_employees.values())

    @route("POST", "/_sandbox/new-employees/{pendingId}")
    def _control_accept(self, request: Request) -> Any:
        entry = self._new_employees.get(request.path_params["pendingId"])
        if entry is None:
            raise HttpError(404, "No such new employee")
        body = request.json()
        decision = body.get("decision") if isinstance(body, dict) else None
        if decision not in ("accept", "reject"):
            raise HttpError(400, "decision must be accept or reject")
        if entry["status"] != "Pending":
            raise HttpError(409, f"new employee is already {entry['status']}")
        if decision == "accept":
            record = {k: v for k, v in entry["record"].items() if v is not None}
            self._employees[record["empCode"]] = record
            self._changed_at[record["empCode"]] = _now()
            entry["status"] = "Accepted"
        else:
            entry["status"], entry["reason"] = "Rejected", body.get("reason")
        return entry

    @route("POST", "/api/LeaveRequest")
    def record_leave(self, request: Request) -> Any:
        body = request.json()
        if not isinstance(body, dict):
            raise HttpError(400, "The request body must be a JSON object")
        names = ("empCode", "externalId", "leaveCategory", "startDate", "endDate", "hours")
        errors = [{"field": n, "message": f"{n} is required"} for n in names if not isinstance(body.get(n), str)]
        if errors:
            raise HttpError(400, "The request is invalid", extra={"errors": errors})
        self._require(body["empCode"])
        for leave in self._leave.values():
            if leave["externalId"] == body["externalId"] and leave["status"] == "Recorded":
                return {"leaveId": leave["leaveId"]}
        leave_id = f"LV{self._next_status:06d}"
        self._next_status += 1
        self._leave[leave_id] = {**{n: body[n] for n in names}, "leaveId": leave_id, "status": "Recorded"}
        return Response(201, {"leaveId": leave_id})

    @route("DELETE", "/api/LeaveRequest/{leaveId}")
    def cancel_leave(self, request: Request) -> Any:
        leave = self._leave.get(request.path_params["leaveId"])
        if leave is None or leave["status"] != "Recorded":
            raise HttpError(404, "No such leave")
        leave["status"] = "Cancelled"
        return {"leaveId": leave["leaveId"], "status": "Cancelled"}

    @route("GET", "/api/LeaveBalances")
    def leave_balances(self, request: Request) -> Any:
        code = request.param("empCode") or ""
        self._require(code)
        return [{"leaveCategory": c, "hours": h} for c, h in sorted(self._balances.get(code, {}).items())]

    @route("GET", "/_sandbox/leave")
    def _control_leave(self, request: Request) -> Any:
        return list(self._leave.values())

    @route("PUT", "/_sandbox/leave-balances")
    def _control_put_balances(self, request: Request) -> Any:
        body = request.json()
        if not isinstance(body, dict) or not all(isinstance(v, dict) for v in body.values()):
            raise HttpError(400, "body must be {empCode: {category: hours}}")
        self._balances = {code: {c: str(h) for c, h in v.items()} for code, v in body.items()}
        return self._balances

    @route("GET", "/_sandbox/leave-balances")
    def _control_get_balances(self, request: Request) -> Any:
        return self._balances

    @route("GET", "/api/ChangeEmployee/{statusId}")
    def change_status(self, request: Request) -> Any:
        approval = self._approvals.get(request.path_params["statusId"])
        if approval is None:
            raise HttpError(404, "No such change")
        return {k: approval[k] for k in ("statusId", "status", "reason")}

    # --- control surface beyond the shared one -------------------------------------------------------------
    @route("PATCH", "/_sandbox/records/{empCode}")
    def _control_edit(self, request: Request) -> Any:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("changes"), dict):
            raise HttpError(400, "body must be {changes: {...}, changeFeed: true|false}")
        code = request.path_params["empCode"]
        self._require(code).update(body["changes"])
        if body.get("changeFeed", True):
            self._changed_at[code] = _now()
        return self._employees[code]

    @route("DELETE", "/_sandbox/records/{empCode}")
    def _control_delete(self, request: Request) -> Any:
        code = request.path_params["empCode"]
        employee = self._require(code)
        del self._employees[code]
        self._changed_at.pop(code, None)
        entry = {"empId": employee.get("empId"), "empCode": code, "deletedDate": self.today().isoformat()}
        self._deleted.append(entry)
        return entry

    @route("GET", "/_sandbox/approvals")
    def _control_approvals(self, request: Request) -> Any:
        return list(self._approvals.values())

    @route("POST", "/_sandbox/approvals/{statusId}")
    def _control_decide(self, request: Request) -> Any:
        approval = self._approvals.get(request.path_params["statusId"])
        if approval is None:
            raise HttpError(404, "No such change")
        body = request.json()
        decision = body.get("decision") if isinstance(body, dict) else None
        if decision not in ("approve", "reject"):
            raise HttpError(400, "decision must be approve or reject")
        if approval["status"] != "Pending":
            raise HttpError(409, f"change is already {approval['status']}")
        if decision == "approve":
            self._apply(approval["empCode"], approval["changes"])
            approval["status"] = "Approved"
        else:
            approval["status"] = "Rejected"
            approval["reason"] = body.get("reason")
        return approval

    # --- helpers -----------------------------------------------------------------------------------------
    def _require(self, code: str) -> dict[str, Any]:
        employee = self._employees.get(code)
        if employee is None:
            raise HttpError(404, "Employee not found")
        return employee

    def _apply(self, code: str, changes: dict[str, Any]) -> None:
        self._require(code).update(changes)
        self._changed_at[code] = _now()  # the payroll's change table records every applied change

    def _change_body(self, request: Request, *, immediate: bool) -> tuple[str, dict[str, Any]]:
        body = request.json()
        if not isinstance(body, dict):
            raise HttpError(400, "The request body must be a JSON object")
        code = body.get("empCode")
        changes = body.get("changes")
        errors: list[dict[str, str]] = []
        if not isinstance(code, str) or not code:
            errors.append({"field": "empCode", "message": "empCode is required"})
        if not isinstance(changes, dict) or not changes:
            errors.append({"field": "changes", "message": "changes must be a non-empty object"})
            changes = {}
        allowed = IMMEDIATE_FIELDS if immediate else (*IMMEDIATE_FIELDS, *PAY_FIELDS)
        for name, value in changes.items():
            if immediate and name in PAY_FIELDS:
                errors.append({"field": name, "message": f"{name} affects pay: use ChangeEmployee"})
            elif name not in allowed:
                errors.append({"field": name, "message": f"{name} cannot be changed through the API"})
            elif name == "bankAccounts":
                errors.extend(self._bank_errors(value))
            elif name == "taxDetails":
                if not isinstance(value, dict):
                    errors.append({"field": name, "message": "taxDetails must be an object"})
            elif value is not None and (not isinstance(value, str) or len(value) > 120):
                errors.append({"field": name, "message": f"{name} must be text of at most 120 characters, or null"})
        if errors:
            raise HttpError(400, "The request is invalid", extra={"errors": errors})
        assert isinstance(code, str)
        self._require(code)
        return code, changes

    @staticmethod
    def _bank_errors(accounts: Any) -> list[dict[str, str]]:
        if not isinstance(accounts, list) or not accounts:
            return [{"field": "bankAccounts", "message": "bankAccounts must be a non-empty array"}]
        errors = []
        balance = 0
        for i, account in enumerate(accounts):
            where = f"bankAccounts[{i}]"
            if not isinstance(account, dict):
                errors.append({"field": where, "message": "must be an object"})
                continue
            if not isinstance(account.get("bsbCode"), str) or not _BSB.match(account["bsbCode"]):
                errors.append({"field": f"{where}.bsbCode", "message": "BSB must look like 123-456"})
            if not isinstance(account.get("accountNumber"), str) or not account["accountNumber"].strip():
                errors.append({"field": f"{where}.accountNumber", "message": "accountNumber is required"})
            if account.get("balanceOfPay"):
                balance += 1
            else:
                amount = account.get("payAmount")
                try:
                    ok = amount is not None and Decimal(str(amount)) >= 0
                except InvalidOperation:
                    ok = False
                if not ok:
                    errors.append(
                        {"field": f"{where}.payAmount", "message": "a fixed amount is required (no percentages)"}
                    )
        if balance != 1:
            errors.append({"field": "bankAccounts", "message": "exactly one account must take the balance of pay"})
        return errors

    # --- command line ------------------------------------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--api-key", default=DEFAULT_API_KEY)
        parser.add_argument("--username", default=DEFAULT_USERNAME)
        parser.add_argument("--password", default=DEFAULT_PASSWORD)

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> Self:
        return cls(api_key=args.api_key, username=args.username, password=args.password, port=args.port)


def main(argv: Sequence[str] | None = None) -> int:
    return MicrOpaySimulator.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
