"""Simulated ExpenseIn user API, as the target of a sync.

ExpenseIn publishes no machine-readable API description. What is known (base path `/1.0`, header
`Authorization: ApiKey <key>`, `GET /users`, a user's first and last name, email, optional Reference,
department matched by its reference, bank details, a leave date after which the user leaves the active list,
"include leavers", an admin-assigned approval flow and expense policy, an invited state) is modelled here.
ALL JSON FIELD NAMES, QUERY PARAMETERS, STATUS CODES AND ERROR BODIES BELOW ARE PROVISIONAL: they are the
simulator's own choices, to be replaced when the real API is known.

The client's base URL is `<simulator url>/1.0`.

- User: `{id, firstName, lastName, email, reference, department, bankDetails {accountName, accountNumber,
  sortCode} | null, leaveDate, isActive, invited, approvalFlow, expensePolicy}`. `department` is a department
  reference or null. `isActive` is derived: false once `leaveDate` is today or earlier. Ids are strings
  assigned on create ("u-000001", ...); `approvalFlow` and `expensePolicy` can only be set by loading records.
- `GET /1.0/users?page=1&pageSize=100&includeLeavers=false&reference=&email=` -> `{items, page, pageSize,
  totalItems}`; page is 1-based; pageSize 1..500 (more is a 400); without includeLeavers=true only active
  users; `reference` matches exactly, `email` case-insensitively.
- `GET /1.0/users/{id}`; `POST /1.0/users` (201, plus `sendInvitation`); `PATCH /1.0/users/{id}` (partial; a
  leaver is `{"leaveDate": "YYYY-MM-DD"}`). Users are never deleted: DELETE answers 405.
- Validation errors: 400 `{"message", "errors": [{"field", "message"}]}`. A second user with the same
  non-empty reference, or the same email ignoring case, is a 409 `{"message"}`.
- `GET /1.0/departments` -> `{"items": [{reference, name}]}`.

Records loaded through `PUT /_sandbox/records` are kept as given (so duplicate references or emails can be
staged); missing fields are filled with defaults and a record without an id gets one.
"""

from __future__ import annotations

import argparse
import hmac
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Self

from sandbox.simulators.base import HttpError, Request, Response, Simulator, route

DEFAULT_API_KEY = "sandbox-expensein-api-key"
API_PREFIX = "/1.0"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
MAX_TEXT_LENGTH = 100

USER_FIELDS = (
    "id",
    "firstName",
    "lastName",
    "email",
    "reference",
    "department",
    "bankDetails",
    "leaveDate",
    "isActive",
    "invited",
    "approvalFlow",
    "expensePolicy",
)
WRITABLE_FIELDS = ("firstName", "lastName", "email", "reference", "department", "bankDetails", "leaveDate")
REQUIRED_FIELDS = ("firstName", "lastName", "email")
BANK_FIELDS = ("accountName", "accountNumber", "sortCode")
ADMIN_ONLY_FIELDS = ("approvalFlow", "expensePolicy")
READ_ONLY_FIELDS = ("id", "isActive", "invited")

_Fail = Callable[[str, str], None]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _blank_user() -> dict[str, Any]:
    """A stored user with every field present; isActive is left out because it is derived when served."""
    return {name: None for name in USER_FIELDS if name != "isActive"} | {"invited": False}


