"""The hr-benefits part of `make demo`: Staffology Payroll -> the benefits platform (SCIM 2.0, scim2-server).

Five cases, through the local API, in four runs:

1. a full sync: the new starter flagged create-benefits-record (B002) is created; everyone else waits in the
   Not syncing tab for HR's selection;
2. HR selects B001, B003, B004 and B005 (the confirm dialog first): B001 is linked to the account that already
   has their email (in other letters' case), B004 and B005 too; B003 is not syncing (two accounts, one email);
3. B004 leaves, B005's email changes in payroll, HR assigns B001 the gold level: a full sync deactivates B004's
   account (active false, with the leave date), updates B005's same account (same id) and B001's level;
4. a full sync again: nothing is sent (the platform's request log holds reads only).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.sample import employee_id, scim_account, staffology_employee

CONNECTOR = "hr-benefits"
SELECTED = ("B001", "B003", "B004", "B005")
LEAVE_DATE = "2026-11-20"
NEW_EMAIL = "eve.price@newmail.example"


def benefits_employees() -> list[dict[str, Any]]:
    return [
        staffology_employee("B001", "Ann", "Lee", "ann.lee@acme.example", department="SALES"),
        staffology_employee(
            "B002",
            "Ben",
            "Okafor",
            "ben.okafor@acme.example",
            status="Upcoming",
            department="ENG",
            start_date="2026-12-01",
            tags=["create-benefits-record", "benefits-level:silver"],
        ),
        staffology_employee("B003", "Cara", "Shah", "cara.shah@acme.example", department="FIN"),
        staffology_employee("B004", "Dev", "Patel", "dev.patel@acme.example", department="ENG"),
        staffology_employee("B005", "Eve", "Price", "eve.price@acme.example", department="SALES"),
        staffology_employee("B006", "Finn", "Moss", "finn.moss@acme.example", department="SALES"),
    ]


def benefits_accounts() -> list[dict[str, Any]]:
    return [
        scim_account("acct-ann", "ANN.LEE@acme.example", "Ann", "Lee"),  # linked by email, any case
        scim_account("acct-cara-1", "cara.shah@acme.example", "Cara", "Shah", user_name="cshah"),
        scim_account("acct-cara-2", "cara.shah@acme.example", "Cara", "Shah", user_name="cara.s"),
        scim_account("acct-dev", "dev.patel@acme.example", "Dev", "Patel"),
        scim_account("acct-eve", "eve.price@acme.example", "Eve", "Price"),
    ]


@dataclass
class BenefitsDemo:
    """What the four runs did, for the report and the end-to-end test."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    preview: dict[str, Any] = field(default_factory=dict)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    last_run_calls: Counter[str] = field(default_factory=Counter)


def run_benefits_demo(api: httpx.Client, connection: str, benefits_url: str, staffology_url: str) -> BenefitsDemo:
    """Load the sample, run the four syncs through the local API and gather what happened."""
    from sandbox.demo import sync, wait_for_run

    result = BenefitsDemo()
    employees = benefits_employees()
    httpx.post(f"{benefits_url}/_sandbox/reset").raise_for_status()
    httpx.put(f"{staffology_url}/_sandbox/records", json=employees).raise_for_status()
    httpx.put(f"{benefits_url}/_sandbox/records", json=benefits_accounts()).raise_for_status()

    result.runs.append(sync(api, connection))
    selected = [employee_id(code) for code in SELECTED]
    result.preview = api.post(f"/connections/{connection}/syncs/preview", json={"employee_ids": selected}).json()
    response = api.post(f"/connections/{connection}/syncs", json={"employee_ids": selected})
    if response.status_code != 202:
        raise RuntimeError(f"POST /syncs answered {response.status_code}: {response.text}")
    result.runs.append(wait_for_run(api, connection, response.json()["run_id"]))

    by_code = {record["employmentDetails"]["payrollCode"]: record for record in employees}
    by_code["B004"]["status"] = "Former"
    by_code["B004"]["employmentDetails"]["leaverDetails"] = {"hasLeft": True, "leaveDate": LEAVE_DATE}
    by_code["B005"]["personalDetails"]["email"] = NEW_EMAIL
    httpx.put(f"{staffology_url}/_sandbox/records", json=employees).raise_for_status()
    api.put(
        f"/connections/{connection}/employees/{employee_id('B001')}", json={"benefits_level": "gold"}
    ).raise_for_status()
    result.runs.append(sync(api, connection))

    seen = len(httpx.get(f"{benefits_url}/_sandbox/requests").json())
    result.runs.append(sync(api, connection))
    result.last_run_calls = Counter(r["method"] for r in httpx.get(f"{benefits_url}/_sandbox/requests").json()[seen:])
    rows = api.get(f"/connections/{connection}/employees").json()["employees"]
    result.states = {row["code"]: row for row in rows}
    result.accounts = httpx.get(f"{benefits_url}/_sandbox/records").json()
    return result


