"""micropay-worknice's declaration: directions per data group, what is refused, and a plan that only links."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from hrsync.connectors.micropay_worknice import CONNECTOR
from hrsync.errors import ConfigurationError
from hrsync.models.connection import Connection
from hrsync.models.employee import Employee, EmploymentStatus, Listing
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
        ({"bank": "two_way"}, "options.directions.bank: two_way is not supported"),
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
