"""The SCIM adapter's requests against RFC 7643's User and enterprise User schemas.

The schemas are `shared/specs/scim/` beside the repository (override the shared folder with HRSYNC_SHARED_DIR).
Every attribute hrsync sends (create, update, deactivate) must be declared by those schemas, be one of the
common attributes of RFC 7643 section 3.1, or sit in hrsync's own (provisional) extension; hrsync never writes
a read-only attribute; finding by email relies on `emails.value` being case-insensitive.
"""

from __future__ import annotations

import json
import os
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from hrsync.models.employee import Employee
from hrsync.systems.http import RetryPolicy
from hrsync.systems.scim import BENEFITS_SCHEMA, ScimTarget

pytestmark = pytest.mark.contract
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
COMMON = {"schemas", "id", "externalId", "meta"}  # RFC 7643 section 3.1
FIELDS = (
    "first_name",
    "last_name",
    "email",
    "code",
    "department_code",
    "cost_centre",
    "benefits_level",
    "external_id",
)
SOURCE = Employee(
    id="src-1",
    code="E001",
    first_name="Ann",
    last_name="Lee",
    email="ann@acme.example",
    department_code="SALES",
    cost_centre="CC1",
    benefits_level="gold",
)


def _schema_dir() -> Path:
    shared = os.environ.get("HRSYNC_SHARED_DIR")
    base = Path(shared) if shared else Path(__file__).resolve().parents[3] / "shared"
    return base / "specs" / "scim"


@cache
def _schema(name: str) -> dict[str, Any]:
    path = _schema_dir() / name
    if not path.exists():
        pytest.fail(
            f"SCIM schema not found at {path}: it lives in the shared/ folder beside the repository; set "
            "HRSYNC_SHARED_DIR to the shared folder if it is elsewhere."
        )
    return json.loads(path.read_text(encoding="utf-8"))


def _attributes(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in schema["attributes"]}


def _check(body: dict[str, Any]) -> list[str]:
    """Attributes of a User body that RFC 7643 (or hrsync's extension) does not declare, or that are read-only."""
    core, enterprise = (
        _attributes(_schema("scim-core-User.schema.json")),
        _attributes(_schema("scim-enterprise-User.schema.json")),
    )
    problems = []
    for name, value in body.items():
        if name in COMMON or name == BENEFITS_SCHEMA:
            continue
        if name == ENTERPRISE:
            problems += [f"{ENTERPRISE}:{key}" for key in value if key not in enterprise]
            continue
        if name not in core:
            problems.append(name)
            continue
        if core[name].get("mutability") == "readOnly":
            problems.append(f"{name} (readOnly)")
        declared = {sub["name"] for sub in core[name].get("subAttributes", [])}
        for item in value if isinstance(value, list) else [value] if isinstance(value, dict) else []:
            problems += [f"{name}.{key}" for key in item if key not in declared]
    return problems


def _recording_target() -> tuple[ScimTarget, list[tuple[str, dict[str, Any]]]]:
    sent: list[tuple[str, dict[str, Any]]] = []
    stored = {
        "schemas": [CORE],
        "id": "acct-1",
        "userName": "ann",
        "emails": [{"value": "ann@acme.example", "primary": True}],
        "active": True,
        "meta": {"resourceType": "User", "version": 'W/"1"', "location": "http://scim.test/v2/Users/acct-1"},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            sent.append((request.method, json.loads(request.content)))
        status = 201 if request.method == "POST" else 200
        body = dict(stored, **{k: v for k, v in (json.loads(request.content) if request.content else {}).items()})
        body["id"], body["meta"] = "acct-1", stored["meta"]
        if request.method == "PATCH":
            return httpx.Response(204)
        return httpx.Response(status, json=body, headers={"Content-Type": "application/scim+json"})

    client = httpx.Client(base_url="http://scim.test/v2/", transport=httpx.MockTransport(handler))
    return ScimTarget(client, RetryPolicy(attempts=1)), sent


def test_scim_contract_create_and_update_send_only_declared_writable_attributes():
    target, sent = _recording_target()
    target.create(SOURCE, FIELDS)
    target.update("acct-1", SOURCE.model_copy(update={"email": "new@acme.example"}), FIELDS)
    assert [method for method, _ in sent] == ["POST", "PUT"]
    for method, body in sent:
        assert _check(body) == [], method
        assert set(body["schemas"]) <= {CORE, ENTERPRISE, BENEFITS_SCHEMA}
        assert body["externalId"] == "src-1"
        assert body[ENTERPRISE] == {"employeeNumber": "E001", "department": "SALES", "costCenter": "CC1"}


def test_scim_contract_deactivation_is_a_patch_of_declared_paths():
    target, sent = _recording_target()
    target.mark_leaver("acct-1", date(2026, 11, 20))
    [(method, body)] = sent
    assert method == "PATCH" and body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]
    paths = {(op["op"].lower(), op["path"], json.dumps(op["value"])) for op in body["Operations"]}
    assert paths == {("replace", "active", "false"), ("replace", f"{BENEFITS_SCHEMA}:leaveDate", '"2026-11-20"')}
    assert _attributes(_schema("scim-core-User.schema.json"))["active"]["mutability"] == "readWrite"


def test_scim_contract_email_filter_attribute_is_case_insensitive_in_rfc7643():
    emails = _attributes(_schema("scim-core-User.schema.json"))["emails"]
    value = next(sub for sub in emails["subAttributes"] if sub["name"] == "value")
    assert value["caseExact"] is False  # so `emails.value eq` finds any case, as the link by email needs
