"""HR or payroll -> the benefits platform (SCIM 2.0), one way, opt-in.

The source is chosen per connection (`source.system`, e.g. "staffology"). Who syncs: a new starter whose
create-benefits-record flag is on, or an employee HR selected (`POST /connections/{id}/syncs {employee_ids}`);
once linked an employee stays in the sync until they leave. The first sync links by email (case-insensitive):
one account -> linked, none -> created, more than one -> not syncing; after that the stored link (the account
id) is used whatever the email becomes. Names, email, payroll code (employeeNumber), department, cost centre,
benefits level and externalId (hrsync's employee id) are kept in step; leavers are deactivated, never deleted.
"""

from __future__ import annotations

from hrsync.connectors.base import Connector, target_budget
from hrsync.connectors.sources import source_option
from hrsync.models.connection import Connection, Credentials
from hrsync.sync.plan import MatchKey, Policy
from hrsync.systems.base import SourceSystem
from hrsync.systems.http import RetryPolicy
from hrsync.systems.scim import NAME as TARGET_NAME
from hrsync.systems.scim import ScimTarget

NAME = "hr-benefits"
SYNCED = ("first_name", "last_name", "email", "code", "department_code", "cost_centre", "benefits_level", "external_id")


def _source(connection: Connection, credentials: Credentials, policy: RetryPolicy) -> SourceSystem:
    return source_option(connection).open(connection, credentials, policy)


def _target(connection: Connection, credentials: Credentials, policy: RetryPolicy) -> ScimTarget:
    return ScimTarget.connect(
        str(connection.target.base_url),
        credentials.target.api_key,
        policy,
        budget=target_budget(connection),
    )


def _policy(connection: Connection) -> Policy:
    return Policy(
        source_name=source_option(connection).name,
        target_name=TARGET_NAME,
        required_fields=("first_name", "last_name", "email"),
        synced_fields=SYNCED,
        match_on=MatchKey.EMAIL,
        opt_in=True,
        department_lookup=False,  # a SCIM department is text on the account
        record_name="account",
    )


CONNECTOR = Connector(
    name=NAME,
    source_name="an HR or payroll system (per connection)",
    target_name=TARGET_NAME,
    open_source=_source,
    open_target=_target,
    policy_for=_policy,
)
