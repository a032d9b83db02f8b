"""The pure rules of a change-feed connector: read mode, lookups, the activation report, uploads, ownership."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hrsync.models.employee import Address, Employee, EmploymentStatus, Listing, MemberChange
from hrsync.models.records import ConflictKind
from hrsync.models.work import Action
from hrsync.sync.activation import duplicated_codes, unmatched_members
from hrsync.sync.feed import choose_read_mode
from hrsync.sync.lookups import reject_unknown_codes
from hrsync.sync.plan import Outcome, Policy, plan_run
from hrsync.sync.uploads import plan_uploads

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
WEEK = timedelta(days=7)


def _mode(**given):  # type: ignore[no-untyped-def]
    args = {
        "now": NOW,
        "full_requested": False,
        "read_to": NOW - timedelta(days=1),
        "full_read_at": NOW - timedelta(days=2),
        "connection_changed": False,
        "overlap": HOUR,
        "full_every": WEEK,
    }
    return choose_read_mode(**(args | given))


def test_read_mode_recent_full_reads_changes_since_last_read_less_overlap() -> None:
    mode = _mode()

    assert not mode.full and mode.since == NOW - timedelta(days=1) - HOUR


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ({"full_requested": True}, "asked for"),
        ({"read_to": None}, "no earlier complete read"),
        ({"full_read_at": None}, "no earlier complete read"),
        ({"full_read_at": NOW - WEEK - HOUR}, "every 7 days"),
        ({"connection_changed": True}, "connection changed"),
    ],
)
def test_read_mode_full_when_asked_first_or_weekly(given: dict[str, object], why: str) -> None:
    mode = _mode(**given)

    assert mode.full and why in mode.why


def test_unknown_lookup_code_rejected_naming_field_and_lookup_not_code() -> None:
    good = Employee(id="A1", code="A1", location="SYD", address=Address(state="NSW"))
    bad_state = Employee(id="A2", code="A2", location="SYD", address=Address(state="WA"))
    bad_location = Employee(id="A3", code="A3", location="PER")
    lookups = {"Location": {"SYD"}, "State": {"NSW"}, "PayPoint": None}

    kept, rejected = reject_unknown_codes(
        [good, bad_state, bad_location, Employee(id="A4", code="A4", pay_point="ZZ")],
        {"location": "Location", "address.state": "State", "pay_point": "PayPoint"},
        lookups,
        "MicrOpay",
    )

    assert [e.id for e in kept] == ["A1", "A4"]  # a lookup that could not be read checks nothing
    assert [(r.record_id, r.field, r.reason) for r in rejected] == [
        ("A2", "address.state", "code is not in MicrOpay's State lookup"),
        ("A3", "location", "code is not in MicrOpay's Location lookup"),
    ]


def test_unmatched_member_reported_and_claimed_by_email() -> None:
    target = Listing(
        records=[
            Employee(id="m-1", code="A1", email="a@x.com"),
            Employee(id="m-9", code="A09", email="Flo@x.com"),
            Employee(id="m-8", code="OLD", status=EmploymentStatus.FORMER),
        ]
    )
    source = [Employee(id="A1", code="A1", email="a@x.com"), Employee(id="A9", code="A9", email="flo@x.com")]

    [conflict] = unmatched_members(target, {"A1", "A9"}, source, source_name="MicrOpay", target_name="Access ESS")

    assert conflict.kind is ConflictKind.UNMATCHED_TARGET_RECORD
    assert conflict.target_ids == ("m-9",) and conflict.employee_ids == ("A9",) and conflict.code == "A09"
    assert "matches no MicrOpay employee" in conflict.reason and "flo@" not in conflict.reason.lower()


def test_duplicated_codes_only_codes_held_twice() -> None:
    target = Listing(records=[Employee(id="1", code="A"), Employee(id="2", code="A"), Employee(id="3", code="B")])

    assert duplicated_codes(target) == {"A"}


def _change(code: str, member: str, *fields: str, minute: int = 0) -> MemberChange:
    return MemberChange(
        change_id=f"{code}{minute}",
        member_id=member,
        employee_code=code,
        fields=fields,
        changed_at=NOW + timedelta(minutes=minute),
    )


def test_plan_uploads_pay_fields_for_approval_rest_immediate_unlinked_skipped() -> None:
    changes = [
        _change("A1", "m-1", "address"),
        _change("A1", "m-1", "bank_accounts", "address", minute=1),
        _change("A2", "m-2", "phone"),
        _change("A3", "m-3b", "phone"),
    ]

    plan = plan_uploads(changes, {"A1": "m-1", "A3": "m-3a"}, ("bank_accounts",))

    [upload] = plan.uploads
    assert (upload.employee_id, upload.immediate, upload.for_approval) == ("A1", ("address",), ("bank_accounts",))
    assert upload.edited_at == NOW + timedelta(minutes=1)  # the latest edit: an upload after it is not repeated
    assert [code for code, _ in plan.skipped] == ["A2", "A3"]


POLICY = Policy(
    source_name="MicrOpay",
    target_name="Access ESS",
    required_fields=("code",),
    synced_fields=("code", "first_name", "last_name", "location"),
    create_only_fields=("phone", "address"),
)


def test_plan_create_sends_create_only_fields_update_never_compares_them() -> None:
    new = Employee(
        id="A1", code="A1", first_name="Ann", last_name="Lee", location="SYD", phone="1", address=Address(street="x")
    )
    linked = Employee(
        id="A2",
        code="A2",
        first_name="Bo",
        last_name="Ray",
        location="MEL",
        phone="2",
        address=Address(street="payroll"),
    )
    member = Employee(
        id="m-2", code="A2", first_name="Bo", last_name="Ray", location="SYD", phone="9", address=Address(street="mine")
    )

    plan = plan_run(Listing(records=[new, linked]), Listing(records=[member]), {}, POLICY, departments=None)

    by_id = {p.employee_id: p for p in plan.employees}
    assert by_id["A1"].action is Action.CREATE and {"phone", "address", "location"} <= set(by_id["A1"].fields)
    assert by_id["A2"].action is Action.UPDATE and by_id["A2"].fields == ("location",)


def test_plan_force_sends_synced_fields_of_an_in_step_employee() -> None:
    employee = Employee(id="A2", code="A2", first_name="Bo", last_name="Ray", location="MEL")
    member = Employee(id="m-2", code="A2", first_name="Bo", last_name="Ray", location="MEL")

    normal = plan_run(Listing(records=[employee]), Listing(records=[member]), {}, POLICY, departments=None)
    forced = plan_run(Listing(records=[employee]), Listing(records=[member]), {}, POLICY, departments=None, force=True)

    assert normal.employees[0].outcome is Outcome.IN_STEP
    assert forced.employees[0].action is Action.UPDATE
    assert forced.employees[0].fields == ("code", "first_name", "last_name", "location")


def test_plan_known_conflict_holds_its_employee_and_goes_on_report() -> None:
    employee = Employee(id="A9", code="A9", first_name="Flo", last_name="Gee")
    [conflict] = unmatched_members(
        Listing(records=[Employee(id="m-9", code="A09", email="f@x.com")]),
        {"A9"},
        [employee.model_copy(update={"email": "f@x.com"})],
        source_name="MicrOpay",
        target_name="Access ESS",
    )

    plan = plan_run(Listing(records=[employee]), Listing(), {}, POLICY, departments=None, known_conflicts=(conflict,))

    assert plan.employees[0].outcome is Outcome.CONFLICT and plan.employees[0].reason == conflict.reason
    assert plan.conflicts == [conflict]
