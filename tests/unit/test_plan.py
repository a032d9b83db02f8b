"""The Staffology Payroll -> ExpenseIn rules, on the pure planning code."""

from __future__ import annotations

from datetime import date

from hrsync.connectors.staffology_expensein import CONNECTOR
from hrsync.models.employee import BankDetails, Employee, EmploymentStatus, Listing, RecordRejection
from hrsync.models.records import ConflictKind
from hrsync.models.work import Action
from hrsync.sync.plan import Outcome, Plan, plan_run
from tests.factories import staffology_expensein

CONN = staffology_expensein()
POLICY = CONNECTOR.policy_for(CONN)
BANK_POLICY = CONNECTOR.policy_for(
    CONN.model_copy(update={"options": CONN.options.model_copy(update={"include_bank_details": True})})
)
DEPTS = {"SALES", "ENG"}


def emp(id_: str, code: str | None = None, **kw: object) -> Employee:
    base = {"first_name": "Ann", "last_name": "Lee", "email": f"{id_}@example.com", "department_code": "SALES"}
    base.update(kw)
    return Employee(id=id_, code=code if code is not None else f"P{id_}", **base)


def user(id_: str, code: str | None, **kw: object) -> Employee:
    return emp(id_, code=code or "", **kw).model_copy(update={"code": code})


def run(source: list[Employee], target: list[Employee], links: dict[str, str] | None = None, **kw: object) -> Plan:
    return plan_run(
        Listing(records=source, **{k: v for k, v in kw.items() if k in ("rejections",)}),
        Listing(records=target),
        links or {},
        kw.get("policy", POLICY),  # type: ignore[arg-type]
        departments=DEPTS,
        today=date(2026, 11, 22),
    )


def one(plan: Plan, employee_id: str):
    [p] = [p for p in plan.employees if p.employee_id == employee_id]
    return p


def test_plan_new_current_employee_with_no_user_creates():
    plan = run([emp("1")], [])
    p = one(plan, "1")
    assert (p.outcome, p.action) == (Outcome.APPLY, Action.CREATE)
    assert set(p.fields) == {"first_name", "last_name", "email", "code", "department_code"}


def test_plan_upcoming_employee_creates():
    assert one(run([emp("1", status=EmploymentStatus.UPCOMING)], []), "1").action is Action.CREATE


def test_plan_matches_only_by_payroll_code_equal_to_reference():
    source = [emp("1", code="P1")]
    plan = run(source, [user("u1", "P1", email="1@example.com")])
    p = one(plan, "1")
    assert p.outcome is Outcome.IN_STEP and p.target_id == "u1" and p.matched_by == "payroll_code"
    # a reference that differs in case is not a match, and the email then blocks the create
    plan = run(source, [user("u1", "p1", email="1@example.com")])
    assert one(plan, "1").outcome is Outcome.NOT_SYNCING


def test_plan_missing_required_fields_not_syncing_naming_them():
    plan = run([emp("1", email=None), emp("2", first_name=None, last_name="")], [])
    assert one(plan, "1").outcome is Outcome.NOT_SYNCING
    assert one(plan, "1").reason == "missing required field: email"
    assert one(plan, "2").reason == "missing required fields: first name, last name"
    assert plan.to_apply == []


def test_plan_missing_payroll_code_not_syncing():
    p = one(run([emp("1", code="")], []), "1")
    assert p.outcome is Outcome.NOT_SYNCING and "payroll code" in (p.reason or "")


def test_plan_invalid_email_not_syncing_without_the_address():
    p = one(run([emp("1", email="not-an-email")], []), "1")
    assert p.outcome is Outcome.NOT_SYNCING and p.reason == "email is not a valid address"


def test_plan_email_used_by_user_without_reference_not_syncing():
    p = one(run([emp("1")], [user("u9", None, email="1@EXAMPLE.com")]), "1")
    assert p.outcome is Outcome.NOT_SYNCING
    assert "no reference" in (p.reason or "") and "administrator" in (p.reason or "")


def test_plan_email_used_by_user_with_other_reference_not_syncing():
    p = one(run([emp("1")], [user("u9", "OTHER", email="1@example.com")]), "1")
    assert p.outcome is Outcome.NOT_SYNCING and "another reference" in (p.reason or "")


def test_plan_two_users_with_same_reference_conflict():
    plan = run([emp("1", code="P1")], [user("u1", "P1"), user("u2", "P1", email="x@example.com")])
    assert one(plan, "1").outcome is Outcome.CONFLICT
    [conflict] = plan.conflicts
    assert conflict.kind is ConflictKind.DUPLICATE_TARGET_REFERENCE
    assert conflict.target_ids == ("u1", "u2") and conflict.employee_ids == ("1",)


def test_plan_two_employees_with_same_payroll_code_conflict_and_neither_syncs():
    plan = run([emp("1", code="P1"), emp("2", code="P1"), emp("3")], [])
    assert one(plan, "1").outcome is Outcome.CONFLICT and one(plan, "2").outcome is Outcome.CONFLICT
    assert one(plan, "3").action is Action.CREATE
    assert [c.kind for c in plan.conflicts] == [ConflictKind.DUPLICATE_PAYROLL_CODE]
    assert "P1" in plan.conflicts[0].reason


