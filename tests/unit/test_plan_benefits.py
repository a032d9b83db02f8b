"""The hr-benefits rules on the pure planning code: opt-in, link by email then by id, levels, leavers."""

from __future__ import annotations

from datetime import date

from hrsync.connectors.hr_benefits import CONNECTOR
from hrsync.models.connection import Connection
from hrsync.models.employee import Employee, EmploymentStatus, Listing
from hrsync.models.records import EmployeeState, SyncStatus
from hrsync.models.work import Action
from hrsync.sync.assigned import with_assignments
from hrsync.sync.plan import Outcome, Plan, plan_run

CONN = Connection.model_validate(
    {
        "id": "b1",
        "connector": "hr-benefits",
        "source": {"base_url": "http://127.0.0.1:1", "employer_id": "e", "system": "staffology"},
        "target": {"base_url": "http://127.0.0.1:2/v2"},
        "secret_name": "hrsync/b1",
        "created_at": "x",
        "updated_at": "x",
    }
)
POLICY = CONNECTOR.policy_for(CONN)


def emp(id_: str, **kw: object) -> Employee:
    base: dict[str, object] = {
        "code": f"P{id_}",
        "first_name": "Ann",
        "last_name": "Lee",
        "email": f"person{id_}@example.com",
        "department_code": "SALES",
    }
    base.update(kw)
    return Employee(id=id_, **base)  # type: ignore[arg-type]


def account(id_: str, email: str, *, of: str | None = None, **kw: object) -> Employee:
    """A benefits account; `of` is the source employee it already carries as external id (in step)."""
    base: dict[str, object] = {"first_name": "Ann", "last_name": "Lee", "email": email, "department_code": "SALES"}
    if of is not None:
        base.update(code=f"P{of}", external_id=of)
    base.update(kw)
    return Employee(id=id_, **base)  # type: ignore[arg-type]


def run(
    source: list[Employee],
    target: list[Employee],
    links: dict[str, str] | None = None,
    enrolled: set[str] | None = None,
    only: set[str] | None = None,
) -> Plan:
    return plan_run(
        Listing(records=source),
        Listing(records=target),
        links or {},
        POLICY,
        departments=None,
        only=only,
        enrolled=enrolled,
        today=date(2026, 11, 22),
    )


def one(plan: Plan, employee_id: str):
    [p] = [p for p in plan.employees if p.employee_id == employee_id]
    return p


def test_plan_benefits_not_selected_not_flagged_waits_in_not_syncing_and_nothing_is_linked():
    plan = run([emp("1")], [account("a1", "person1@example.com")])
    p = one(plan, "1")
    assert p.outcome is Outcome.NOT_SYNCING and p.awaiting_selection
    assert "not selected" in (p.reason or "") and p.target_id is None and p.matched_by is None


def test_plan_benefits_selected_one_account_with_the_email_any_case_is_linked_and_updated():
    plan = run([emp("1")], [account("a1", "PERSON1@Example.com")], enrolled={"1"})
    p = one(plan, "1")
    assert (p.outcome, p.action, p.target_id, p.matched_by) == (Outcome.APPLY, Action.UPDATE, "a1", "email")
    # the account gets hrsync's id and the payroll code; an email differing only in case is not a change
    assert set(p.fields) == {"code", "external_id"}


def test_plan_benefits_selected_no_account_is_created_with_every_known_field():
    p = one(run([emp("1")], [], enrolled={"1"}), "1")
    assert (p.outcome, p.action) == (Outcome.APPLY, Action.CREATE)
    assert {"first_name", "last_name", "email", "code", "department_code", "external_id"} <= set(p.fields)


def test_plan_benefits_two_accounts_with_the_email_is_not_syncing_naming_why():
    plan = run([emp("1")], [account("a1", "person1@example.com"), account("a2", "Person1@example.com")], enrolled={"1"})
    p = one(plan, "1")
    assert p.outcome is Outcome.NOT_SYNCING and not p.awaiting_selection
    assert p.reason and p.reason.startswith("2 Benefits platform accounts have this email")
    assert "person1" not in p.reason  # the reason names no personal data


def test_plan_benefits_flagged_new_starter_is_created_without_selection():
    starter = emp("1", status=EmploymentStatus.UPCOMING, create_benefits_record=True)
    p = one(run([starter], []), "1")
    assert (p.outcome, p.action) == (Outcome.APPLY, Action.CREATE)


def test_plan_benefits_linked_employee_whose_email_changed_updates_the_linked_account_only():
    linked = account("a1", "old@example.com", of="1")
    other = account("a2", "someone@example.com")
    plan = run([emp("1", email="new@example.com")], [linked, other], links={"1": "a1"})
    p = one(plan, "1")
    assert (p.outcome, p.action, p.target_id, p.fields) == (Outcome.APPLY, Action.UPDATE, "a1", ("email",))