def report_benefits(api: httpx.Client, connection: str, demo: BenefitsDemo) -> None:
    for number, run in enumerate(demo.runs, start=1):
        c = run["counters"]
        print(
            f"  run {number} {run['run_id']}: {run['status']}: {c['created']} created, {c['updated']} updated, "
            f"{c['marked_leaver']} deactivated, {c['in_step']} in step, {c['not_syncing']} not syncing"
        )
    p = demo.preview
    print(f"\nConfirm dialog for {p['selected']} selected: {p['would_send']} would be sent, {p['cannot_send']} cannot:")
    for entry in p["cannot"]:
        print(f"  {entry['code']:<6} {entry['reason']}")
    print("\nTabs after the last run:")
    for status in ("NOT_SYNCING", "IN_PROGRESS", "SUCCESSFUL", "FAILED"):
        tab = api.get(f"/connections/{connection}/employees", params={"status": status, "page_size": 50}).json()
        print(f"  {status.replace('_', ' ').title():<12} {tab['total']}")
        for row in tab["employees"]:
            linked = f"account {row['target_id']} ({row['matched_by']})" if row["target_id"] else ""
            print(f"    {row['code']:<6} {linked} {row['reason'] or ''}".rstrip())
    print("\nBenefits platform accounts:")
    for account in demo.accounts:
        extension = account.get("urn:hrsync:params:scim:schemas:extension:benefits:2.0:User", {})
        emails = ", ".join(e["value"] for e in account.get("emails", []))
        print(
            f"  {account['id']:<34} active={account.get('active')!s:<5} externalId={account.get('externalId') or '-'}"
            f" level={extension.get('benefitsLevel') or '-'} leaveDate={extension.get('leaveDate') or '-'} [{emails}]"
        )
    writes = sum(n for method, n in demo.last_run_calls.items() if method != "GET")
    print(f"\nBenefits platform calls during the last run: {dict(demo.last_run_calls)}; writes: {writes}")


def benefits_demo_ok(demo: BenefitsDemo) -> list[str]:
    """The demo's promises, checked; each broken one named."""
    problems: list[str] = []
    states, accounts = demo.states, {a["id"]: a for a in demo.accounts}
    if any(run["status"] != "SUCCEEDED" for run in demo.runs):
        problems.append("a run did not succeed")
    if states.get("B001", {}).get("target_id") != "acct-ann" or states["B001"].get("matched_by") != "email":
        problems.append("B001 was not linked to its existing account by email")
    created = states.get("B002", {}).get("target_id")
    if not created or created not in accounts or accounts[created].get("externalId") != employee_id("B002"):
        problems.append("B002 (new starter flagged) was not created")
    if states.get("B003", {}).get("status") != "NOT_SYNCING" or "2 " not in (states["B003"].get("reason") or ""):
        problems.append("B003 (two accounts, one email) is not NOT_SYNCING with the reason")
    dev = accounts.get("acct-dev", {})
    if dev.get("active") is not False:
        problems.append("B004's account was not deactivated")
    eve_emails = [e["value"] for e in accounts.get("acct-eve", {}).get("emails", [])]
    if states.get("B005", {}).get("target_id") != "acct-eve" or NEW_EMAIL not in eve_emails:
        problems.append("B005's email change did not update the same account")
    if len(accounts) != len(benefits_accounts()) + 1:
        problems.append(f"expected {len(benefits_accounts()) + 1} accounts, found {len(accounts)}")
    if sum(n for method, n in demo.last_run_calls.items() if method != "GET"):
        problems.append("the last run wrote to the benefits platform")
    return problems
