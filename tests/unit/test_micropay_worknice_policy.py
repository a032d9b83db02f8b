"""micropay-worknice's declaration: directions per data group, what is refused, and a plan that only links."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from hrsync.connectors.micropay_worknice import CONNECTOR
from hrsync.errors import ConfigurationError
from hrsync.models.connection import Connection
from hrsync.models.employee import BankShare, Employee, EmploymentStatus, Listing, RecordRejection
from hrsync.sync.groups import DEFAULTS, directions
from hrsync.sync.merge import Direction
from hrsync.sync.plan import Outcome, plan_run


def connection(**options: Any) -> Connection:
    return Connection.model_validate(
        {
            "id": "c1",
            "connector": "micropay-worknice",
            "source": {"base_url": "http://127.0.0.1:1"},
            "target": {"base_url": "http://127.0.0.1:2", "employer_id": "int-1"},
            "secret_name": "hrsync/c1",
            "options": options,
            "created_at": "x",
            "updated_at": "x",
        }
    )


def test_directions_default_to_the_vendor_table() -> None:
    assert directions(connection()) == {
        "personal": Direction.TWO_WAY,
        "tax": Direction.TWO_WAY,
        "bank": Direction.SOURCE_TO_TARGET,
        "super": Direction.SOURCE_TO_TARGET,
        "leave_requests": Direction.TARGET_TO_SOURCE,
        "leave_balances": Direction.SOURCE_TO_TARGET,
    }
    assert directions(connection()) == DEFAULTS


def test_directions_take_a_supported_choice_per_group() -> None:
    chosen = directions(connection(directions={"personal": "target_to_source", "tax": "off"}))

    assert (chosen["personal"], chosen["tax"]) == (Direction.TARGET_TO_SOURCE, Direction.OFF)


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        ({"super": "two_way"}, "options.directions.super: two_way is not supported"),
        ({"super": "target_to_source"}, "options.directions.super"),
        ({"leave_requests": "source_to_target"}, "options.directions.leave_requests"),
        ({"leave_balances": "two_way"}, "payroll accrues leave"),
        ({"salary": "off"}, "not a data group"),
        ({"tax": "both"}, "'both' is not a direction"),
    ],
)
def test_unsupported_direction_is_a_configuration_error_naming_the_option(chosen: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        CONNECTOR.policy_for(connection(directions=chosen))


def test_policy_needs_the_worknice_integration_id() -> None:
    bare = connection().model_copy(update={"target": connection().target.model_copy(update={"employer_id": None})})
    with pytest.raises(ConfigurationError, match=r"target\.employer_id"):
        CONNECTOR.policy_for(bare)


def test_plan_links_by_employee_id_and_never_creates_or_marks_leavers() -> None:
    policy = CONNECTOR.policy_for(connection())
    source = Listing(
        records=[
            Employee(id="P1", code="P1"),
            Employee(id="P2", code="P2"),
            Employee(id="P3", code="P3", status=EmploymentStatus.FORMER, leave_date=date(2026, 1, 31)),
        ]
    )
    target = Listing(records=[Employee(id="wn-1", code="P1"), Employee(id="wn-3", code="P3")])

    plan = {p.employee_id: p for p in plan_run(source, target, {}, policy, departments=None).employees}

    assert (plan["P1"].outcome, plan["P1"].target_id) == (Outcome.IN_STEP, "wn-1")
    assert plan["P2"].outcome is Outcome.NOT_SYNCING
    assert "does not create Worknice persons" in (plan["P2"].reason or "")
    assert plan["P3"].outcome is Outcome.NOT_SYNCING
    assert "offboarded in Worknice itself" in (plan["P3"].reason or "")
    assert all(p.action is None for p in plan.values())


def test_plan_says_a_worknice_person_it_could_not_read_is_why_and_not_that_there_is_none() -> None:
    from hrsync.systems.worknice import person_from_worknice
    from sandbox.sample import worknice_person

    unreadable = person_from_worknice({**worknice_person("wn-2", "P2", "Ann", "Lee"), "startDate": "not-a-date"})
    assert isinstance(unreadable, RecordRejection) and unreadable.keys == {"code": "P2"}
    policy = CONNECTOR.policy_for(connection())
    source = Listing(records=[Employee(id="P2", code="P2")])

    [p2] = plan_run(source, Listing(rejections=[unreadable]), {}, policy, departments=None).employees

    assert p2.outcome is Outcome.NOT_SYNCING
    assert p2.reason == "the Worknice person holding this employee ID could not be read (field startDate)"


@pytest.mark.parametrize("direction", ["two_way", "target_to_source", "source_to_target", "off"])
def test_directions_bank_takes_every_direction_since_percentages_are_converted_per_employee(direction: str) -> None:
    assert directions(connection(directions={"bank": direction}))["bank"] == Direction(direction)
    CONNECTOR.policy_for(connection(directions={"bank": direction}, prefer={"bank": "target"}))


def split_in_percentages() -> tuple[BankShare, ...]:
    return (
        BankShare(bsb="062-000", account_number="11112222", percentage=Decimal(30), order=1),
        BankShare(bsb="033-000", account_number="33334444", balance_of_pay=True, order=2),
    )


@pytest.mark.parametrize("direction", ["two_way", "target_to_source"])
def test_plan_reading_worknice_bank_without_pay_is_not_syncing_naming_the_field(direction: str) -> None:
    policy = CONNECTOR.policy_for(connection(directions={"bank": direction}))
    source = Listing(records=[Employee(id="P1", code="P1"), Employee(id="P2", code="P2", standard_net_pay="1500.00")])
    target = Listing(
        records=[
            Employee(id="wn-1", code="P1", bank_split=split_in_percentages()),
            Employee(id="wn-2", code="P2", bank_split=split_in_percentages()),
        ]
    )

    plan = {p.employee_id: p for p in plan_run(source, target, {}, policy, departments=None).employees}

    held = plan["P1"]
    assert (held.outcome, held.target_id) == (Outcome.NOT_SYNCING, "wn-1")
    assert "standardNetPay" in (held.reason or "") and "bankAccounts.percentage" in (held.reason or "")
    assert not any(value in (held.reason or "") for value in ("30", "062-000", "11112222"))
    assert plan["P2"].outcome is Outcome.IN_STEP  # the pay is known: converted by the groups' step


def test_plan_reading_worknice_bank_split_that_does_not_add_up_is_not_syncing() -> None:
    policy = CONNECTOR.policy_for(connection(directions={"bank": "two_way"}))
    too_much = (
        BankShare(bsb="062-000", account_number="1", percentage=Decimal(70), order=1),
        BankShare(bsb="062-000", account_number="2", percentage=Decimal(40), order=2),
    )
    source = Listing(records=[Employee(id="P1", code="P1", standard_net_pay="1500.00")])
    target = Listing(records=[Employee(id="wn-1", code="P1", bank_split=too_much)])

    [planned] = plan_run(source, target, {}, policy, departments=None).employees

    assert planned.outcome is Outcome.NOT_SYNCING
    assert "add up to more than 100" in (planned.reason or "")


def test_plan_bank_from_micropay_only_needs_no_pay() -> None:
    policy = CONNECTOR.policy_for(connection())  # bank: source_to_target, payroll's amounts overwrite
    source = Listing(records=[Employee(id="P1", code="P1")])
    target = Listing(records=[Employee(id="wn-1", code="P1", bank_split=split_in_percentages())])

    [planned] = plan_run(source, target, {}, policy, departments=None).employees

    assert planned.outcome is Outcome.IN_STEP