def test_plan_changed_names_and_email_update_linked_user():
    target = [user("u1", "P1", first_name="Anne", email="old@example.com")]
    p = one(run([emp("1", code="P1")], target, {"1": "u1"}), "1")
    assert (p.outcome, p.action, p.target_id) == (Outcome.APPLY, Action.UPDATE, "u1")
    assert set(p.fields) == {"first_name", "email"}


def test_plan_user_edited_in_target_is_overwritten():
    # the target's actual state is what counts, not what was last sent
    target = [user("u1", "P1", last_name="Edited", email="1@example.com")]
    p = one(run([emp("1", code="P1")], target, {"1": "u1"}), "1")
    assert p.action is Action.UPDATE and p.fields == ("last_name",)


def test_plan_matching_user_sends_nothing():
    target = [user("u1", "P1", email="1@example.com")]
    assert run([emp("1", code="P1")], target, {"1": "u1"}).to_apply == []


def test_plan_bank_details_only_when_option_on():
    bank = BankDetails(account_name="A Lee", account_number="12345678", sort_code="12-34-56")
    source = [emp("1", code="P1", bank=bank)]
    target = [user("u1", "P1", email="1@example.com")]
    assert run(source, target, {"1": "u1"}).to_apply == []
    create = one(run(source, []), "1")
    assert "bank" not in create.fields
    p = one(run(source, target, {"1": "u1"}, policy=BANK_POLICY), "1")
    assert p.fields == ("bank",)
    assert "bank" in one(run(source, [], policy=BANK_POLICY), "1").fields


def test_plan_unmatched_department_leaves_department_and_warns():
    target = [user("u1", "P1", email="1@example.com", department_code="ENG")]
    p = one(run([emp("1", code="P1", department_code="NOPE")], target, {"1": "u1"}), "1")
    assert p.outcome is Outcome.IN_STEP
    assert p.warnings and "NOPE" in p.warnings[0]
    create = one(run([emp("2", department_code="NOPE")], []), "2")
    assert "department_code" not in create.fields and create.warnings


def test_plan_matched_department_is_updated():
    target = [user("u1", "P1", email="1@example.com", department_code="ENG")]
    p = one(run([emp("1", code="P1", department_code="SALES")], target, {"1": "u1"}), "1")
    assert p.fields == ("department_code",)


def test_plan_former_with_linked_user_marks_leaver():
    leaver = emp("1", code="P1", status=EmploymentStatus.FORMER, leave_date=date(2026, 10, 31))
    p = one(run([leaver], [user("u1", "P1", email="1@example.com")], {"1": "u1"}), "1")
    assert (p.outcome, p.action, p.target_id) == (Outcome.APPLY, Action.MARK_LEAVER, "u1")


def test_plan_former_already_marked_sends_nothing():
    leaver = emp("1", code="P1", status=EmploymentStatus.FORMER, leave_date=date(2026, 10, 31))
    target = [user("u1", "P1", email="1@example.com", leave_date=date(2026, 10, 31))]
    assert one(run([leaver], target, {"1": "u1"}), "1").outcome is Outcome.IN_STEP


def test_plan_former_without_user_is_never_created():
    p = one(run([emp("1", status=EmploymentStatus.FORMER)], []), "1")
    assert p.outcome is Outcome.NOT_SYNCING and "never created" in (p.reason or "")


def test_plan_incomplete_source_listing_withholds_leaver_marks():
    leaver = emp("1", code="P1", status=EmploymentStatus.FORMER, leave_date=date(2026, 10, 31))
    plan = plan_run(
        Listing(records=[leaver], complete=False, incomplete_reason="page 3 failed"),
        Listing(records=[user("u1", "P1", email="1@example.com")]),
        {"1": "u1"},
        POLICY,
        departments=DEPTS,
    )
    assert one(plan, "1").outcome is Outcome.NOT_SYNCING
    assert plan.to_apply == [] and "no leaver marks" in plan.notes[0]


def test_plan_rejected_source_record_not_syncing_with_field():
    rejection = RecordRejection(record_id="9", position="employee 9", field="personalDetails.firstName", reason="bad")
    plan = run([], [], rejections=[rejection])
    p = one(plan, "9")
    assert p.outcome is Outcome.NOT_SYNCING and "personalDetails.firstName" in (p.reason or "")


def test_plan_record_without_id_counted_and_noted():
    rejection = RecordRejection(record_id=None, position="page 0 item 3", field="id", reason="missing")
    plan = run([], [], rejections=[rejection])
    assert plan.unreadable == 1 and "page 0 item 3" in plan.notes[0]


def test_plan_every_employee_gets_exactly_one_outcome():
    source = [emp(str(i)) for i in range(20)] + [emp("dup", code="P1"), emp("dup2", code="P1")]
    plan = run(source, [user("u1", "P3", email="3@example.com")])
    ids = [p.employee_id for p in plan.employees]
    assert sorted(ids) == sorted(e.id for e in source)


def test_plan_markup_in_names_not_syncing_naming_the_field():
    p = one(run([emp("1", last_name="<script>alert(1)</script>")], []), "1")
    assert p.outcome is Outcome.NOT_SYNCING and p.reason == "last name contains markup (< or >)"


def test_plan_names_with_apostrophes_and_accents_sync():
    assert one(run([emp("1", first_name="Zoë", last_name="O'Brien-Núñez")], []), "1").action is Action.CREATE
