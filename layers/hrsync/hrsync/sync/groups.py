"""micropay-worknice's data groups: which canonical fields each holds, the default and the supported directions.
Pure: the connector checks a connection against these when it is saved, and the run reads them.

Source is MicrOpay, target is Worknice: `source_to_target` is MicrOpay -> Worknice.
"""

from __future__ import annotations

from hrsync.errors import ConfigurationError
from hrsync.models.connection import Connection
from hrsync.sync.merge import Direction, Prefer

S2T, T2S, TWO, OFF = Direction.SOURCE_TO_TARGET, Direction.TARGET_TO_SOURCE, Direction.TWO_WAY, Direction.OFF

# Canonical fields of each data group that moves field by field. Names are payroll-owned in MicrOpay
# (ChangeEmployeeImmediate takes no legal names), so personal details here are the contact fields.
FIELD_GROUPS: dict[str, tuple[str, ...]] = {
    "personal": ("email", "phone", "address"),
    "tax": ("tax",),
    "bank": ("bank_accounts",),
    "super": ("super_fund",),
}
GROUPS = (*FIELD_GROUPS, "leave_requests", "leave_balances")
DEFAULTS: dict[str, Direction] = {
    "personal": TWO,
    "tax": TWO,
    "bank": S2T,
    "super": S2T,
    "leave_requests": T2S,
    "leave_balances": S2T,
}
# Directions each group cannot take, and why (the 422's reason). Bank accounts may take any: MicrOpay holds
# fixed amounts and Worknice may split by percentage, but a split in percentages is converted against MicrOpay's
# standard net pay (sync/bank.py), and an employee whose split cannot be converted is NOT_SYNCING with the reason
# (the connector's `Policy.cannot_sync`), so refusing the whole connection would hold back everyone else.
UNSUPPORTED: dict[tuple[str, Direction], str] = {
    ("super", TWO): "superannuation is kept in payroll and flows MicrOpay -> Worknice only",
    ("super", T2S): "superannuation is kept in payroll and flows MicrOpay -> Worknice only",
    ("leave_requests", TWO): "a leave request is approved in one system and recorded in the other, not merged",
    ("leave_requests", S2T): "leave requests are made and approved in Worknice and recorded in MicrOpay",
    ("leave_balances", TWO): "payroll accrues leave: balances flow MicrOpay -> Worknice only",
    ("leave_balances", T2S): "payroll accrues leave: balances flow MicrOpay -> Worknice only",
}


def directions(connection: Connection) -> dict[str, Direction]:
    """Each group's direction (the defaults where the connection names none); ConfigurationError (422)
    naming the option and the reason for an unknown group, an unknown direction or an unsupported one."""
    chosen = dict(DEFAULTS)
    for group, raw in connection.options.directions.items():
        if group not in GROUPS:
            raise ConfigurationError(f"options.directions.{group}: not a data group; groups: {', '.join(GROUPS)}")
        try:
            direction = Direction(raw)
        except ValueError:
            known = ", ".join(d.value for d in Direction)
            raise ConfigurationError(
                f"options.directions.{group}: {raw!r} is not a direction; one of {known}"
            ) from None
        reason = UNSUPPORTED.get((group, direction))
        if reason:
            raise ConfigurationError(f"options.directions.{group}: {direction.value} is not supported: {reason}")
        chosen[group] = direction
    for group in connection.options.prefer:
        if group not in FIELD_GROUPS or (group, TWO) in UNSUPPORTED:
            raise ConfigurationError(f"options.prefer.{group}: only a group that can be two_way takes a preference")
    return chosen


def prefer(connection: Connection, group: str) -> Prefer:
    return connection.options.prefer.get(group, "review")


def integration_id(connection: Connection) -> str:
    """Worknice's id of the MicrOpay integration, kept in `target.employer_id`."""
    if not connection.target.employer_id:
        raise ConfigurationError(
            f"connection {connection.id}: target.employer_id (Worknice's integration id) is required"
        )
    return connection.target.employer_id
