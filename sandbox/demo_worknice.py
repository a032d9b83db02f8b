"""The MicrOpay <-> Worknice part of `make demo`: two-way sync by three-way merge, a conflict, a new hire.

1. First sync: MicrOpay employees are linked to Worknice people by employee ID (both hold the same values, so
   every field's base is set); a Worknice new hire with an employee ID goes into MicrOpay's New Employee wizard;
   a person without an employee ID is not syncing with the reason.
2. An address is edited in Worknice, a tax declaration in MicrOpay, and one email differently in both. The next
   sync sends the address to MicrOpay and the tax to Worknice, and reports the email as one conflict without
   writing it anywhere; it is resolved through the API (Worknice's value wins). Payroll accepts the new hire.
   A leave request approved in Worknice is recorded in MicrOpay; payroll's leave balances reach Worknice.
3. The next sync links the new hire; the one after sends nothing to MicrOpay.
"""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.sample import micropay_employee, micropay_lookups, worknice_person

CONNECTOR = "micropay-worknice"
TAX = {"taxFreeThreshold": True, "residencyStatus": "RESIDENT", "helpDebt": False}
PEOPLE = [("P101", "Grace", "Kelly"), ("P102", "Henry", "Lawson"), ("P103", "Ivy", "Chen")]
PAYROLL_WRITES = ("/api/ChangeEmployee", "/api/ChangeEmployeeImmediate", "/api/NewEmployee", "/api/LeaveRequest")


def _email(first: str, last: str) -> str:
    return f"{first}.{last}@wombat-co.example".lower()


def sample() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    employees = [
        {**micropay_employee(code, first, last, _email(first, last)), "taxDetails": TAX, "telephone1": None}
        for code, first, last in PEOPLE
    ]
    same = {"profilePhone": None}
    people = [
        {**worknice_person(f"wn-{code}", code, first, last, _email(first, last)), **same}
        for code, first, last in PEOPLE
    ]
    people.append(worknice_person("wn-P104", "P104", "Jade", "Morris", _email("Jade", "Morris")))  # new hire
    people.append(worknice_person("wn-X1", None, "Kai", "Nolan"))  # no employee ID yet
    return employees, people


def _sync(api: httpx.Client, connection: str, wait: Any) -> dict[str, Any]:
    response = api.post(f"/connections/{connection}/syncs", json={})
    if response.status_code != 202:
        raise RuntimeError(f"POST /syncs answered {response.status_code}: {response.text}")
    return dict(wait(api, connection, response.json()["run_id"]))


def _check(results: list[tuple[str, bool]], what: str, ok: bool) -> None:
    results.append((what, ok))
    print(f"  [{'ok' if ok else 'UNEXPECTED'}] {what}")


def _log(api: httpx.Client, connection: str, run: dict[str, Any]) -> None:
    print(f"\nRun {run['run_id']}: {run['status']}")
    for line in api.get(f"/connections/{connection}/syncs/{run['run_id']}/log").json()["lines"]:
        print(f"    {line['time'][11:19]} {line['level']:<7} {line['message']}")


def _state(api: httpx.Client, connection: str, employee_id: str) -> dict[str, Any]:
    return dict(api.get(f"/connections/{connection}/employees/{employee_id}").json()["employee"])


