"""A SCIM 2.0 service provider (RFC 7643 resources, RFC 7644 protocol) as a target: the benefits platform,
or any app that provisions users over SCIM.

Built on scim2-models (the pydantic models of RFC 7643/7644) and scim2-client. scim2-client's requests go
through hrsync's shared httpx client (`systems/http.py`), so a SCIM target gets the same timeouts, retries
(429 with Retry-After, 5xx, timeouts), deadline and rate budget as every other adapter.

- Users: `GET /Users?startIndex=&count=` (ListResponse; startIndex is 1-based), `GET /Users?filter=emails.value
  eq "..."`, `POST /Users`, `GET` + `PUT /Users/{id}` for an update (what the platform holds beyond hrsync's
  fields is kept), `PATCH /Users/{id}` to deactivate a leaver (`active: false`). Users are never deleted.
- Bearer-token auth (`Authorization: Bearer <api_key>`); media type `application/scim+json`.
- `externalId` is hrsync's stable id for the employee (the source system's employee id); the enterprise
  extension carries `employeeNumber` (payroll code), `department` and `costCenter`; `userName` is the email
  when hrsync creates the account and is never changed by hrsync afterwards.
- SCIM errors become per-employee reasons: 409 uniqueness, 400 invalidValue (and other 4xx) are refusals
  (the employee FAILED with the reason), 404 on a linked account says the account is gone.

PROVISIONAL (hrsync's own schema, not from a published spec): the extension
`urn:hrsync:params:scim:schemas:extension:benefits:2.0:User` with `benefitsLevel` and `leaveDate`
(YYYY-MM-DD): the benefits platform's level and a leaver's leave date have no attribute in RFC 7643.
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import httpx
from pydantic import ValidationError
from scim2_client.client import BaseSyncSCIMClient
from scim2_client.errors import SCIMClientException
from scim2_models import (
    URN,
    Email,
    EnterpriseUser,
    Extension,
    Name,
    PatchOp,
    PatchOperation,
    ResourceType,
    SCIMException,
    ScimProvider,
    SearchRequest,
    User,
)

from hrsync.errors import (
    AuthenticationError,
    ExternalSystemError,
    RejectedBySystemError,
    TransientSystemError,
)
from hrsync.models.employee import Department, Employee, EmploymentStatus, Listing, RecordRejection
from hrsync.observability import redact
from hrsync.systems.http import RateBudget, RetryPolicy, build_client, request_with_retries
from hrsync.systems.mapping import clean_text, id_of, rejection_from

NAME = "Benefits platform"
PAGE_SIZE = 100
MAX_PAGES = 10_000
BENEFITS_SCHEMA = "urn:hrsync:params:scim:schemas:extension:benefits:2.0:User"  # provisional
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


class BenefitsUser(Extension):
    """hrsync's extension for what RFC 7643 has no attribute for (provisional)."""

    __schema__ = URN(BENEFITS_SCHEMA)

    benefits_level: str | None = None
    """The employee's benefits level on the platform."""

    leave_date: str | None = None
    """A leaver's last day, YYYY-MM-DD."""


ScimUser = User[EnterpriseUser | BenefitsUser]
USER_RESOURCE_TYPE = ResourceType.from_resource(ScimUser)


def scim_provider() -> ScimProvider:
    """What hrsync expects of a SCIM service: Users with the enterprise and benefits extensions."""
    return ScimProvider(models=[User, EnterpriseUser, BenefitsUser], resource_types=[USER_RESOURCE_TYPE])


# ------------------------------------------------------------------------------------------ pure mapping
def _primary_email(user: User[Any]) -> str | None:
    emails = user.emails or []
    chosen = next((e for e in emails if e.primary), emails[0] if emails else None)
    return clean_text(chosen.value) if chosen and chosen.value else None


def _raw_keys(raw: dict[str, Any]) -> dict[str, str]:
    """The match keys of a resource that failed validation, so nothing is created over it."""
    keys: dict[str, str] = {}
    emails = raw.get("emails")
    if isinstance(emails, list):
        for entry in emails:
            if isinstance(entry, dict) and isinstance(entry.get("value"), str) and entry["value"].strip():
                keys["email"] = entry["value"].strip()
                break
    return keys


def _leave_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def employee_from_scim(raw: object, *, position: str = "user") -> Employee | RecordRejection:
    """Map one SCIM User resource to the canonical Employee; a bad resource names its field, never the value."""
    if not isinstance(raw, dict):
        return RecordRejection(record_id=None, position=position, field="(record)", reason="not a JSON object")
    record_id = id_of(raw)
    try:
        user = ScimUser.model_validate(raw)
    except ValidationError as exc:
        return rejection_from(exc, record_id=record_id, position=position, keys=_raw_keys(raw))
    if not user.id:
        return RecordRejection(record_id=None, position=position, field="id", reason="missing", keys=_raw_keys(raw))
    enterprise = user[EnterpriseUser] or EnterpriseUser()
    benefits = user[BenefitsUser] or BenefitsUser()
    name = user.name or Name()
    return Employee(
        id=user.id,
        code=clean_text(enterprise.employee_number),
        first_name=clean_text(name.given_name),
        last_name=clean_text(name.family_name),
        email=_primary_email(user),
        department_code=clean_text(enterprise.department),
        cost_centre=clean_text(enterprise.cost_center),
        benefits_level=clean_text(benefits.benefits_level),
        external_id=clean_text(user.external_id),
        status=EmploymentStatus.FORMER if user.active is False else EmploymentStatus.CURRENT,
        leave_date=_leave_date(benefits.leave_date),
    )


