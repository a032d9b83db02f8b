"""Simulated Access ESS (MicrOpay's employee self service): members keyed by employee code, and member edits.

Documented (../shared/specs/vendor-notes.md): a Member per employee keyed by employee code; an administrator's
Activation Report lists members with their codes; some fields come from payroll only when the member is created,
after which the member edits them and ESS uploads them to payroll. ALL PATHS, JSON NAMES AND STATUS CODES BELOW
ARE PROVISIONAL (the simulator's own choices, shared with hrsync/systems/access_ess.py):

- Header `X-Api-Key`.
- Member: `{memberId, employeeCode, firstName, surname, email, phone, address {street, suburb, state, postcode,
  country}, emergencyContact {name, phone}, bankAccounts [{bsb, accountNumber, accountName, amount, balanceOfPay,
  order}], gender, location, payPoint, payFrequency, jobClassification, costAccount, superFund, startDate,
  terminationDate, active}`; ids assigned on create ("m-000001", ...).
- `GET /api/members?page=1&pageSize=100&employeeCode=&email=` -> `{items, page, pageSize, total}`, inactive
  members included; `GET /api/members/{id}`; `POST /api/members` (201; 409 when an active member holds the
  code); `PATCH /api/members/{id}`; members are never deleted (DELETE answers 405).
- `GET /api/members/changes?since=` -> `{items: [{changeId, memberId, employeeCode, fields, changedAt}]}`: the
  fields members edited themselves (writes through the API are not member edits).

Control surface beyond the shared one: `POST /_sandbox/members/{memberId}/edit` `{...member fields}` is a member
editing their profile in the ESS app (recorded as a member change); `GET /_sandbox/changes` lists them. Members
loaded through `PUT /_sandbox/records` are kept as given, so duplicate codes can be staged. `/_sandbox/departments`
is accepted and ignored by the API (ESS takes payroll's codes).
"""

from __future__ import annotations

import argparse
import hmac
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Self

from sandbox.simulators.base import HttpError, Request, Response, Simulator, route

DEFAULT_API_KEY = "sandbox-access-ess-api-key"
MAX_PAGE_SIZE = 500
MEMBER_FIELDS = (
    "memberId",
    "employeeCode",
    "firstName",
    "surname",
    "email",
    "phone",
    "address",
    "emergencyContact",
    "bankAccounts",
    "gender",
    "location",
    "payPoint",
    "payFrequency",
    "jobClassification",
    "costAccount",
    "superFund",
    "startDate",
    "terminationDate",
    "active",
)
TEXT_FIELDS = (
    "employeeCode",
    "firstName",
    "surname",
    "email",
    "phone",
    "gender",
    "location",
    "payPoint",
    "payFrequency",
    "jobClassification",
    "costAccount",
    "superFund",
)
OBJECT_FIELDS = ("address", "emergencyContact")
PROFILE_FIELDS = ("email", "phone", "address", "emergencyContact", "bankAccounts")


def _blank() -> dict[str, Any]:
    return {name: None for name in MEMBER_FIELDS} | {"active": True}


