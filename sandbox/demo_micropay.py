"""The MicrOpay -> Access ESS part of `make demo`: a sample Australian employer that shows each case.

1. First sync (the change feed, since the connection's initial run): new payroll employees become members with
   their profile; an unknown Location code, two members holding one employee code and a member whose code matches
   no payroll employee are reported; the Web API log reads like the product's.
2. A member changes their address and bank account in ESS; payroll changes an employee's location (an
   employment field) and street (create-only); a payroll user's edit misses the change table. The next sync sends
   the location, keeps the member's street, applies the address in MicrOpay at once, queues the bank account for
   approval, and does not see the missed employee.
3. `full: true` finds the missed employee; the duplicate member is fixed and resolves by itself; payroll approves
   the bank account and the next sync shows it approved.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sandbox.sample import ess_member, micropay_employee, micropay_lookups

CONNECTOR = "micropay-ess"
LONG_AGO = (datetime.now(UTC) - timedelta(days=3)).isoformat()
PEOPLE = [
    ("P001", "Olivia", "Nguyen"),
    ("P002", "Jack", "Smith"),
    ("P003", "Mia", "Williams"),
    ("P004", "Noah", "Brown"),
    ("P005", "Ava", "Jones"),
    ("P006", "Leo", "Taylor"),
    ("P007", "Isla", "Wilson"),
    ("P008", "Lucas", "Martin"),
    ("P009", "Zara", "Thompson"),
    ("P010", "Ethan", "White"),
]


def _email(first: str, last: str) -> str:
    return f"{first}.{last}@koala-co.example".lower()


def sample_employer() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """MicrOpay employees and the Access ESS site they sync into, with every case the rules cover."""
    employees = [micropay_employee(code, first, last, _email(first, last)) for code, first, last in PEOPLE]
    employees[8]["location"] = "PER"  # P009: no Location PER in MicrOpay's lookup -> not syncing with the reason
    members = [
        ess_member("m-P002", "P002", "Jack", "Smith", _email("Jack", "Smith")),  # already a member: linked by code
        ess_member("m-P003a", "P003", "Mia", "Williams", _email("Mia", "Williams")),
        ess_member("m-P003b", "P003", "Mia", "Williams", "mia.w@koala-co.example"),  # duplicate code -> activation
        ess_member("m-Q77", "P77", "Ruby", "Hall", "ruby.hall@koala-co.example"),  # code matches no employee
    ]
    return employees, members


def _sync(api: httpx.Client, connection: str, wait: Any, **body: Any) -> dict[str, Any]:
    response = api.post(f"/connections/{connection}/syncs", json=body)
    if response.status_code != 202:
        raise RuntimeError(f"POST /syncs answered {response.status_code}: {response.text}")
    return dict(wait(api, connection, response.json()["run_id"]))


def _members(ess: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for member in httpx.get(f"{ess}/_sandbox/records").json():
        found.setdefault(member["employeeCode"], member)
    return found


def _payroll(micropay: str) -> dict[str, dict[str, Any]]:
    return {e["empCode"]: e for e in httpx.get(f"{micropay}/_sandbox/records").json()}


def _show_run(api: httpx.Client, connection: str, run: dict[str, Any], *, log: bool) -> None:
    c = run["counters"]
    read = "every employee" if run.get("full_read") else "the change feed"
    print(f"\nRun {run['run_id']} (read {read}): {run['status']}")
    print(
        f"  created {c['created']}, updated {c['updated']}, deactivated {c['marked_leaver']}, in step {c['in_step']},"
        f" not syncing {c['not_syncing']}, in conflict {c['conflicts']}, failed {c['failed']}"
    )
    if log:
        print("  Web API log:")
        for line in api.get(f"/connections/{connection}/syncs/{run['run_id']}/log").json()["lines"]:
            print(f"    {line['time'][11:19]} {line['level']:<7} {line['message']}")


def _show_problems(api: httpx.Client, connection: str) -> None:
    for e in api.get(f"/connections/{connection}/employees", params={"status": "NOT_SYNCING"}).json()["employees"]:
        print(f"  not syncing {e['employee_id']:<6} {e['reason']}")
    for conflict in api.get(f"/connections/{connection}/conflicts").json()["conflicts"]:
        print(f"  activation report: {conflict['reason']} (members: {', '.join(conflict['target_ids'])})")


def _check(results: list[tuple[str, bool]], what: str, ok: bool) -> None:
    results.append((what, ok))
    print(f"  [{'ok' if ok else 'UNEXPECTED'}] {what}")


def run_demo(state: dict[str, Any], api: httpx.Client, wait: Any) -> bool:
    """Load the sample, sync through the API in three steps, print what happened; True when all held."""
    connection = state["connections"][CONNECTOR]
    micropay, ess = state["systems"]["micropay"], state["systems"]["ess"]
    employees, members = sample_employer()
    httpx.put(f"{micropay}/_sandbox/departments", json=micropay_lookups()).raise_for_status()
    httpx.put(f"{micropay}/_sandbox/records", json=employees).raise_for_status()
    httpx.put(f"{ess}/_sandbox/records", json=members).raise_for_status()
    print(f"\n=== MicrOpay -> Access ESS ({connection}) ===")
    print(
        f"Loaded {len(employees)} MicrOpay employees, {len(micropay_lookups())} lookup entries, {len(members)} members."
    )
    results: list[tuple[str, bool]] = []

    first = _sync(api, connection, wait)
    _show_run(api, connection, first, log=True)
    _show_problems(api, connection)
    now = _members(ess)
    _check(
        results, "new payroll employees reach ESS with their profile", "P001" in now and bool(now["P001"]["address"])
    )
    p003 = api.get(f"/connections/{connection}/employees/P003").json()["employee"]
    _check(results, "duplicate code P003 blocks only that employee", p003["status"] == "NOT_SYNCING")

    print("\nA member edits their address and bank account; payroll edits P004; P011 is added while the change")
    print("table is not written (the integration service was down).")
    p001 = now["P001"]["memberId"]
    address = {"street": "12 Wattle Rd", "suburb": "Newtown", "state": "NSW", "postcode": "2042", "country": "AU"}
    bank = [{"bsb": "082-082", "accountNumber": "55501234", "accountName": "O Nguyen", "balanceOfPay": True}]
    httpx.post(f"{ess}/_sandbox/members/{p001}/edit", json={"address": address}).raise_for_status()
    httpx.post(f"{ess}/_sandbox/members/{p001}/edit", json={"bankAccounts": bank}).raise_for_status()
    httpx.patch(
        f"{micropay}/_sandbox/records/P004", json={"changes": {"location": "MEL", "street": "99 Payroll Pde"}}
    ).raise_for_status()
    records = [{**r, "changedAt": LONG_AGO} for r in httpx.get(f"{micropay}/_sandbox/records").json()]
    records[3].pop("changedAt")  # P004's edit is in the change table
    missed = micropay_employee("P011", "Harper", "Lee", _email("Harper", "Lee"), changed_at=LONG_AGO)
    httpx.put(f"{micropay}/_sandbox/records", json=[*records, missed]).raise_for_status()

    second = _sync(api, connection, wait)
    _show_run(api, connection, second, log=True)
    now, pay = _members(ess), _payroll(micropay)
    _check(results, "P004's location (employment field) reaches ESS", now["P004"]["location"] == "MEL")
    _check(
        results,
        "P004's street (create-only) keeps the member's value",
        now["P004"]["address"]["street"] != "99 Payroll Pde",
    )
    _check(results, "P001's address change is in MicrOpay at once", pay["P001"]["street"] == "12 Wattle Rd")
    changes = api.get(f"/connections/{connection}/employees/P001").json()["payroll_changes"]
    waiting = [c for c in changes if c["fields"] == ["bank_accounts"]]
    for change in changes:
        print(f"  P001 payroll change: {', '.join(change['fields'])}: {change['state']}")
    _check(
        results,
        "P001's bank change waits for payroll approval",
        bool(waiting) and waiting[-1]["state"] == "PENDING_APPROVAL",
    )
    _check(results, "P011, missed by the change table, is not seen by the change feed", "P011" not in now)

    print("\nPayroll approves the bank change; an administrator deactivates the duplicate member; full: true.")
    httpx.post(
        f"{micropay}/_sandbox/approvals/{waiting[-1]['status_id']}", json={"decision": "approve"}
    ).raise_for_status()
    fixed = [m for m in httpx.get(f"{ess}/_sandbox/records").json() if m["memberId"] != "m-P003b"]
    fixed.append({**ess_member("m-P003b", None, "Mia", "Williams", None), "active": False})
    httpx.put(f"{ess}/_sandbox/records", json=fixed).raise_for_status()
    started = api.post(f"/connections/{connection}/syncs", json={"full": True})
    if started.status_code != 202:
        raise RuntimeError(f"POST /syncs answered {started.status_code}: {started.text}")
    run_id = started.json()["run_id"]
    again = api.post(f"/connections/{connection}/syncs", json={})  # the Sync button pressed again at once
    running = api.get(f"/connections/{connection}").json()["running_run"]
    if again.status_code == 409:
        print(f"  a second trigger while {run_id} runs: 409 naming {again.json().get('run_id')}; running_run {running}")
    else:  # the run had already ended: nothing to refuse
        print(f"  the run had already finished; the second trigger started {again.json().get('run_id')}")
        wait(api, connection, again.json()["run_id"])
    third = dict(wait(api, connection, run_id))
    if again.status_code == 409:
        lines = [line["message"] for line in api.get(f"/connections/{connection}/syncs/{run_id}/log").json()["lines"]]
        _check(
            results,
            "a trigger while a run is running gets 409 naming it; the run logs Job Started once",
            again.json().get("run_id") == run_id and lines.count("Job Started") == 1,
        )
    _show_run(api, connection, third, log=False)
    _show_problems(api, connection)
    now = _members(ess)
    _check(results, "the full reconciliation finds P011", "P011" in now)
    p003 = api.get(f"/connections/{connection}/employees/P003").json()["employee"]
    _check(results, "P003 resolves by itself once the duplicate is gone", p003["status"] == "SUCCESSFUL")
    changes = api.get(f"/connections/{connection}/employees/P001").json()["payroll_changes"]
    _check(results, "P001's bank change shows APPROVED", any(c["state"] == "APPROVED" for c in changes))
    runs_ok = all(r["status"] == "SUCCEEDED" for r in (first, second, third))
    _check(results, "every run SUCCEEDED", runs_ok)
    return all(ok for _, ok in results)
