"""Staffology Payroll -> ExpenseIn users, one way.

Matched only by payroll code == user reference. Names and email are kept in step; the department follows
the employee's department code where ExpenseIn has a department with that reference; bank details only when
the connection's include_bank_details option is on.
"""

from __future__ import annotations

from hrsync.connectors.base import Connector, target_budget
from hrsync.connectors.sources import open_staffology
from hrsync.models.connection import Connection, Credentials
from hrsync.sync.plan import Policy
from hrsync.systems.expensein import ExpenseIn
from hrsync.systems.http import RetryPolicy

NAME = "staffology-expensein"


def _target(connection: Connection, credentials: Credentials, policy: RetryPolicy) -> ExpenseIn:
    return ExpenseIn.connect(
        str(connection.target.base_url),
        credentials.target.api_key,
        policy,
        include_bank=connection.options.include_bank_details,
        budget=target_budget(connection),
    )


def _policy(connection: Connection) -> Policy:
    synced = ["first_name", "last_name", "email", "code", "department_code", "leave_date"]
    if connection.options.include_bank_details:
        synced.append("bank")
    return Policy(
        source_name="Staffology Payroll",
        target_name="ExpenseIn",
        required_fields=("first_name", "last_name", "email", "code"),
        synced_fields=tuple(synced),
    )


CONNECTOR = Connector(
    name=NAME,
    source_name="Staffology Payroll",
    target_name="ExpenseIn",
    open_source=open_staffology,
    open_target=_target,
    policy_for=_policy,
)