def run_demo(state: dict[str, Any], api: httpx.Client, wait: Any) -> bool:
    """Load the sample, sync through the API, print what happened; True when every check held."""
    connection = state["connections"][CONNECTOR]
    micropay, worknice = state["systems"]["micropay"], state["systems"]["worknice"]
    employees, people = sample()
    httpx.post(f"{micropay}/_sandbox/reset").raise_for_status()
    httpx.put(f"{micropay}/_sandbox/departments", json=micropay_lookups()).raise_for_status()
    httpx.put(f"{micropay}/_sandbox/records", json=employees).raise_for_status()
    httpx.put(f"{worknice}/_sandbox/records", json=people).raise_for_status()
    print(f"\n=== MicrOpay <-> Worknice ({connection}) ===")
    print(f"Loaded {len(employees)} MicrOpay employees and {len(people)} Worknice people.")
    results: list[tuple[str, bool]] = []

    first = _sync(api, connection, wait)
    _log(api, connection, first)
    _check(results, "P101 is linked to Worknice's wn-P101", _state(api, connection, "P101")["target_id"] == "wn-P101")
    wizard = httpx.get(f"{micropay}/_sandbox/new-employees").json()
    _check(results, "new hire P104 is pending in MicrOpay's New Employee wizard", len(wizard) == 1)
    no_id = _state(api, connection, "worknice-wn-X1")
    print(f"  worknice-wn-X1: {no_id['status']}: {no_id['reason']}")
    _check(results, "a person without an employee ID is not syncing", no_id["status"] == "NOT_SYNCING")

    print("\nWorknice: P101's address changes. MicrOpay: P102's tax declaration changes.")
    print("Both: P103's email changes, differently. Payroll accepts the new hire.")
    moved = {"street": "4 Banksia St", "suburb": "Fitzroy", "state": "VIC", "postcode": "3065", "country": "AU"}
    httpx.patch(f"{worknice}/_sandbox/records/wn-P101", json={"profileAddress": moved}).raise_for_status()
    tax = {**TAX, "helpDebt": True}
    httpx.patch(f"{micropay}/_sandbox/records/P102", json={"changes": {"taxDetails": tax}}).raise_for_status()
    httpx.patch(
        f"{micropay}/_sandbox/records/P103", json={"changes": {"defaultEmail": "ivy.payroll@wombat-co.example"}}
    ).raise_for_status()
    httpx.patch(
        f"{worknice}/_sandbox/records/wn-P103", json={"profileEmail": "ivy.hr@wombat-co.example"}
    ).raise_for_status()
    httpx.post(f"{micropay}/_sandbox/new-employees/{wizard[0]['pendingId']}", json={"decision": "accept"})
    print("Worknice: Grace's annual leave is approved. MicrOpay: leave balances accrued.")
    leave = {"id": "lr-1001", "personId": "wn-P101", "category": "ANNUAL", "startDate": "2026-12-22",
             "endDate": "2026-12-24", "hours": 22.8, "status": "APPROVED"}  # fmt: skip
    httpx.put(f"{worknice}/_sandbox/leave-requests", json=[leave]).raise_for_status()
    httpx.put(f"{micropay}/_sandbox/leave-balances", json={"P101": {"ANNUAL": "98.8", "SICK": "45.6"}})

    second = _sync(api, connection, wait)
    _log(api, connection, second)
    payroll = {e["empCode"]: e for e in httpx.get(f"{micropay}/_sandbox/records").json()}
    persons = {p["id"]: p for p in httpx.get(f"{worknice}/_sandbox/records").json()}
    _check(results, "P101's address (edited in Worknice) is in MicrOpay", payroll["P101"]["street"] == "4 Banksia St")
    _check(results, "P102's tax (changed in MicrOpay) is in Worknice", persons["wn-P102"]["taxDetails"]["helpDebt"])
    recorded = httpx.get(f"{micropay}/_sandbox/leave").json()
    _check(
        results,
        "the approved leave request is recorded in MicrOpay",
        [r["externalId"] for r in recorded] == ["lr-1001"],
    )
    balances = httpx.get(f"{worknice}/_sandbox/leave-balances").json().get("wn-P101")
    _check(results, "P101's leave balances are in Worknice", balances == {"ANNUAL": "98.8", "SICK": "45.6"})
    conflicts = api.get(f"/connections/{connection}/conflicts").json()["conflicts"]
    for conflict in conflicts:
        print(f"  conflict {conflict['conflict_id']}: {conflict['reason']}")
    _check(
        results,
        "P103's email is one conflict, written nowhere",
        len(conflicts) == 1
        and payroll["P103"]["defaultEmail"] == "ivy.payroll@wombat-co.example"
        and persons["wn-P103"]["profileEmail"] == "ivy.hr@wombat-co.example",
    )
    if conflicts:
        resolved = api.post(
            f"/connections/{connection}/conflicts/{conflicts[0]['conflict_id']}/resolve", json={"winner": "target"}
        )
        print(f"  POST .../resolve {{winner: target}}: {resolved.status_code} {resolved.text}")
        payroll = {e["empCode"]: e for e in httpx.get(f"{micropay}/_sandbox/records").json()}
        _check(
            results,
            "resolving writes Worknice's email to MicrOpay",
            payroll["P103"]["defaultEmail"] == "ivy.hr@wombat-co.example",
        )

    third = _sync(api, connection, wait)
    _check(results, "the accepted new hire P104 is linked", _state(api, connection, "P104")["status"] == "SUCCESSFUL")
    mark = len(httpx.get(f"{micropay}/_sandbox/requests").json())
    fourth = _sync(api, connection, wait)
    writes = [r for r in httpx.get(f"{micropay}/_sandbox/requests", params={"since": mark}).json()]
    writes = [r for r in writes if r["path"] in PAYROLL_WRITES]
    _log(api, connection, fourth)
    _check(results, "the next run sends nothing to MicrOpay", not writes)
    _check(
        results,
        "the leave request was recorded once",
        len(httpx.get(f"{micropay}/_sandbox/leave").json()) == 1,
    )
    runs = (first, second, third, fourth)
    _check(results, "every run SUCCEEDED", all(r["status"] == "SUCCEEDED" for r in runs))
    return all(ok for _, ok in results)