def test_plan_benefits_linked_employee_new_email_held_by_another_account_is_not_syncing():
    linked = account("a1", "old@example.com", of="1")
    other = account("a2", "new@example.com")
    p = one(run([emp("1", email="new@example.com")], [linked, other], links={"1": "a1"}), "1")
    assert p.outcome is Outcome.NOT_SYNCING and p.target_id == "a1" and "another" in (p.reason or "")


def test_plan_benefits_linked_and_in_step_sends_nothing():
    p = one(run([emp("1")], [account("a1", "person1@example.com", of="1")], links={"1": "a1"}), "1")
    assert p.outcome is Outcome.IN_STEP and p.target_id == "a1"


def test_plan_benefits_level_change_is_an_update():
    target = [account("a1", "person1@example.com", of="1", benefits_level="silver")]
    p = one(run([emp("1", benefits_level="gold")], target, links={"1": "a1"}), "1")
    assert (p.action, p.fields) == (Action.UPDATE, ("benefits_level",))


def test_plan_benefits_level_assigned_in_hrsync_wins_over_the_source():
    state = EmployeeState(
        connection_id="b1", employee_id="1", status=SyncStatus.SUCCESSFUL, assigned_benefits_level="gold"
    )
    assert with_assignments(emp("1", benefits_level="silver"), state).benefits_level == "gold"
    assert with_assignments(emp("1", benefits_level="silver"), None).benefits_level == "silver"


def test_plan_benefits_linked_leaver_is_deactivated_and_unlinked_leaver_never_created():
    gone = emp("1", status=EmploymentStatus.FORMER, leave_date=date(2026, 11, 20))
    never = emp("2", status=EmploymentStatus.FORMER, leave_date=date(2026, 11, 20))
    plan = run([gone, never], [account("a1", "person1@example.com", of="1")], links={"1": "a1"}, enrolled={"2"})
    assert (one(plan, "1").action, one(plan, "1").target_id) == (Action.MARK_LEAVER, "a1")
    assert one(plan, "2").outcome is Outcome.NOT_SYNCING and "never created" in (one(plan, "2").reason or "")


def test_plan_benefits_deactivated_leaver_with_its_date_is_in_step():
    gone = emp("1", status=EmploymentStatus.FORMER, leave_date=date(2026, 11, 20))
    deactivated = account(
        "a1", "person1@example.com", of="1", status=EmploymentStatus.FORMER, leave_date=date(2026, 11, 20)
    )
    assert one(run([gone], [deactivated], links={"1": "a1"}), "1").outcome is Outcome.IN_STEP


def test_plan_benefits_selected_but_missing_email_is_not_syncing_naming_the_field():
    p = one(run([emp("1", email=None)], [], enrolled={"1"}), "1")
    assert p.outcome is Outcome.NOT_SYNCING and p.reason == "missing required field: email"
    assert not p.awaiting_selection


def test_plan_benefits_a_selection_run_plans_only_the_selected():
    plan = run([emp("1"), emp("2")], [], only={"2"}, enrolled={"2"})
    assert [p.employee_id for p in plan.employees] == ["2"]


def test_plan_benefits_account_held_by_two_employees_by_email_is_a_conflict():
    twins = [emp("1", email="shared@example.com"), emp("2", email="shared@example.com")]
    plan = run(twins, [account("a1", "shared@example.com")], enrolled={"1", "2"})
    assert {p.outcome for p in plan.employees} == {Outcome.CONFLICT}


def test_plan_benefits_unreadable_platform_fails_those_in_the_sync_only():
    plan = plan_run(
        Listing(records=[emp("1"), emp("2")]),
        Listing(complete=False, incomplete_reason="accounts from 101: 503"),
        {"1": "a1"},
        POLICY,
        departments=None,
    )
    assert one(plan, "1").outcome is Outcome.FAILED
    outside = one(plan, "2")
    assert outside.outcome is Outcome.NOT_SYNCING and "could not be read in full" in (outside.reason or "")


def test_plan_benefits_unreadable_source_record_fails_only_when_in_the_sync():
    from hrsync.models.employee import RecordRejection

    rejections = [
        RecordRejection(record_id=i, position=f"employee {i}", field="(read)", reason="timed out", retryable=True)
        for i in ("1", "2")
    ]
    plan = plan_run(Listing(rejections=rejections), Listing(), {}, POLICY, departments=None, enrolled={"1"})
    assert one(plan, "1").outcome is Outcome.FAILED
    assert one(plan, "2").outcome is Outcome.NOT_SYNCING and "could not be read" in (one(plan, "2").reason or "")