def apply_fields(user: User[Any], employee: Employee, fields: tuple[str, ...] | list[str]) -> None:
    """Set the named canonical fields of a source `employee` on a SCIM user, leaving its other attributes alone."""
    enterprise = user[EnterpriseUser] or EnterpriseUser()
    benefits = user[BenefitsUser] or BenefitsUser()
    for field in fields:
        if field in ("first_name", "last_name"):
            name = user.name or Name()
            name.given_name, name.family_name = employee.first_name, employee.last_name
            name.formatted = " ".join(part for part in (employee.first_name, employee.last_name) if part) or None
            user.name = name
            user.display_name = name.formatted
        elif field == "email":
            user.emails = _with_primary_email(user.emails or [], employee.email)
        elif field == "code":
            enterprise.employee_number = employee.code
        elif field == "department_code":
            enterprise.department = employee.department_code
        elif field == "cost_centre":
            enterprise.cost_center = employee.cost_centre
        elif field == "benefits_level":
            benefits.benefits_level = employee.benefits_level
        elif field == "external_id":
            user.external_id = employee.id  # `employee` is the source's record: its id is hrsync's stable id
        elif field == "leave_date":
            benefits.leave_date = employee.leave_date.isoformat() if employee.leave_date else None
    user[EnterpriseUser] = enterprise
    user[BenefitsUser] = benefits


def _with_primary_email(emails: list[Email], value: str | None) -> list[Email]:
    """The user's emails with the primary one (else the first) replaced; others are the platform's business."""
    if value is None:
        return [e for e in emails if not e.primary][1:] if emails else []
    index = next((i for i, e in enumerate(emails) if e.primary), 0 if emails else None)
    if index is None:
        return [Email(value=value, type=Email.Type.work, primary=True)]
    updated = list(emails)
    updated[index] = Email(value=value, type=emails[index].type or Email.Type.work, primary=True)
    return updated


def new_user(employee: Employee, fields: tuple[str, ...]) -> User[Any]:
    """The SCIM user hrsync creates: active, userName = email, externalId = hrsync's employee id."""
    user = ScimUser(user_name=employee.email, active=True, external_id=employee.id)
    apply_fields(user, employee, fields)
    return user