class ExpenseInSimulator(Simulator):
    """ExpenseIn's users and departments, as the target system of a sync (field names provisional)."""

    display_name = "ExpenseIn"
    default_port = 8102

    def __init__(self, api_key: str = DEFAULT_API_KEY, *, port: int = 0) -> None:
        super().__init__(port=port)
        self.api_key = api_key
        self._users: dict[str, dict[str, Any]] = {}
        # user ids by reference and by lower-cased email, so a create checks uniqueness without a scan
        self._holders: dict[tuple[str, str], set[str]] = {}
        self._departments: list[dict[str, Any]] = []
        self._next_id = 1

    # --- state hooks -------------------------------------------------------------------------------------
    def clear_state(self) -> None:
        self._users, self._departments, self._next_id = {}, [], 1
        self._holders = {}

    def _keys(self, user: dict[str, Any]) -> list[tuple[str, str]]:
        """What makes a user unique: its reference, and its email in any letters' case."""
        found = []
        if isinstance(user.get("reference"), str) and user["reference"]:
            found.append(("reference", user["reference"]))
        if isinstance(user.get("email"), str):
            found.append(("email", user["email"].lower()))
        return found

    def _index(self, user: dict[str, Any]) -> None:
        for key in self._keys(user):
            self._holders.setdefault(key, set()).add(user["id"])

    def _unindex(self, user: dict[str, Any]) -> None:
        for key in self._keys(user):
            self._holders.get(key, set()).discard(user["id"])

    def load_records(self, records: list[Any]) -> None:
        given: set[str] = set()
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise HttpError(400, f"record {index} is not a JSON object", extra={"index": index})
            user_id = record.get("id")
            if user_id is None:
                continue
            if not isinstance(user_id, str) or not user_id.strip():
                raise HttpError(400, f"record {index} has an id that is not a string", extra={"index": index})
            if user_id in given:
                raise HttpError(400, f"record {index} repeats id {user_id}", extra={"index": index})
            given.add(user_id)
        self._users, self._next_id, self._holders = {}, 1, {}
        for record in records:
            user = _blank_user() | {name: value for name, value in record.items() if name != "isActive"}
            if user["id"] is None:
                user["id"] = self._new_id(reserved=given)
            self._users[user["id"]] = user
            self._index(user)

    def dump_records(self) -> list[Any]:
        return [self._render(user) for user in self._users.values()]

    def load_departments(self, departments: list[Any]) -> None:
        seen: set[str] = set()
        for index, department in enumerate(departments):
            reference = department.get("reference") if isinstance(department, dict) else None
            if not isinstance(reference, str) or not reference.strip():
                raise HttpError(400, f"department {index} needs a non-empty reference", extra={"index": index})
            if reference in seen:
                raise HttpError(400, f"department {index} repeats reference {reference}", extra={"index": index})
            seen.add(reference)
        self._departments = [
            {"reference": department["reference"], "name": department.get("name")} for department in departments
        ]

    def dump_departments(self) -> list[Any]:
        return [dict(department) for department in self._departments]

    def is_authorized(self, request: Request) -> bool:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "apikey" and hmac.compare_digest(key.strip().encode(), self.api_key.encode())

    def unauthorized(self) -> Response:
        return Response(401, {"message": "Missing or invalid API key"})

    # --- vendor routes -----------------------------------------------------------------------------------
    @route("GET", API_PREFIX + "/users")
    def list_users(self, request: Request) -> Any:
        page = request.int_param("page", 1, minimum=1)
        page_size = request.int_param("pageSize", DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)
        include_leavers = request.bool_param("includeLeavers", False)
        reference = request.param("reference")
        email = request.param("email")
        users = [
            user
            for user in self._users.values()
            if (include_leavers or self._active(user))
            and (reference is None or user.get("reference") == reference)
            and (email is None or (isinstance(user.get("email"), str) and user["email"].lower() == email.lower()))
        ]
        start = (page - 1) * page_size
        return {
            "items": [self._render(user) for user in users[start : start + page_size]],
            "page": page,
            "pageSize": page_size,
            "totalItems": len(users),
        }

    @route("GET", API_PREFIX + "/users/{id}")
    def get_user(self, request: Request) -> Any:
        return self._render(self._require_user(request))

    @route("POST", API_PREFIX + "/users")
    def create_user(self, request: Request) -> Any:
        body = request.json()
        changes = self._validated(body, creating=True)
        self._require_unique(changes, exclude=None)
        user = _blank_user() | changes
        user["id"] = self._new_id()
        self._users[user["id"]] = user
        self._index(user)
        return Response(201, self._render(user), {"Location": f"{API_PREFIX}/users/{user['id']}"})

    @route("PATCH", API_PREFIX + "/users/{id}")
    def update_user(self, request: Request) -> Any:
        user = self._require_user(request)
        changes = self._validated(request.json(), creating=False)
        self._require_unique({**user, **changes}, exclude=user["id"])
        self._unindex(user)
        user.update(changes)
        self._index(user)
        return self._render(user)

    @route("GET", API_PREFIX + "/departments")
    def list_departments(self, request: Request) -> Any:
        return {"items": self.dump_departments()}

    # --- helpers -----------------------------------------------------------------------------------------
    def _new_id(self, reserved: set[str] | None = None) -> str:
        while True:
            candidate = f"u-{self._next_id:06d}"
            self._next_id += 1
            if candidate not in self._users and candidate not in (reserved or ()):
                return candidate

    def _require_user(self, request: Request) -> dict[str, Any]:
        user = self._users.get(request.path_params["id"])
        if user is None:
            raise HttpError(404, "User not found")
        return user

    def _active(self, user: dict[str, Any]) -> bool:
        leave_date = _parse_date(user.get("leaveDate"))
        return leave_date is None or leave_date > self.today()

    def _render(self, user: dict[str, Any]) -> dict[str, Any]:
        rendered = {name: user.get(name) for name in USER_FIELDS}
        rendered["isActive"] = self._active(user)
        return rendered | {name: value for name, value in user.items() if name not in rendered}

    def _validated(self, body: Any, *, creating: bool) -> dict[str, Any]:
        """The writable fields of a create or patch body; every problem is reported at once as a 400."""
        if not isinstance(body, dict):
            raise HttpError(400, "The request body must be a JSON object")
        errors: list[dict[str, str]] = []

        def fail(name: str, message: str) -> None:
            errors.append({"field": name, "message": message})

        accepted = (*WRITABLE_FIELDS, "sendInvitation") if creating else WRITABLE_FIELDS
        for name in body:
            if name in ADMIN_ONLY_FIELDS:
                fail(name, f"{name} is assigned by an administrator and cannot be set through the API")
            elif name in READ_ONLY_FIELDS:
                fail(name, f"{name} is read-only")
            elif name not in accepted:
                fail(name, f"{name} is not a recognised field")
        for name in REQUIRED_FIELDS:
            if name in body or creating:
                self._check_text(body.get(name), name, fail, required=True)
        email = body.get("email")
        if isinstance(email, str) and email.strip() and not _EMAIL.match(email.strip()):
            fail("email", "email is not a valid email address")
        if "reference" in body:
            self._check_text(body["reference"], "reference", fail, required=False)
        if "department" in body:
            self._check_department(body["department"], fail)
        if "bankDetails" in body:
            self._check_bank_details(body["bankDetails"], fail)
        leave_date = body.get("leaveDate")
        if leave_date is not None and _parse_date(leave_date) is None:
            fail("leaveDate", "leaveDate must be a date in the form YYYY-MM-DD, or null")
        send_invitation = body.get("sendInvitation", False)
        if creating and not isinstance(send_invitation, bool):
            fail("sendInvitation", "sendInvitation must be true or false")
        if errors:
            raise HttpError(400, "The request is invalid", extra={"errors": errors})
        changes = {name: body[name] for name in WRITABLE_FIELDS if name in body}
        if isinstance(changes.get("bankDetails"), dict):
            changes["bankDetails"] = {name: changes["bankDetails"].get(name) for name in BANK_FIELDS}
        if creating:
            changes["invited"] = send_invitation
        return changes

    @staticmethod
    def _check_text(value: Any, name: str, fail: _Fail, *, required: bool) -> None:
        if value is None and not required:
            return
        if required and (value is None or (isinstance(value, str) and not value.strip())):
            fail(name, f"{name} is required")
        elif not isinstance(value, str):
            fail(name, f"{name} must be text" if required else f"{name} must be text or null")
        elif len(value) > MAX_TEXT_LENGTH:
            fail(name, f"{name} must be at most {MAX_TEXT_LENGTH} characters")

    def _check_department(self, value: Any, fail: _Fail) -> None:
        if value is not None and value not in {department["reference"] for department in self._departments}:
            fail("department", f"department {value!r} is not an existing department reference")

    @staticmethod
    def _check_bank_details(value: Any, fail: _Fail) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            fail("bankDetails", "bankDetails must be an object or null")
            return
        for name, item in value.items():
            field = f"bankDetails.{name}"
            if name not in BANK_FIELDS:
                fail(field, f"{field} is not a recognised field")
            elif item is not None and (not isinstance(item, str) or len(item) > MAX_TEXT_LENGTH):
                fail(field, f"{field} must be text of at most {MAX_TEXT_LENGTH} characters, or null")

    def _require_unique(self, candidate: dict[str, Any], *, exclude: str | None) -> None:
        for kind, value in self._keys(candidate):
            if self._holders.get((kind, value), set()) - {exclude}:
                raise HttpError(409, f"A user with this {kind} already exists")

    # --- command line ------------------------------------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--api-key", default=DEFAULT_API_KEY)

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> Self:
        return cls(api_key=args.api_key, port=args.port)


def main(argv: Sequence[str] | None = None) -> int:
    return ExpenseInSimulator.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
