"""MicrOpay <-> Worknice end to end on the local stack, issue 6's done-when through the local API: with both
simulators loaded, an address edited in Worknice reaches MicrOpay and a tax change made in MicrOpay reaches
Worknice in the same run, and the next run sends nothing; the same field changed differently on both sides is
one conflict with no write to either side, and resolving it through the API writes the chosen value across."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.demo import wait_for_run
from sandbox.sample import micropay_employee, worknice_person

pytestmark = pytest.mark.e2e
CONNECTION = "e2e-micropay-worknice"
TAX = {"taxFreeThreshold": True, "residencyStatus": "RESIDENT", "helpDebt": False}
PEOPLE = [("P201", "Lena", "Park"), ("P202", "Omar", "Quinn"), ("P203", "Rosa", "Tan")]
MICROPAY_WRITES = ("/api/ChangeEmployee", "/api/ChangeEmployeeImmediate", "/api/NewEmployee", "/api/LeaveRequest")


def _email(first: str) -> str:
    return f"{first.lower()}@e2e-co.example"


@pytest.fixture
def linked(stack: Any, api: httpx.Client) -> Iterator[tuple[str, str]]:
    """Both simulators reset and loaded with three people who agree on every field, and a connection of this
    test's own (the demo connection's systems and secret) whose first run has linked them."""
    state = stack.state()
    micropay, worknice = state["systems"]["micropay"], state["systems"]["worknice"]
    for url in (micropay, worknice):
        httpx.post(f"{url}/_sandbox/reset").raise_for_status()
    employees = [
        {**micropay_employee(code, first, last, _email(first)), "taxDetails": TAX, "telephone1": None}
        for code, first, last in PEOPLE
    ]
    people = [
        {**worknice_person(f"wn-{code}", code, first, last, _email(first)), "profilePhone": None}
        for code, first, last in PEOPLE
    ]
    httpx.put(f"{micropay}/_sandbox/records", json=employees).raise_for_status()
    httpx.put(f"{worknice}/_sandbox/records", json=people).raise_for_status()
    demo = api.get(f"/connections/{state['connections']['micropay-worknice']}").raise_for_status().json()
    body = {
        "connector": "micropay-worknice",
        "source": demo["source"],
        "target": demo["target"],
        "secret_name": demo["secret_name"],
        "options": {},
    }
    saved = api.put(f"/connections/{CONNECTION}", json=body)
    assert saved.status_code == 201, saved.text
    first = wait_for_run(api, CONNECTION, saved.json()["started_run"])
    assert first["status"] == "SUCCEEDED", first
    try:
        yield micropay, worknice
    finally:
        api.delete(f"/connections/{CONNECTION}")


def _sync(api: httpx.Client) -> dict[str, Any]:
    response = api.post(f"/connections/{CONNECTION}/syncs", json={})
    assert response.status_code == 202, response.text
    return wait_for_run(api, CONNECTION, response.json()["run_id"])


def _payroll(micropay: str) -> dict[str, dict[str, Any]]:
    return {e["empCode"]: e for e in httpx.get(f"{micropay}/_sandbox/records").json()}


def _people(worknice: str) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in httpx.get(f"{worknice}/_sandbox/records").json()}


def _marks(micropay: str, worknice: str) -> tuple[int, int]:
    return (
        len(httpx.get(f"{micropay}/_sandbox/requests").json()),
        len(httpx.get(f"{worknice}/_sandbox/operations").json()),
    )


def _writes_since(micropay: str, worknice: str, marks: tuple[int, int]) -> list[str]:
    """What was written to either system since `marks`: MicrOpay's write routes, Worknice's mutations."""
    requests = httpx.get(f"{micropay}/_sandbox/requests", params={"since": marks[0]}).json()
    operations = httpx.get(f"{worknice}/_sandbox/operations", params={"since": marks[1]}).json()
    return [f"MicrOpay {r['path']}" for r in requests if r["path"] in MICROPAY_WRITES] + [
        f"Worknice {field}" for op in operations if op["type"] == "mutation" for field in op["fields"]
    ]


def test_e2e_micropay_worknice_both_ways_in_one_run_then_nothing_then_one_conflict_resolved(api, linked):
    micropay, worknice = linked
    moved = {"street": "12 Acacia Way", "suburb": "Parramatta", "state": "NSW", "postcode": "2150", "country": "AU"}
    httpx.patch(f"{worknice}/_sandbox/records/wn-P201", json={"profileAddress": moved}).raise_for_status()
    tax = {**TAX, "helpDebt": True}
    httpx.patch(f"{micropay}/_sandbox/records/P202", json={"changes": {"taxDetails": tax}}).raise_for_status()

    both_ways = _sync(api)

    assert both_ways["status"] == "SUCCEEDED", both_ways
    lena = _payroll(micropay)["P201"]
    assert (lena["street"], lena["suburbCity"], lena["postcode"]) == ("12 Acacia Way", "Parramatta", "2150")
    assert _people(worknice)["wn-P202"]["taxDetails"]["helpDebt"] is True

    marks = _marks(micropay, worknice)
    quiet = _sync(api)

    assert quiet["status"] == "SUCCEEDED", quiet
    assert _writes_since(micropay, worknice, marks) == []
    assert _marks(micropay, worknice) != marks  # it did read both systems

    httpx.patch(
        f"{micropay}/_sandbox/records/P203", json={"changes": {"telephone1": "02 8000 1111"}}
    ).raise_for_status()
    httpx.patch(f"{worknice}/_sandbox/records/wn-P203", json={"profilePhone": "0499 222 333"}).raise_for_status()
    marks = _marks(micropay, worknice)

    clash = _sync(api)

    [conflict] = api.get(f"/connections/{CONNECTION}/conflicts").json()["conflicts"]
    assert (conflict["kind"], conflict["group"], conflict["field"]) == ("changed_on_both_sides", "personal", "phone")
    assert conflict["employee_ids"] == ["P203"]
    assert "1111" not in str(conflict) and "333" not in str(conflict)
    assert _writes_since(micropay, worknice, marks) == []
    assert _payroll(micropay)["P203"]["telephone1"] == "02 8000 1111"
    assert _people(worknice)["wn-P203"]["profilePhone"] == "0499 222 333"
    assert clash["status"] == "SUCCEEDED"

    marks = _marks(micropay, worknice)
    resolved = api.post(
        f"/connections/{CONNECTION}/conflicts/{conflict['conflict_id']}/resolve", json={"winner": "source"}
    )

    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["written_to"] == "Worknice"
    # the chosen value, to the other side only, and the batch closed as a run closes its own
    assert _writes_since(micropay, worknice, marks) == ["Worknice updatePerson", "Worknice completeIntegrationSync"]
    assert _people(worknice)["wn-P203"]["profilePhone"] == "02 8000 1111"
    assert api.get(f"/connections/{CONNECTION}/conflicts").json()["conflicts"] == []

    marks = _marks(micropay, worknice)
    settled = _sync(api)
    assert settled["status"] == "SUCCEEDED"
    assert _writes_since(micropay, worknice, marks) == []