def scim_filter_string(value: str) -> str:
    """A string literal for a SCIM filter (RFC 7644 3.4.2.2: JSON string rules)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ------------------------------------------------------------------------------------------ the engine
class _HttpxEngine(BaseSyncSCIMClient):
    """scim2-client over hrsync's httpx client: requests go through the shared retries and rate budget."""

    def __init__(
        self, client: httpx.Client, policy: RetryPolicy, budget: RateBudget | None, system: str, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.client = client
        self._retry = policy
        self._budget = budget
        self._system = system

    def _stays_under_base_url(self, endpoint: str) -> bool:
        base = self.client.base_url
        url = self.client.build_request("GET", endpoint).url
        return (
            url.scheme == base.scheme
            and url.host == base.host
            and url.port == base.port
            and (url.raw_path.startswith(base.raw_path))
        )

    def _parse_json(self, response: Any) -> Any:
        return cast(httpx.Response, response).json()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return request_with_retries(
            self.client, method, url, system=self._system, policy=self._retry, budget=self._budget, **kwargs
        )


class ScimTarget:
    """Users of one SCIM service provider."""

    def __init__(
        self, client: httpx.Client, policy: RetryPolicy, *, name: str = NAME, budget: RateBudget | None = None
    ) -> None:
        self.name = name
        self._http = client
        self._scim = _HttpxEngine(client, policy, budget, name, provider=scim_provider())

    @classmethod
    def connect(
        cls, base_url: str, token: str, policy: RetryPolicy, *, name: str = NAME, budget: RateBudget | None = None
    ) -> ScimTarget:
        client = build_client(base_url, headers={"Authorization": f"Bearer {token}", "Accept": "application/scim+json"})
        return cls(client, policy, name=name, budget=budget)

    def close(self) -> None:
        self._http.close()

    # -- errors ------------------------------------------------------------------------------------------
    def _refusal(self, exc: SCIMException, what: str) -> ExternalSystemError:
        status = int(getattr(exc, "status", 0) or 0)
        scim_type = getattr(exc, "scim_type", None)
        detail = redact(str(getattr(exc, "detail", None) or exc))[:300]
        if status in (401, 403):
            return AuthenticationError(f"{self.name} refused the credentials ({status})")
        if status == 409:
            # the detail of a uniqueness error tends to quote the clashing value: leave it out
            return RejectedBySystemError(
                f"{self.name} refused to {what}: a value that must be unique (such as the login) is already used "
                f"by another account (409 {scim_type or 'uniqueness'})",
                409,
            )
        if status == 412:
            return TransientSystemError(f"{self.name}: the account changed while hrsync updated it (412)")
        if status == 404:
            return RejectedBySystemError(f"{self.name} has no such account (404): cannot {what}", 404)
        if status == 400:
            return RejectedBySystemError(
                f"{self.name} refused a value to {what} (400 {scim_type or 'invalid request'}): {detail}", 400
            )
        if status == 429 or status >= 500:
            return TransientSystemError(f"{self.name} answered {status} to {what}")
        return RejectedBySystemError(f"{self.name} refused to {what} ({status}): {detail}", status or 400)

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except SCIMException as exc:
            raise self._refusal(exc, what) from exc
        except SCIMClientException as exc:
            raise TransientSystemError(
                f"{self.name} answered in a way SCIM does not allow ({type(exc).__name__})"
            ) from exc

    # -- reads -------------------------------------------------------------------------------------------
    def _page(self, params: SearchRequest[Any]) -> dict[str, Any]:
        body = self._call(
            "list accounts",
            lambda: self._scim.query(ScimUser, query_parameters=params, check_response_payload=False),
        )
        if not isinstance(body, dict):
            raise TransientSystemError(f"{self.name} answered a search with something other than a ListResponse")
        return body

    def _users(self, filter_: str | None, listing: Listing) -> None:
        seen: set[str] = set()
        start = 1
        for page in range(1, MAX_PAGES + 1):
            try:
                body = self._page(SearchRequest(filter=filter_, start_index=start, count=PAGE_SIZE))
            except ExternalSystemError as exc:
                listing.mark_incomplete(f"accounts from {start}: {exc}")
                return
            resources = body.get("Resources") or []
            total = body.get("totalResults")
            if not isinstance(resources, list) or not isinstance(total, int):
                listing.mark_incomplete(f"accounts from {start}: not a ListResponse")
                return
            for index, raw in enumerate(resources):
                listing.add(employee_from_scim(raw, position=f"accounts page {page}, item {index}"), seen)
            start += len(resources)
            if not resources or start > total:
                return
        listing.mark_incomplete(f"accounts: more than {MAX_PAGES} pages")

    def list_records(self) -> Listing:
        """Every account, inactive ones included."""
        listing = Listing()
        self._users(None, listing)
        return listing

    def list_departments(self) -> list[Department]:
        """SCIM departments are free text on the user: there is no list to read."""
        return []

    def find(self, *, code: str | None = None, email: str | None = None) -> list[Employee]:
        """Accounts holding an email (emails.value, case-insensitive by RFC 7643) or an employee number."""
        clauses = []
        if email:
            clauses.append(f"emails.value eq {scim_filter_string(email)}")
        if code:
            clauses.append(f"{ENTERPRISE_SCHEMA}:employeeNumber eq {scim_filter_string(code)}")
        listing = Listing()
        self._users(" and ".join(clauses) or None, listing)
        if not listing.complete:
            raise TransientSystemError(listing.incomplete_reason or f"{self.name} accounts could not be read")
        return listing.records

    # -- writes ------------------------------------------------------------------------------------------
    def create(self, employee: Employee, fields: tuple[str, ...]) -> str:
        """Create an active account; returns its id."""
        created = self._call("create the account", lambda: self._scim.create(new_user(employee, fields)))
        account_id = getattr(created, "id", None)
        if not account_id:
            raise ExternalSystemError(f"{self.name} created an account but its answer has no id")
        return str(account_id)

    def _read(self, target_id: str, what: str) -> User[Any]:
        user = self._call(what, lambda: self._scim.query(ScimUser, target_id))
        if not isinstance(user, User):
            raise TransientSystemError(f"{self.name} answered a read of an account with something else")
        return user

    def update(self, target_id: str, employee: Employee, fields: tuple[str, ...]) -> None:
        """Replace the account with the named fields changed (read first: the rest stays as the platform has it)."""
        user = self._read(target_id, "update the account")
        apply_fields(user, employee, fields)
        self._call("update the account", lambda: self._scim.replace(user))

    def mark_leaver(self, target_id: str, leave_date: date) -> None:
        """Deactivate the account (active false) with the leave date; never delete it."""
        patch = PatchOp[ScimUser](
            operations=[
                PatchOperation[ScimUser](op=PatchOperation.Op.replace_, path="active", value=False),
                PatchOperation[ScimUser](
                    op=PatchOperation.Op.replace_, path=f"{BENEFITS_SCHEMA}:leaveDate", value=leave_date.isoformat()
                ),
            ]
        )
        self._call("deactivate the account", lambda: self._scim.modify(ScimUser, target_id, patch))


__all__ = [
    "NAME",
    "BenefitsUser",
    "ScimTarget",
    "ScimUser",
    "apply_fields",
    "employee_from_scim",
    "new_user",
    "scim_provider",
]
