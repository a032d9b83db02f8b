"""MicrOpay <-> Worknice: people linked by employee ID, each data group flowing the way the connection says.

Source is MicrOpay (payroll), target is Worknice (HR): `source_to_target` is MicrOpay -> Worknice. A person is
linked by their employee ID (MicrOpay's EmpCode == Worknice's employeeCode); hrsync never creates Worknice
people nor marks leavers there. The plan links; the field work is done by `two_way.sync_data_groups` (the
connector's upload step): one-way groups overwrite the receiving side, two_way groups are merged field by
field against a stored base (sync/merge.py), with a conflict for review where both sides changed differently.

Defaults follow Worknice's own MicrOpay integration table (../shared/specs/vendor-notes.md): personal and tax
both ways, bank and super MicrOpay -> Worknice, leave requests Worknice -> MicrOpay, leave balances
MicrOpay -> Worknice. A direction the systems cannot support is refused when the connection is saved (422).

Bank accounts may flow either way or both: MicrOpay takes fixed amounts only, so when the bank group reads
Worknice (target_to_source or two_way) a Worknice split in percentages is converted against MicrOpay's standard net
pay (`two_way.as_fixed_amounts`, sync/bank.py). That is decided per employee, not per connection: one whose split
cannot be converted (no known pay, or a split that does not add up) is NOT_SYNCING with the reason, by the plan
(`Policy.cannot_sync`), and nothing is sent for them; everyone else syncs. Bank accounts flowing MicrOpay ->
Worknice need no conversion: payroll's fixed amounts overwrite a split they differ from.
"""

from __future__ import annotations

from hrsync.connectors.base import Connector, target_budget
from hrsync.connectors.micropay_ess import open_micropay
from hrsync.models.connection import Connection, Credentials
from hrsync.sync.groups import directions, integration_id
from hrsync.sync.merge import Direction
from hrsync.sync.plan import Policy
from hrsync.systems.http import RetryPolicy
from hrsync.systems.worknice import Worknice
from hrsync.two_way import bank_split_reason, read_both_sides, sync_data_groups

NAME = "micropay-worknice"
SOURCE = "MicrOpay"
TARGET = "Worknice"


def _target(connection: Connection, credentials: Credentials, policy: RetryPolicy) -> Worknice:
    return Worknice.connect(
        str(connection.target.base_url),
        credentials.target.api_key,
        policy,
        budget=target_budget(connection),
    )


def _policy(connection: Connection) -> Policy:
    chosen = directions(connection)  # 422 on PUT /connections for a direction the systems cannot support
    integration_id(connection)
    reads_worknice_bank = chosen["bank"] in (Direction.TARGET_TO_SOURCE, Direction.TWO_WAY)
    # The plan only links (no synced fields): every field is moved by the groups' step, one way or merged.
    return Policy(
        source_name=SOURCE,
        target_name=TARGET,
        required_fields=("code",),
        synced_fields=(),
        department_lookup=False,
        record_name="person",
        key_word="employee ID",
        creates=False,
        marks_leavers=False,
        cannot_sync=bank_split_reason if reads_worknice_bank else None,
    )


CONNECTOR = Connector(
    name=NAME,
    source_name=SOURCE,
    target_name=TARGET,
    open_source=open_micropay,
    open_target=_target,
    policy_for=_policy,
    read_run=read_both_sides,
    upload_run=sync_data_groups,
)
