"""Staffology Payroll -> the benefits platform (hr-benefits, SCIM 2.0 served by scim2-server) end to end: the five
cases of `make demo` through the local API, then a run that sends nothing."""

from __future__ import annotations

import pytest

from sandbox.benefits_demo import NEW_EMAIL, benefits_demo_ok, run_benefits_demo
from sandbox.sample import employee_id

pytestmark = pytest.mark.e2e


def test_e2e_hr_benefits_five_cases_end_as_described_and_the_last_run_sends_nothing(stack, api, systems):
    state = stack.state()
    connection = state["connections"]["hr-benefits"]
    demo = run_benefits_demo(api, connection, state["systems"]["benefits"].removesuffix("/v2"), systems["staffology"])

    assert benefits_demo_ok(demo) == []
    states, accounts = demo.states, {a["id"]: a for a in demo.accounts}
    assert (states["B001"]["target_id"], states["B001"]["matched_by"]) == ("acct-ann", "email")
    assert accounts["acct-ann"]["urn:hrsync:params:scim:schemas:extension:benefits:2.0:User"]["benefitsLevel"] == "gold"
    assert states["B002"]["matched_by"] == "created"
    assert accounts[states["B002"]["target_id"]]["externalId"] == employee_id("B002")
    assert states["B003"]["status"] == "NOT_SYNCING" and not states["B003"]["target_id"]
    assert accounts["acct-dev"]["active"] is False
    assert (
        accounts["acct-dev"]["urn:hrsync:params:scim:schemas:extension:benefits:2.0:User"]["leaveDate"] == "2026-11-20"
    )
    assert states["B005"]["target_id"] == "acct-eve" and accounts["acct-eve"]["emails"][0]["value"] == NEW_EMAIL
    assert states["B006"]["awaiting_selection"] and states["B006"]["status"] == "NOT_SYNCING"
    assert (demo.preview["would_send"], demo.preview["cannot_send"]) == (3, 1)
    assert set(demo.last_run_calls) == {"GET"}