class AccessEssSimulator(Simulator):
    """Access ESS members and the edits members make (all names provisional)."""

    display_name = "Access ESS"
    default_port = 8104

    def __init__(self, api_key: str = DEFAULT_API_KEY, *, port: int = 0) -> None:
        super().__init__(port=port)
        self.api_key = api_key
        self._members: dict[str, dict[str, Any]] = {}
        self._changes: list[dict[str, Any]] = []
        self._departments: list[Any] = []
        self._next_id = 1

    # --- state hooks -------------------------------------------------------------------------------------
    def clear_state(self) -> None:
        self._members, self._changes, self._departments, self._next_id = {}, [], [], 1

    def load_records(self, records: list[Any]) -> None:
        members: dict[str, dict[str, Any]] = {}
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise HttpError(400, f"record {index} is not a JSON object", extra={"index": index})
            member_id = record.get("memberId")
            if member_id is not None and (not isinstance(member_id, str) or member_id in members):
                raise HttpError(400, f"record {index} has a bad or repeated memberId", extra={"index": index})
        self._members, self._changes, self._next_id = {}, [], 1
        for record in records:
            member = _blank() | record
            if member["memberId"] is None:
                member["memberId"] = self._new_id(reserved={r.get("memberId") for r in records})
            members[member["memberId"]] = member
        self._members = members

    def dump_records(self) -> list[Any]:
        return [dict(m) for m in self._members.values()]

    def load_departments(self, departments: list[Any]) -> None:
        self._departments = list(departments)

    def dump_departments(self) -> list[Any]:
        return list(self._departments)

    def is_authorized(self, request: Request) -> bool:
        return hmac.compare_digest(request.headers.get("X-Api-Key", "").encode(), self.api_key.encode())

    # --- vendor routes -----------------------------------------------------------------------------------
    @route("GET", "/api/members")
    def list_members(self, request: Request) -> Any:
        page = request.int_param("page", 1, minimum=1)
        page_size = request.int_param("pageSize", 100, minimum=1, maximum=MAX_PAGE_SIZE)
        code = request.param("employeeCode")
        email = request.param("email")
        chosen = [
            m
            for m in self._members.values()
            if (code is None or m.get("employeeCode") == code)
            and (email is None or (isinstance(m.get("email"), str) and m["email"].lower() == email.lower()))
        ]
        start = (page - 1) * page_size
        return {"items": chosen[start : start + page_size], "page": page, "pageSize": page_size, "total": len(chosen)}

    @route("GET", "/api/members/changes")
    def member_changes(self, request: Request) -> Any:
        since = request.datetime_param("since")
        items = [c for c in self._changes if since is None or datetime.fromisoformat(c["changedAt"]) >= since]
        return {"items": items}

    @route("GET", "/api/members/{id}")
    def get_member(self, request: Request) -> Any:
        return self._require(request.path_params["id"])

    @route("POST", "/api/members")
    def create_member(self, request: Request) -> Any:
        changes = self._validated(request.json(), creating=True)
        self._require_free_code(changes.get("employeeCode"), exclude=None)
        member = _blank() | changes
        member["memberId"] = self._new_id()
        self._members[member["memberId"]] = member
        return Response(201, member)

    @route("PATCH", "/api/members/{id}")
    def update_member(self, request: Request) -> Any:
        member = self._require(request.path_params["id"])
        changes = self._validated(request.json(), creating=False)
        if "employeeCode" in changes:
            self._require_free_code(changes["employeeCode"], exclude=member["memberId"])
        member.update(changes)
        return member

    # --- control surface beyond the shared one -------------------------------------------------------------
    @route("POST", "/_sandbox/members/{id}/edit")
    def _control_member_edit(self, request: Request) -> Any:
        member = self._require(request.path_params["id"])
        body = request.json()
        if not isinstance(body, dict) or not body or any(k not in PROFILE_FIELDS for k in body):
            raise HttpError(400, f"a member edits only {', '.join(PROFILE_FIELDS)}")
        member.update(body)
        change = {
            "changeId": len(self._changes) + 1,
            "memberId": member["memberId"],
            "employeeCode": member.get("employeeCode"),
            "fields": sorted(body),
            "changedAt": datetime.now(UTC).isoformat(),
        }
        self._changes.append(change)
        return change

    @route("GET", "/_sandbox/changes")
    def _control_changes(self, request: Request) -> Any:
        return list(self._changes)

    # --- helpers -----------------------------------------------------------------------------------------
    def _new_id(self, reserved: set[Any] | None = None) -> str:
        while True:
            candidate = f"m-{self._next_id:06d}"
            self._next_id += 1
            if candidate not in self._members and candidate not in (reserved or set()):
                return candidate

    def _require(self, member_id: str) -> dict[str, Any]:
        member = self._members.get(member_id)
        if member is None:
            raise HttpError(404, "Member not found")
        return member

    def _require_free_code(self, code: Any, *, exclude: str | None) -> None:
        if any(
            m["memberId"] != exclude and m.get("employeeCode") == code and m.get("active") is not False
            for m in self._members.values()
        ):
            raise HttpError(409, "An active member already holds this employee code")

    def _validated(self, body: Any, *, creating: bool) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise HttpError(400, "The request body must be a JSON object")
        errors: list[dict[str, str]] = []
        for name, value in body.items():
            if name not in MEMBER_FIELDS or name == "memberId":
                errors.append({"field": name, "message": f"{name} is not a writable field"})
            elif name in TEXT_FIELDS and value is not None and (not isinstance(value, str) or len(value) > 120):
                errors.append({"field": name, "message": f"{name} must be text of at most 120 characters"})
            elif name in OBJECT_FIELDS and value is not None and not isinstance(value, dict):
                errors.append({"field": name, "message": f"{name} must be an object or null"})
            elif name == "bankAccounts" and value is not None and not isinstance(value, list):
                errors.append({"field": name, "message": "bankAccounts must be an array or null"})
            elif name in ("startDate", "terminationDate") and value is not None:
                try:
                    date.fromisoformat(value)
                except (TypeError, ValueError):
                    errors.append({"field": name, "message": f"{name} must be YYYY-MM-DD or null"})
            elif name == "active" and not isinstance(value, bool):
                errors.append({"field": name, "message": "active must be true or false"})
        if creating:
            for name in ("employeeCode", "firstName", "surname"):
                if not isinstance(body.get(name), str) or not body[name].strip():
                    errors.append({"field": name, "message": f"{name} is required"})
        if errors:
            raise HttpError(400, "The request is invalid", extra={"errors": errors})
        return dict(body)

    # --- command line ------------------------------------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--api-key", default=DEFAULT_API_KEY)

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> Self:
        return cls(api_key=args.api_key, port=args.port)


def main(argv: Sequence[str] | None = None) -> int:
    return AccessEssSimulator.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
