"""`make demo`: every connector end to end on the embedded local stack.

Starts the local stack (moto as AWS, the simulators, the real handlers). Staffology Payroll -> ExpenseIn: loads a
sample employer, runs the sync through the local API, prints what happened to every employee and the run log,
then runs again to show that nothing is re-sent. Staffology Payroll -> the benefits platform (hr-benefits, SCIM
2.0): sandbox/benefits_demo.py. MicrOpay -> Access ESS: sandbox/demo_micropay.py.
MicrOpay <-> Worknice: sandbox/demo_worknice.py.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any

import httpx

from sandbox import demo_micropay, demo_worknice
from sandbox.benefits_demo import benefits_demo_ok, report_benefits, run_benefits_demo
from sandbox.sample import expensein_user, staffology_employee
from sandbox.stack import LocalStack

CONNECTOR = "staffology-expensein"
BENEFITS_CONNECTOR = "hr-benefits"
FIRST = [
    "Amara",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Isla",
    "Jonah",
    "Kiran",
    "Lena",
    "Mateo",
    "Nia",
    "Oscar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Umar",
    "Vera",
    "Wes",
    "Xena",
    "Yusuf",
    "Zoe",
    "Alfie",
    "Bea",
    "Cal",
    "Dina",
    "Eli",
    "Fay",
    "Gus",
    "Hana",
    "Ivo",
    "Jade",
    "Kai",
    "Lia",
]
LAST = [
    "Okafor",
    "Hughes",
    "Martin",
    "Patel",
    "Rossi",
    "Haddad",
    "Kim",
    "Dubois",
    "Campbell",
    "Reid",
    "Shah",
    "Novak",
    "Garcia",
    "Mensah",
    "Berg",
    "Iyer",
    "Walsh",
    "Silva",
    "Khan",
    "Byrne",
    "Malik",
    "Ivanova",
    "Turner",
    "Costa",
    "Ali",
    "Evans",
    "Moss",
    "Ng",
    "Price",
    "Lowe",
    "Frost",
    "Hale",
    "Webb",
    "Cole",
    "Lund",
    "Vance",
    "Wren",
    "Yates",
]


def sample_employer() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, str]]]:
    """A realistic small employer and the ExpenseIn account it syncs into, with every case the rules cover."""
    departments = [
        {"reference": "SALES", "name": "Sales"},
        {"reference": "ENG", "name": "Engineering"},
        {"reference": "FIN", "name": "Finance"},
    ]
    employees: list[dict[str, Any]] = []
    users: list[dict[str, Any]] = []
    depts = ["SALES", "ENG", "FIN"]
    for i in range(30):  # current staff; the first eight already have ExpenseIn users
        code = f"E{i + 1:03}"
        first, last = FIRST[i], LAST[i]
        email = f"{first}.{last}@acme.example".lower()
        employees.append(staffology_employee(code, first, last, email, department=depts[i % 3]))
        if i < 8:
            users.append(expensein_user(f"u-1{i:05}", code, first, last, email, department=depts[i % 3]))
    users[4]["lastName"] = "Hughes-Edited"  # E005 edited in ExpenseIn: payroll wins on the next run
    for i, code in enumerate(("N001", "N002", "N003")):  # new starters
        first, last = FIRST[30 + i], LAST[30 + i]
        employees.append(
            staffology_employee(
                code,
                first,
                last,
                f"{first}.{last}@acme.example".lower(),
                status="Upcoming",
                department="ENG",
                start_date="2026-12-01",
            )
        )
    employees.append(staffology_employee("E031", "Jade", "Lund", "jade.lund@acme.example", department="OPS"))
    employees.append(staffology_employee("E032", "Kai", "Vance", None, department="SALES"))  # missing email
    # Leavers: E006 and E007 have ExpenseIn users (marked as leavers); E040 never had one (never created).
    for leaver in employees[5:7]:
        leaver["status"] = "Former"
        leaver["employmentDetails"]["leaverDetails"] = {"hasLeft": True, "leaveDate": "2026-11-14"}
    employees.append(
        staffology_employee("E040", "Lia", "Wren", "lia.wren@acme.example", status="Former", leave_date="2026-03-31")
    )
    # E020: two ExpenseIn users already hold reference E020 -> conflict, nothing sent for it.
    users.append(expensein_user("u-200001", "E020", "Tara", "Byrne", "t.byrne@acme.example"))
    users.append(expensein_user("u-200002", "E020", "Tara", "Byrne", "tara.b@acme.example"))
    # E021: an ExpenseIn user with no reference already has this employee's email -> not syncing.
    users.append(expensein_user("u-200003", None, "Umar", "Malik", "umar.malik@acme.example"))
    return employees, users, departments


def wait_for_run(api: httpx.Client, connection: str, run_id: str, timeout: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api.get(f"/connections/{connection}/syncs/{run_id}").raise_for_status().json()
        if run["status"] not in ("QUEUED", "RUNNING"):
            return run
        time.sleep(0.5)
    raise TimeoutError(f"run {run_id} did not finish in {timeout:.0f} s")


def sync(api: httpx.Client, connection: str) -> dict[str, Any]:
    response = api.post(f"/connections/{connection}/syncs", json={})
    if response.status_code != 202:
        raise RuntimeError(f"POST /syncs answered {response.status_code}: {response.text}")
    return wait_for_run(api, connection, response.json()["run_id"])


def report(api: httpx.Client, connection: str, run: dict[str, Any]) -> None:
    c = run["counters"]
    print(f"\nRun {run['run_id']}: {run['status']}")
    print(f"  employees seen        {c['seen']:>4}")
    for label, key in (
        ("created", "created"),
        ("updated", "updated"),
        ("marked as leavers", "marked_leaver"),
        ("already in step", "in_step"),
        ("not syncing", "not_syncing"),
        ("in conflict", "conflicts"),
        ("failed", "failed"),
    ):
        print(f"  {label:<21} {c[key]:>4}")
    for status in ("NOT_SYNCING", "FAILED"):
        employees = api.get(f"/connections/{connection}/employees", params={"status": status}).json()["employees"]
        if employees:
            print(f"\n{status.replace('_', ' ').title()}:")
            for e in employees:
                print(f"  {e['code'] or e['employee_id']:<8} {e['reason']}")
    warned = [e for e in api.get(f"/connections/{connection}/employees").json()["employees"] if e["warnings"]]
    if warned:
        print("\nWarnings:")
        for e in warned:
            print(f"  {e['code']:<8} {'; '.join(e['warnings'])}")
    conflicts = api.get(f"/connections/{connection}/conflicts").json()["conflicts"]
    if conflicts:
        print("\nConflicts report:")
        for conflict in conflicts:
            print(f"  {conflict['kind']:<28} {conflict['reason']} (users: {', '.join(conflict['target_ids']) or '-'})")
    print("\nRun log:")
    for line in api.get(f"/connections/{connection}/syncs/{run['run_id']}/log").json()["lines"]:
        print(f"  {line['time'][11:19]} {line['level']:<7} {line['message']}")


def main() -> int:
    print("Starting the local stack (moto as AWS, simulated payrolls and targets, real handlers)...")
    with LocalStack() as stack:
        state = stack.state()
        connection = state["connections"][CONNECTOR]
        staffology, expensein = state["systems"]["staffology"], state["systems"]["expensein"]
        sandbox_expensein = expensein.removesuffix("/1.0")
        employees, users, departments = sample_employer()
        httpx.put(f"{staffology}/_sandbox/records", json=employees).raise_for_status()
        httpx.put(f"{sandbox_expensein}/_sandbox/records", json=users).raise_for_status()
        httpx.put(f"{sandbox_expensein}/_sandbox/departments", json=departments).raise_for_status()
        print(f"Loaded {len(employees)} Staffology employees and {len(users)} ExpenseIn users.")
        print(f"Local API {state['api']} (header x-api-key: {state['api_key']}); state in .hrsync/local.json")

        with stack.api_client() as api:
            seen = len(httpx.get(f"{sandbox_expensein}/_sandbox/requests").json())
            plan = api.post(f"/connections/{connection}/syncs", json={"dry_run": True}).raise_for_status().json()
            dry_calls = Counter(e["method"] for e in httpx.get(f"{sandbox_expensein}/_sandbox/requests").json()[seen:])
            p = plan["counters"]
            print(
                f"\nDry run: {p['to_create']} to create, {p['to_update']} to update, {p['to_mark_leaver']} leavers, "
                f"{p['not_syncing']} not syncing, {p['conflicts']} in conflict; ExpenseIn calls {dict(dry_calls)}"
            )
            first = sync(api, connection)
            report(api, connection, first)
            c = first["counters"]
            planned_as_done = [
                p[k] for k in ("to_create", "to_update", "to_mark_leaver", "not_syncing", "conflicts")
            ] == [c[k] for k in ("created", "updated", "marked_leaver", "not_syncing", "conflicts")]
            print(f"The dry run's counts {'match' if planned_as_done else 'DO NOT match'} the run's.")
            log_before = httpx.get(f"{sandbox_expensein}/_sandbox/requests").json()
            second = sync(api, connection)
            log_after = httpx.get(f"{sandbox_expensein}/_sandbox/requests").json()[len(log_before) :]
            calls = Counter(entry["method"] for entry in log_after)
            writes = sum(n for method, n in calls.items() if method != "GET")
            print(f"\nSecond run {second['run_id']}: {second['status']}; {second['counters']['in_step']} in step.")
            print(f"ExpenseIn calls during the second run: {dict(calls)}; writes: {writes}")
            ok = (
                first["status"] == "SUCCEEDED"
                and second["status"] == "SUCCEEDED"
                and writes == 0
                and planned_as_done
                and set(dry_calls) == {"GET"}
            )

            print("\n== Staffology Payroll -> benefits platform (hr-benefits: SCIM 2.0, served by scim2-server) ==")
            benefits = state["connections"][BENEFITS_CONNECTOR]
            benefits_url = state["systems"]["benefits"].removesuffix("/v2")
            demo = run_benefits_demo(api, benefits, benefits_url, staffology)
            report_benefits(api, benefits, demo)
            problems = benefits_demo_ok(demo)
            for problem in problems:
                print(f"  UNEXPECTED: {problem}")

            micropay_ok = demo_micropay.run_demo(state, api, wait_for_run)
            worknice_ok = demo_worknice.run_demo(state, api, wait_for_run)
        ok = ok and not problems and micropay_ok and worknice_ok
        print("\nDemo finished." if ok else "\nDemo finished with unexpected results.")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
